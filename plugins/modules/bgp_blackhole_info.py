#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bgp_blackhole_info
short_description: Test a BGP blackhole (RTBH) integration (the Test button)
version_added: 0.2.0
description:
  - Checks that the BGP speaker answers, how many of its BGP sessions are established, lists the
    blackhole routes of ours inside O(owned_prefixes) and the other routes there, and that O(targets)
    (when given) are inside O(owned_prefixes). Never announces or withdraws anything.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.bgp
  - ddos.scrubbing.bgp.BLACKHOLE
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.bgp
seealso:
  - module: ddos.scrubbing.bgp_blackhole
"""

EXAMPLES = r"""
- name: Test the RTBH integration
  ddos.scrubbing.bgp_blackhole_info:
    speaker_address: 127.0.0.1:50051
    owned_prefixes: [203.0.113.0/24]
"""

RETURN = r"""
ok:
  description: Whether every check passed (warnings allowed).
  returned: always
  type: bool
msg:
  description: One-line summary.
  returned: always
  type: str
findings:
  description: One entry per check, with C(check), C(ok), C(level) and C(detail).
  returned: always
  type: list
  elements: dict
state:
  description: The routes of ours (C(routes)) and the other routes inside O(owned_prefixes) (C(foreign)).
  returned: when the speaker was read
  type: dict
active:
  description: Whether a blackhole route of ours is announced now.
  returned: when the speaker was read
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_blackhole import BgpBlackhole


def main():
    run_info_module(BgpBlackhole)


if __name__ == "__main__":
    main()
