#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_under_attack_info
short_description: Test a Cloudflare Under Attack integration (the Test button)
version_added: 0.1.0
description:
  - Checks that the API token can read the zone (found by ID or name), reports the current
    security level and whether the zone's plan lets it be changed. Never writes.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.cloudflare
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.cloudflare
options:
  zone_id:
    description: The Zone ID. One of O(zone_id) and O(zone_name) is required.
    type: str
  zone_name:
    description: The zone's domain name.
    type: str
  restore_level:
    description: Accepted so the same options serve the module and its Test; not used here.
    type: str
    choices: ["off", essentially_off, low, medium, high]
seealso:
  - module: ddos.scrubbing.cloudflare_under_attack
"""

EXAMPLES = r"""
- name: Test the Under Attack integration
  ddos.scrubbing.cloudflare_under_attack_info:
    api_token: "{{ vault_cloudflare_token }}"
    zone_name: example.com
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
  description: The zone's security level setting.
  returned: when the zone was read
  type: dict
active:
  description: Whether the zone is in Under Attack mode now.
  returned: when the zone was read
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_under_attack import (
    CloudflareUnderAttack)


def main():
    run_info_module(CloudflareUnderAttack)


if __name__ == "__main__":
    main()
