#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bgp_flowspec
short_description: Filter attack traffic to each attacked address with a BGP FlowSpec rule
version_added: 0.2.0
description:
  - Announces one FlowSpec rule (RFC 8955; RFC 8956 for IPv6) per target through the BGP speaker,
    whose destination is the target (V(/32), V(/128)) plus O(match), with the action O(action) (V(discard), or
    V(rate_limit) to O(rate) bytes per second).
  - With O(match_from_incident), the incident's attack details fill in what O(match) leaves unset,
    its protocol, its destination ports, and what its attack family implies (for example V(syn_flood)
    is TCP with SYN, V(ntp_amplification) is UDP from source port 123). The operator's O(match) always wins.
  - Idempotent against the speaker's RIB, it reads the rules back, announces what is missing and
    withdraws only rules of ours (carrying O(marker)) inside O(owned_prefixes); rules someone else
    announced are never touched. A changed rule is announced before the old one is withdrawn.
  - O(state=inactive) withdraws every rule of ours inside O(owned_prefixes).
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.bgp
  - ddos.scrubbing.bgp.FLOWSPEC
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.bgp
notes:
  - The C(gobgp) CLI must be installed where the module runs (the controller); it talks to gobgpd's gRPC API.
  - The rate is carried as a 32-bit float (RFC 8955 traffic-rate), so large rates are rounded the way the router sees them.
  - O(api_url), O(retries) and O(wait_sleep) are accepted for a uniform interface; O(timeout) bounds each
    call to the speaker.
seealso:
  - module: ddos.scrubbing.bgp_flowspec_info
  - module: ddos.scrubbing.bgp_blackhole
  - name: Setup guide
    description: docs/providers/bgp.md in this collection.
    link: https://datatracker.ietf.org/doc/html/rfc8955
"""

EXAMPLES = r"""
- name: Drop DNS reflection towards an attacked address
  ddos.scrubbing.bgp_flowspec:
    speaker_address: 127.0.0.1:50051
    owned_prefixes: [203.0.113.0/24]
    targets: [203.0.113.10]
    match:
      protocols: [udp]
      source_ports: ["53"]

- name: Rate-limit UDP to 1 Mbit/s, protocol and ports taken from the incident
  ddos.scrubbing.bgp_flowspec:
    speaker_address: 127.0.0.1:50051
    owned_prefixes: [203.0.113.0/24]
    targets: [203.0.113.10]
    target_attacks: {"203.0.113.10": {"family": "udp_flood", "protocol": "udp", "ports": [27015]}}
    match_from_incident: true
    action: rate_limit
    rate: 125000
"""

RETURN = r"""
active:
  description: Whether a FlowSpec rule of ours is announced after the run.
  returned: success
  type: bool
before:
  description:
    - The speaker's rules of ours inside O(owned_prefixes) before the run (C(routes)), and the other
      rules there that are left alone (C(foreign)).
  returned: success
  type: dict
  sample: {"speaker": "gobgp", "speaker_address": "127.0.0.1:50051", "foreign": [],
           "routes": [{"key": "203.0.113.10/32 protocols=udp source_ports=53", "destination": "203.0.113.10/32",
                       "match": {"protocols": ["udp"], "source_ports": ["53"]}, "action": "discard", "rate": null,
                       "communities": []}]}
after:
  description: The same after the run (in check mode, the predicted rules).
  returned: success
  type: dict
snapshot:
  description: The speaker and marker; withdrawal removes every rule of ours, nothing else needs restoring.
  returned: success
  type: dict
api_calls:
  description: Number of calls made to the speaker.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_flowspec import BgpFlowspec


def main():
    run_module(BgpFlowspec)


if __name__ == "__main__":
    main()
