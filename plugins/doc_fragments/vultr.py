# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The Vultr API key, shared by vultr_firewall and its Test module (module_defaults of the action
    # group then sets it once for both).
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - Vultr API key (Account, API). If it has an IP allow-list, the controller's address must be in it.
      - Falls back to E(VULTR_API_KEY).
    type: str
    required: true
"""
