#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: local_firewall
short_description: Drop or rate-limit attack traffic on the attacked server itself, in an nftables table of its own
version_added: 0.3.0
description:
  - Runs on the protected server (over Ansible's connection, as root) and keeps one nftables table of its own,
    O(table), with one chain on the C(prerouting) hook at priority -300, before connection tracking, where
    dropping costs the least.
  - For each address in O(targets), in this order, the chain accepts O(allow) (default TCP 22 from anywhere,
    so SSH is never cut), drops what exceeds each O(rate_limit), and drops each O(drop) entry and, with
    O(match_from_incident), the incident's attack protocol, ports and sources.
  - An accept in this table only ends this table's chain; the server's own firewall still judges every packet,
    so this module can only ever remove traffic.
  - Nothing outside O(table) is ever touched. O(state=inactive) deletes exactly that table, so the ruleset
    afterwards is what it was before. A table of that name holding rules that are not ours is refused.
  - Idempotent, every rule carries a comment with its canonical key and the table is rewritten only when the
    keys differ, in one nftables transaction.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.local_firewall
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.local_firewall
notes:
  - Needs C(nft) (Debian package C(nftables)) and root or CAP_NET_ADMIN on the server (C(become=true)).
  - O(api_url) and O(retries) are accepted for a uniform interface and not used; O(timeout) bounds each nft call.
  - nftables tables do not survive a reboot; the reconcile playbook puts the table back while an incident is active.
seealso:
  - module: ddos.scrubbing.local_firewall_info
  - module: ddos.scrubbing.bgp_flowspec
"""

EXAMPLES = r"""
- name: Drop a UDP flood to an attacked address, SSH kept
  ddos.scrubbing.local_firewall:
    targets: [203.0.113.7]
    drop:
      - protocol: udp
  become: true

- name: Rate-limit DNS and drop two sources
  ddos.scrubbing.local_firewall:
    targets: [203.0.113.7, "2001:db8::7"]
    rate_limit:
      - protocol: udp
        ports: ["53"]
        pps: 5000
    drop:
      - sources: [198.51.100.0/24, "2001:db8:bad::/48"]
  become: true

- name: Withdraw (deletes exactly the table)
  ddos.scrubbing.local_firewall:
    state: inactive
  become: true
"""

RETURN = r"""
changed:
  description: Whether the table was written (or would be, in check mode).
  returned: always
  type: bool
active:
  description: Whether the table exists after the run.
  returned: always
  type: bool
before:
  description: The table before, C(present), C(rules) (the canonical key of each rule), C(chains), C(foreign).
  returned: always
  type: dict
after:
  description: The table after, read back from the kernel (predicted in check mode).
  returned: always
  type: dict
snapshot:
  description: What withdrawal restores, C(present=false), the table did not exist before.
  returned: when O(state=active)
  type: dict
diff:
  description: Before and after, with C(--diff).
  returned: in diff mode
  type: dict
api_calls:
  description: How many times nft was run.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.local_firewall import LocalFirewall


def main():
    run_module(LocalFirewall)


if __name__ == "__main__":
    main()
