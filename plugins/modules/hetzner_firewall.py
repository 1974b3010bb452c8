#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hetzner_firewall
short_description: Switch a Hetzner Robot server firewall on or off, keeping its rules
version_added: 0.1.0
description:
  - Activates the stateless firewall of a Hetzner dedicated server (O(state=active)) and puts its
    status back afterwards (O(state=inactive) with the snapshot); a firewall that was already
    active before the incident stays active.
  - Robot replaces the whole firewall configuration on every write, so every write re-sends the
    current rules and flags unchanged; no rule is ever wiped.
  - The rules are yours, configured in Robot beforehand; this module only switches the firewall.
  - Robot takes 20-30 seconds to apply a change (status C(in process)); O(wait) waits for it and
    fails on timeout. A change asked while a previous one is in process waits for that first.
  - Activating a firewall without input rules is done but warned about, since Robot's implicit deny
    then drops all incoming traffic.
  - Invalid credentials are never retried (three failed logins block the caller's IP for ten
    minutes); Robot's rate-limit answer (403 C(RATE_LIMIT_EXCEEDED)) is retried.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.hetzner
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.hetzner
seealso:
  - module: ddos.scrubbing.hetzner_firewall_info
  - name: Setup guide
    description: docs/providers/hetzner_firewall.md in this collection.
    link: https://docs.hetzner.com/robot/dedicated-server/firewall/
"""

EXAMPLES = r"""
- name: Firewall on during the attack
  ddos.scrubbing.hetzner_firewall:
    robot_user: "#ws+AbCdEfGh"
    robot_password: "{{ vault_robot_password }}"
    server_number: 321
  register: fw

- name: Back as it was
  ddos.scrubbing.hetzner_firewall:
    robot_user: "#ws+AbCdEfGh"
    robot_password: "{{ vault_robot_password }}"
    server_number: 321
    state: inactive
    snapshot: "{{ fw.snapshot }}"
"""

RETURN = r"""
active:
  description: Whether the firewall is active after the run.
  returned: success
  type: bool
before:
  description: The firewall (status, flags and rules) before the run.
  returned: success
  type: dict
after:
  description: The firewall after the run (in check mode, the predicted one).
  returned: success
  type: dict
snapshot:
  description:
    - The status to put back on O(state=inactive), with the flags at activation for the record
      (withdrawal re-sends the rules and flags as they are then).
  returned: success
  type: dict
  sample: {"server_number": 321, "status": "disabled", "filter_ipv6": false, "whitelist_hos": true, "port": "main"}
api_calls:
  description: Number of HTTP calls sent to Robot.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.hetzner_firewall import HetznerFirewall


def main():
    run_module(HetznerFirewall)


if __name__ == "__main__":
    main()
