#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_magic_transit_info
short_description: Test a Cloudflare Magic Transit integration (the Test button)
version_added: 0.1.0
description:
  - Checks that the API token is valid, lists how many prefixes the account has (ID and CIDR),
    finds the chosen prefix and its BGP prefix, and reports whether it is always-on (on-demand
    advertisement not enabled, so Cloudflare advertises it all the time; approved or still
    pending), else whether on-demand advertisement is locked and the prefix advertised now, and
    whether C(auto_advertise_withdraw) makes advertisement follow the Magic routing table.
  - Never writes. Fails when the integration could not be activated as configured.
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
  account_id:
    description:
      - The Cloudflare Account ID, not a Zone ID. Falls back to E(CLOUDFLARE_ACCOUNT_ID).
    type: str
    required: true
  prefix_id:
    description: ID of the IP prefix to check.
    type: str
    required: true
  bgp_prefix_id:
    description: ID of the BGP prefix inside O(prefix_id); discovered when not given.
    type: str
  advertisement_api:
    description: Which advertisement call the integration uses.
    type: str
    choices: [bgp_prefixes, bgp_status]
    default: bgp_prefixes
seealso:
  - module: ddos.scrubbing.cloudflare_magic_transit
"""

EXAMPLES = r"""
- name: Test the Magic Transit integration
  ddos.scrubbing.cloudflare_magic_transit_info:
    api_token: "{{ vault_cloudflare_token }}"
    account_id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9
    prefix_id: 1f2e3d4c5b6a79880716253443526170
  register: test

- name: Show what was found
  ansible.builtin.debug:
    msg: "{{ test.findings | map(attribute='detail') | list }}"
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
  description: One entry per check, with C(check), C(ok), C(level) (V(ok), V(warning) or V(error)) and C(detail).
  returned: always
  type: list
  elements: dict
state:
  description: The prefix's advertisement state, when it could be read.
  returned: when the prefix was found
  type: dict
active:
  description: Whether the prefix is protected now (advertised, or always-on and approved).
  returned: when the prefix was found
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_magic_transit import (
    CloudflareMagicTransit)


def main():
    run_info_module(CloudflareMagicTransit)


if __name__ == "__main__":
    main()
