#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hetzner_firewall_info
short_description: Test a Hetzner Robot firewall integration (the Test button)
version_added: 0.1.0
description:
  - Checks the Robot web-service login, finds the server, reports the firewall's status and rules,
    and warns when the firewall has no input rules (activation would then drop all incoming traffic).
  - Never writes.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.hetzner
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.hetzner
seealso:
  - module: ddos.scrubbing.hetzner_firewall
"""

EXAMPLES = r"""
- name: Test the Hetzner integration
  ddos.scrubbing.hetzner_firewall_info:
    robot_user: "#ws+AbCdEfGh"
    robot_password: "{{ vault_robot_password }}"
    server_ip: 192.0.2.10
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
  description: The firewall (status, flags, rules).
  returned: when the server was found
  type: dict
active:
  description: Whether the firewall is active now.
  returned: when the server was found
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.hetzner_firewall import HetznerFirewall


def main():
    run_info_module(HetznerFirewall)


if __name__ == "__main__":
    main()
