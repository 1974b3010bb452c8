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
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.ovh
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.ovh
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
