# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DigitalOcean in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case

CASE = Case("digitalocean_firewall", "digitalocean", lambda url: dict(
    api_url=url, api_token="sandbox-do-token-rw", firewall_id="6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c"),
    ["api_token"], ("api_token", "do-SECRET-rejected-0003"), 401)
