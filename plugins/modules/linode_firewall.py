#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: linode_firewall
short_description: Lock a Linode (Akamai) Cloud Firewall down during an attack and restore its exact rules afterwards
version_added: 0.1.0
description:
  - O(state=active) replaces the firewall's inbound rules by the O(allow) list (default TCP 22 from anywhere,
    so SSH stays reachable) and returns the previous rules as RV(snapshot).
  - O(state=inactive) with that snapshot puts back exactly the rules that were there (same rules, same order
    where the API keeps one, same policies). Without a snapshot it fails, unless O(on_withdraw=allow_all)
    asks for an open firewall explicitly.
  - Re-running O(state=active) while locked down is a no-op and never replaces the snapshot by the lockdown rules.
  - Linode's C(PUT .../rules) replaces inbound and outbound rules and both policies, so every change sends the
    current outbound rules and policy back unchanged. Lockdown sets C(inbound_policy) to C(DROP) and
    enables a disabled firewall; restore puts the old policy and status back. At most 25 rules.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.linode
  - ddos.scrubbing.common
  - ddos.scrubbing.lockdown
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.linode
options:
  firewall_id:
    description: The firewall's numeric ID (Network, Firewalls, the firewall; the ID is in the URL); a positive integer, checked before any call.
    type: int
    required: true
seealso:
  - module: ddos.scrubbing.linode_firewall_info
  - name: Setup guide
    description: docs/providers/linode_firewall.md and docs/lockdown.md in this collection.
    link: https://techdocs.akamai.com/cloud-computing/docs/cloud-firewall
"""

EXAMPLES = r"""
- name: Lock down, SSH and HTTPS from the office stay open
  ddos.scrubbing.linode_firewall:
    api_token: "{{ vault_linode_token }}"
    firewall_id: 10101
    allow:
      - {protocol: tcp, ports: "22", sources: ["0.0.0.0/0", "::/0"]}
      - {protocol: tcp, ports: "443", sources: ["198.51.100.0/24"]}
  register: lockdown

- name: Put the rules back exactly
  ddos.scrubbing.linode_firewall:
    api_token: "{{ vault_linode_token }}"
    firewall_id: 10101
    state: inactive
    snapshot: "{{ lockdown.snapshot }}"
"""

RETURN = r"""
active:
  description: Whether the firewall is locked down after the run.
  returned: success
  type: bool
before:
  description: The firewall's rules (and policies) before the run.
  returned: success
  type: dict
after:
  description: The firewall after the run (in check mode, the predicted one).
  returned: success
  type: dict
snapshot:
  description: The inbound rules (and policies) to restore on O(state=inactive).
  returned: success
  type: dict
api_calls:
  description: Number of HTTP calls sent.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.linode_firewall import LinodeFirewall


def main():
    run_module(LinodeFirewall)


if __name__ == "__main__":
    main()
