#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovh_mitigation_info
short_description: Test an OVHcloud integration (the Test button)
version_added: 0.1.0
description:
  - Reads C(/auth/currentCredential) and reports exactly which access rules (method and path) the
    consumer key lacks for the chosen mode, the commonest setup mistake.
  - Then reports the IP's Edge Network Firewall (exists, enabled, how many rules) or its
    permanent-mitigation state. Never writes.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.ovh
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.ovh
seealso:
  - module: ddos.scrubbing.ovh_mitigation
"""

EXAMPLES = r"""
- name: Test the OVH integration
  ddos.scrubbing.ovh_mitigation_info:
    application_key: "{{ vault_ovh_application_key }}"
    application_secret: "{{ vault_ovh_application_secret }}"
    consumer_key: "{{ vault_ovh_consumer_key }}"
    ip: 203.0.113.10
    ip_block: 203.0.113.0/24
"""

RETURN = r"""
ok:
  description: Whether every check passed (warnings allowed).
  returned: always
  type: bool
msg:
  description: One-line summary; names the missing access rules.
  returned: always
  type: str
findings:
  description: One entry per check, with C(check), C(ok), C(level) and C(detail).
  returned: always
  type: list
  elements: dict
state:
  description: The IP's firewall or mitigation state.
  returned: when the credentials allow reading it
  type: dict
active:
  description: Whether protection is on now.
  returned: when the credentials allow reading it
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.ovh_mitigation import OvhMitigation


def main():
    run_info_module(OvhMitigation)


if __name__ == "__main__":
    main()
