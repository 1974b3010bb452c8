#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vultr_firewall_info
short_description: Test a Vultr firewall group integration (the Test button)
version_added: 0.1.0
description:
  - Checks that the firewall exists and the credentials can read it, whether they can write (it does not write, as Vultr API keys have no read-only variant),
    and warns when the group is attached to no instance.
  - Reports whether the firewall is locked down right now.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.vultr
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.lockdown
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.vultr
options:
  firewall_group_id:
    description: The firewall group's ID (Products, Firewall, the group; the ID is in the URL); a UUID, checked before any call.
    type: str
    required: true
seealso:
  - module: ddos.scrubbing.vultr_firewall
"""

EXAMPLES = r"""
- name: Test the integration
  ddos.scrubbing.vultr_firewall_info:
    api_key: "{{ vault_vultr_key }}"
    firewall_group_id: cb676a46-66fd-4dfb-b839-443f2e6c0b60
"""

RETURN = r"""
ok:
  description: Whether every check passed (warnings allowed).
  returned: always
  type: bool
msg:
  description: One-line summary, with the warnings.
  returned: always
  type: str
findings:
  description: One entry per check, with C(check), C(ok), C(level) and C(detail).
  returned: always
  type: list
  elements: dict
state:
  description: The firewall's rules and policies.
  returned: when the firewall was read
  type: dict
active:
  description: Whether the firewall is locked down now.
  returned: when the firewall was read
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.vultr_firewall import VultrFirewall


def main():
    run_info_module(VultrFirewall)


if __name__ == "__main__":
    main()
