# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The Cloudflare credential, shared by the Cloudflare modules and their Test modules.
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Cloudflare API token (My Profile, API Tokens; not the Global API Key). The permissions it
        needs are listed in each module's setup guide.
      - Falls back to the E(CLOUDFLARE_API_TOKEN), then E(CF_API_TOKEN) environment variable.
    type: str
    required: true
"""
