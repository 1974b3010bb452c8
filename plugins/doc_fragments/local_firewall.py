# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of local_firewall and local_firewall_info.
    DOCUMENTATION = r"""
options:
  table:
    description:
      - The nftables table of this integration, a family (V(inet), V(ip) or V(ip6)) and a name. It is ours alone,
        created on activation and deleted on withdrawal; a table of that name holding rules that are not ours is
        refused.
    type: str
    default: inet ddos_scrubbing
  targets:
    description:
      - The attacked addresses of this server (IPv4 or IPv6 addresses). In the C(ddos.scrubbing.incident) playbook
        the orchestrator fills it with the targets of the workspace's active incidents that are addresses of this
        server (C(scrubbing_addresses), else C(ansible_host)).
    type: list
    elements: str
    default: []
  drop:
    description:
      - Traffic to the targets to drop, after O(allow) and O(rate_limit).
      - An entry with neither O(drop[].ports) nor O(drop[].sources) and protocol V(any) drops everything to the
        targets except O(allow).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: V(tcp), V(udp), V(icmp) or V(any).
        type: str
        default: any
        choices: [tcp, udp, icmp, any]
      ports:
        description: Destination ports or ranges (V(53), V(1024-65535)), for V(tcp) or V(udp).
        type: list
        elements: str
        default: []
      sources:
        description: Source addresses or prefixes (default any source). Entries of the other IP family than a target are left out for it.
        type: list
        elements: str
        default: []
  rate_limit:
    description:
      - Traffic to the targets above O(rate_limit[].pps) packets per second is dropped (what stays below goes on to
        O(drop)).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: V(tcp), V(udp), V(icmp) or V(any).
        type: str
        default: any
        choices: [tcp, udp, icmp, any]
      ports:
        description: Destination ports or ranges, for V(tcp) or V(udp).
        type: list
        elements: str
        default: []
      pps:
        description: Packets per second allowed through.
        type: int
        required: true
  allow:
    description:
      - Traffic to the targets accepted before any drop, so management access is never cut. The default is TCP 22
        from anywhere, IPv4 and IPv6. Write anywhere as V([0.0.0.0/0, "::/0"]); an empty O(allow[].sources) is refused.
      - An accept here only ends this table's chain; the server's own firewall still applies.
    type: list
    elements: dict
    suboptions:
      protocol:
        description: V(tcp), V(udp), V(icmp) or V(any).
        type: str
        default: tcp
        choices: [tcp, udp, icmp, any]
      ports:
        description: Destination ports or ranges.
        type: list
        elements: str
        default: []
      sources:
        description: Source addresses or prefixes.
        type: list
        elements: str
        default: ["0.0.0.0/0", "::/0"]
  match_from_incident:
    description:
      - Also drop the incident's attack protocol, destination ports and sources (the incident's C(attack) details,
        passed by the orchestrator in O(target_attacks)). An attack with none of them adds nothing.
    type: bool
    default: false
  target_attacks:
    description:
      - Filled by the orchestrator, the attack details of the incidents per target. Leave it unset.
    type: dict
    default: {}
  nft_path:
    description: The nft executable (found on the PATH by default).
    type: str
    default: nft
"""
