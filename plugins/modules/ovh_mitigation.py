#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovh_mitigation
short_description: Enable an OVHcloud IP's Edge Network Firewall during an attack, and restore it
version_added: 0.1.0
description:
  - With the default O(mode=edge_firewall), enables the Edge Network Firewall of O(ip)
    (creating its firewall object when absent) on O(state=active), and puts its previous
    enabled/disabled state back on O(state=inactive) with the snapshot. The firewall object is
    never deleted, and the rules are never touched; they are yours, configured beforehand.
  - OVH retired the permanent-mitigation option on 2025-09-08; its calls still answer but protect
    nothing. O(mode=permanent_mitigation) keeps them (add the IP to permanent mitigation, remove it
    to return to automatic mode) for accounts that still want them, with a warning.
  - Requests are signed with the official python-ovh library. The IP block's C(/) is percent-encoded.
  - O(wait) waits out C(enableFirewallPending) / C(disableFirewallPending) and fails on timeout.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
requirements:
  - ovh (python-ovh)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
  action_group:
    membership:
      - ddos.scrubbing.ovh
options:
  endpoint:
    description:
      - The OVH API the account lives on. Falls back to E(OVH_ENDPOINT).
      - O(api_url), when set, overrides it (the sandbox).
    type: str
    default: ovh-eu
    choices: [ovh-eu, ovh-ca, ovh-us, kimsufi-eu, kimsufi-ca, soyoustart-eu, soyoustart-ca]
  application_key:
    description: OVH application key. Falls back to E(OVH_APPLICATION_KEY).
    type: str
    required: true
  application_secret:
    description: OVH application secret. Falls back to E(OVH_APPLICATION_SECRET).
    type: str
    required: true
  consumer_key:
    description:
      - Validated consumer key with the access rules the mode needs (the Test module lists any that are missing).
      - Falls back to E(OVH_CONSUMER_KEY).
    type: str
    required: true
  ip:
    description: The IPv4 address to protect.
    type: str
    required: true
  ip_block:
    description: The OVH IP block that contains O(ip) (for example V(203.0.113.0/24)); defaults to O(ip) as a /32.
    type: str
  mode:
    description:
      - V(edge_firewall) switches the Edge Network Firewall; V(permanent_mitigation) uses the retired calls.
    type: str
    default: edge_firewall
    choices: [edge_firewall, permanent_mitigation]
seealso:
  - module: ddos.scrubbing.ovh_mitigation_info
  - name: Setup guide
    description: docs/providers/ovh_mitigation.md in this collection.
    link: https://help.ovhcloud.com/csm/en-ie-dedicated-servers-firewall-network?id=kb_article_view&sysparm_article=KB0043444
"""

EXAMPLES = r"""
- name: Edge Network Firewall on
  ddos.scrubbing.ovh_mitigation:
    endpoint: ovh-eu
    application_key: "{{ vault_ovh_application_key }}"
    application_secret: "{{ vault_ovh_application_secret }}"
    consumer_key: "{{ vault_ovh_consumer_key }}"
    ip: 203.0.113.10
    ip_block: 203.0.113.0/24
  register: ovh_fw

- name: Back as it was
  ddos.scrubbing.ovh_mitigation:
    application_key: "{{ vault_ovh_application_key }}"
    application_secret: "{{ vault_ovh_application_secret }}"
    consumer_key: "{{ vault_ovh_consumer_key }}"
    ip: 203.0.113.10
    ip_block: 203.0.113.0/24
    state: inactive
    snapshot: "{{ ovh_fw.snapshot }}"
"""

RETURN = r"""
active:
  description: Whether the firewall (or permanent mitigation) is on after the run.
  returned: success
  type: bool
before:
  description: The state before the run (C(exists), C(enabled), C(state)).
  returned: success
  type: dict
after:
  description: The state after the run (in check mode, the predicted one).
  returned: success
  type: dict
snapshot:
  description: What O(state=inactive) needs to put the IP back as it was.
  returned: success
  type: dict
  sample: {"mode": "edge_firewall", "ip": "203.0.113.10", "ip_block": "203.0.113.0/24", "exists": false, "enabled": false}
api_calls:
  description: Number of calls sent to OVH.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.ovh_mitigation import OvhMitigation


def main():
    run_module(OvhMitigation)


if __name__ == "__main__":
    main()
