#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_under_attack
short_description: Switch a Cloudflare zone to "I'm Under Attack" mode and back
version_added: 0.1.0
description:
  - Sets the zone's security level to V(under_attack) (O(state=active)); the returned snapshot keeps
    the level the zone had, and O(state=inactive) with that snapshot restores exactly that level.
  - A zone that was already V(under_attack) before the incident stays so after it.
  - The change is synchronous for the API; O(wait) re-reads the setting to confirm it.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.cloudflare
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.cloudflare
options:
  zone_id:
    description:
      - The Zone ID (32 hex characters, on the zone's Overview page). One of O(zone_id) and O(zone_name) is required.
    type: str
  zone_name:
    description:
      - The zone's domain name (for example V(example.com)), looked up to its ID.
    type: str
  restore_level:
    description:
      - The level O(state=inactive) sets when no O(snapshot) is given. Without it, withdrawing without a
        snapshot fails rather than guess what the zone had.
      - In YAML, quote V(off) (C("off")), or it is read as a boolean.
    type: str
    choices: ["off", essentially_off, low, medium, high]
seealso:
  - module: ddos.scrubbing.cloudflare_under_attack_info
  - name: Setup guide
    description: docs/providers/cloudflare_under_attack.md in this collection.
    link: https://developers.cloudflare.com/fundamentals/reference/under-attack-mode/
"""

EXAMPLES = r"""
- name: Under attack
  ddos.scrubbing.cloudflare_under_attack:
    api_token: "{{ vault_cloudflare_token }}"
    zone_name: example.com
  register: uam

- name: Attack over, back to the zone's own level
  ddos.scrubbing.cloudflare_under_attack:
    api_token: "{{ vault_cloudflare_token }}"
    zone_name: example.com
    state: inactive
    snapshot: "{{ uam.snapshot }}"
"""

RETURN = r"""
active:
  description: Whether the zone is in Under Attack mode after the run.
  returned: success
  type: bool
before:
  description: The zone's security level setting before the run.
  returned: success
  type: dict
  sample: {"zone_id": "5e6f708192a3b4c5d6e7f8091a2b3c4d", "security_level": "medium", "editable": true, "modified_on": null}
after:
  description: The setting after the run (in check mode, the predicted one).
  returned: success
  type: dict
snapshot:
  description: The level to restore on O(state=inactive).
  returned: success
  type: dict
  sample: {"zone_id": "5e6f708192a3b4c5d6e7f8091a2b3c4d", "security_level": "medium"}
api_calls:
  description: Number of HTTP calls sent to Cloudflare.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_under_attack import (
    CloudflareUnderAttack)


def main():
    run_module(CloudflareUnderAttack)


if __name__ == "__main__":
    main()
