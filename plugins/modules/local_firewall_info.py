#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: local_firewall_info
short_description: Test the server's own firewall integration (nft, the table, the rules) without changing it
version_added: 0.3.0
description:
  - Checks that C(nft) runs on the server with the rights it needs, that O(table) is free or ours, that
    O(allow) keeps your access open, and, when O(targets) are given, that the kernel's nftables parser accepts
    the rules (C(nft --check)), without applying them.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.local_firewall
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.local_firewall
seealso:
  - module: ddos.scrubbing.local_firewall
"""

EXAMPLES = r"""
- name: Test the server's firewall integration
  ddos.scrubbing.local_firewall_info:
    targets: [203.0.113.7]
    drop:
      - protocol: udp
  become: true
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
  description: The table as read, C(present), C(rules), C(chains), C(foreign).
  returned: when nft could list the table
  type: dict
active:
  description: Whether the table exists now.
  returned: when nft could list the table
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.local_firewall import LocalFirewall


def main():
    run_info_module(LocalFirewall)


if __name__ == "__main__":
    main()
