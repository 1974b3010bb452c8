#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: digitalocean_firewall_info
short_description: Test a DigitalOcean Cloud Firewall integration (the Test button)
version_added: 0.1.0
description:
  - Checks that the firewall exists and the credentials can read it, and whether they can write (it
    deletes a rule that cannot exist (a TEST-NET address on port 1), which a read-only token is refused),
    and warns when the firewall is attached to no Droplet and no tag.
  - Reports whether the firewall is locked down right now.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.digitalocean
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.lockdown
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.digitalocean
options:
  firewall_id:
    description: The firewall's ID (Networking, Firewalls, the firewall; the ID is in the URL); a UUID, checked before any call.
    type: str
    required: true
seealso:
  - module: ddos.scrubbing.digitalocean_firewall
"""

EXAMPLES = r"""
- name: Test the integration
  ddos.scrubbing.digitalocean_firewall_info:
    api_token: "{{ vault_do_token }}"
    firewall_id: bb4b2611-3d72-467b-8602-280330ecd65c
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
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.digitalocean_firewall import DigitalOceanFirewall


def main():
    run_info_module(DigitalOceanFirewall)


if __name__ == "__main__":
    main()
