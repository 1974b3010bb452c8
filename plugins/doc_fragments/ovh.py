# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # OVH credentials, the IP and the mode, shared by ovh_mitigation and its Test module.
    DOCUMENTATION = r"""
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
    description:
      - The OVH IP block that contains O(ip) (for example V(203.0.113.0/24)).
      - When not given, it is discovered with C(GET /ip?ip=) (the consumer key then needs the access rule
        C(GET /ip)); when several blocks contain O(ip) the most specific is used, with a warning naming it.
    type: str
  mode:
    description:
      - V(edge_firewall) switches the Edge Network Firewall; V(permanent_mitigation) uses the calls OVH retired.
    type: str
    default: edge_firewall
    choices: [edge_firewall, permanent_mitigation]
requirements:
  - ovh (python-ovh)
"""
