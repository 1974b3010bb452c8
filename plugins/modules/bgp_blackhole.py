#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bgp_blackhole
short_description: Blackhole attacked addresses with BGP (RTBH) through a BGP speaker
version_added: 0.2.0
description:
  - Announces a host route (V(/32), V(/128)) for each of O(targets) through the BGP speaker, with the
    discard next hop O(next_hop) (O(next_hop_ipv6)) that the border routers route to null, and the
    BLACKHOLE community V(65535:666) (RFC 7999) and NO_EXPORT by default.
  - Idempotent against the speaker's RIB, it reads what is announced, announces what is missing and
    withdraws only routes of ours (carrying O(marker)) inside O(owned_prefixes). A route someone else
    announced is never touched, and a target that already has one is left alone with a warning.
  - O(state=inactive) withdraws every route of ours inside O(owned_prefixes); nothing else is changed.
  - Blackholing drops all traffic to the target at your border, so the attack is completed for that
    address; in the C(ddos.scrubbing.incident) playbook a route exists only while an incident targets it.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.bgp
  - ddos.scrubbing.bgp.BLACKHOLE
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.bgp
notes:
  - The C(gobgp) CLI must be installed where the module runs (the controller); it talks to gobgpd's gRPC API.
  - O(api_url), O(retries) and O(wait_sleep) are accepted for a uniform interface; O(timeout) bounds each
    call to the speaker.
seealso:
  - module: ddos.scrubbing.bgp_blackhole_info
  - module: ddos.scrubbing.bgp_flowspec
  - name: Setup guide
    description: docs/providers/bgp.md in this collection.
    link: https://datatracker.ietf.org/doc/html/rfc7999
"""

EXAMPLES = r"""
- name: Blackhole an attacked address
  ddos.scrubbing.bgp_blackhole:
    speaker_address: 127.0.0.1:50051
    owned_prefixes: [203.0.113.0/24, "2001:db8::/32"]
    targets: [203.0.113.10]

- name: Attack over, withdraw every blackhole route of ours
  ddos.scrubbing.bgp_blackhole:
    speaker_address: 127.0.0.1:50051
    owned_prefixes: [203.0.113.0/24, "2001:db8::/32"]
    state: inactive
"""

RETURN = r"""
active:
  description: Whether a blackhole route of ours is announced after the run.
  returned: success
  type: bool
before:
  description:
    - The speaker's routes of ours inside O(owned_prefixes) before the run (C(routes)), and the other
      routes there that are left alone (C(foreign)).
  returned: success
  type: dict
  sample: {"speaker": "gobgp", "speaker_address": "127.0.0.1:50051", "foreign": [],
           "routes": [{"key": "203.0.113.10/32", "destination": "203.0.113.10/32", "next_hop": "192.0.2.1",
                       "communities": ["65535:65281", "65535:666"]}]}
after:
  description: The same after the run (in check mode, the predicted routes).
  returned: success
  type: dict
snapshot:
  description: The speaker and marker; withdrawal removes every route of ours, nothing else needs restoring.
  returned: success
  type: dict
api_calls:
  description: Number of calls made to the speaker.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_blackhole import BgpBlackhole


def main():
    run_module(BgpBlackhole)


if __name__ == "__main__":
    main()
