# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The lockdown options the DigitalOcean, Vultr and Linode modules share.
    DOCUMENTATION = r"""
options:
  allow:
    description:
      - What stays reachable during the lockdown; every other inbound rule is removed until withdrawal.
      - Default, when not given, TCP 22 from anywhere (IPv4 and IPv6), so SSH is never locked out.
      - An empty list is refused (it would block SSH too).
      - Activation and the Test check the provider's limits before any write (Linode 255 addresses per rule, an entry
        with more becomes several rules, and 25 rules in all; Vultr one rule per source within the group's
        max_rule_count).
    type: list
    elements: dict
    suboptions:
      protocol:
        description: The protocol.
        type: str
        choices: [tcp, udp, icmp]
        default: tcp
      ports:
        description:
          - A port (V(22)) or a range (V(8000-9000)); omitted means all ports. Not allowed for V(icmp).
          - An empty string is refused (leave it out for all ports).
        type: str
      sources:
        description:
          - Source addresses or CIDRs (each checked before any call).
          - An empty list is refused; from anywhere is V(["0.0.0.0/0", "::/0"]), the default.
        type: list
        elements: str
        default: ["0.0.0.0/0", "::/0"]
  on_withdraw:
    description:
      - V(restore) (default) puts back exactly the rules of the activation's C(snapshot); withdrawing without a snapshot fails.
      - V(allow_all) opens the firewall to all inbound traffic instead, when there is no snapshot; only on this
        explicit request.
    type: str
    choices: [restore, allow_all]
    default: restore
"""
