# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The speaker and the per-target options shared by bgp_blackhole, bgp_flowspec and their Test modules.
    DOCUMENTATION = r"""
options:
  targets:
    description:
      - The attacked addresses that must have a route now (IPv4 or IPv6 addresses, not prefixes).
      - In the C(ddos.scrubbing.incident) playbook the orchestrator fills it with the targets of the
        workspace's active incidents that fall inside O(owned_prefixes). Set it yourself for standalone use.
      - With O(state=active), exactly these targets have a route of ours afterwards; routes of ours for
        other targets are withdrawn. An empty list withdraws all of ours.
    type: list
    elements: str
    default: []
  owned_prefixes:
    description:
      - The prefixes of your own network. A target outside them is refused before any announcement, so
        a bad incident can never blackhole or filter someone else's address.
      - Only routes of ours inside these prefixes are read and withdrawn.
    type: list
    elements: str
    required: true
  max_routes:
    description:
      - The most routes this integration may announce. More targets than this are refused (nothing is
        announced), which stops a storm of bogus targets from a broken detector feed.
    type: int
    default: 64
  speaker:
    description:
      - The BGP speaker that announces the routes to your border routers. V(gobgp) is driven through
        its C(gobgp) CLI (installed with the Debian package C(gobgpd)) on the controller.
    type: str
    choices: [gobgp]
    default: gobgp
  speaker_address:
    description:
      - HOST:PORT of the speaker's API (gobgpd's gRPC API, its C(--api-hosts); not its BGP port).
    type: str
    default: 127.0.0.1:50051
  marker:
    description:
      - The BGP large community every route of ours carries. Only routes carrying it are ever
        withdrawn, so routes someone else announced through the same speaker are never touched.
      - The default uses a private-use ASN (RFC 6996). Keep it unless two independent installations
        of this collection share one speaker.
    type: str
    default: "4200000000:666:0"
  target_attacks:
    description:
      - The incident's attack details per target (C({target: {family, protocol, ports, sources}})),
        filled by the orchestrator. Only M(ddos.scrubbing.bgp_flowspec) reads it, when its
        C(match_from_incident) is set.
    type: dict
    default: {}
"""
