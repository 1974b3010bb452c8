# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The DigitalOcean API token, shared by digitalocean_firewall and its Test module (module_defaults of the action
    # group then sets it once for both).
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Personal access token with C(firewall:read) and C(firewall:update) (plus C(droplet:read) and C(tag:read)
        when Droplets or tags are attached).
      - Falls back to E(DIGITALOCEAN_ACCESS_TOKEN), E(DIGITALOCEAN_TOKEN), then E(DO_API_TOKEN).
    type: str
    required: true
"""
