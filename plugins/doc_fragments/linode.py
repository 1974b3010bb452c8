# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The Linode API token, shared by linode_firewall and its Test module (module_defaults of the action
    # group then sets it once for both).
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Personal access token with the Firewalls scope set to Read/Write.
      - Falls back to E(LINODE_API_TOKEN), then E(LINODE_TOKEN).
    type: str
    required: true
"""
