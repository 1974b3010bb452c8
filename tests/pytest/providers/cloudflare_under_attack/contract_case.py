# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloudflare Under Attack in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case

CASE = Case("cloudflare_under_attack", "cloudflare", lambda url: dict(
    api_url=url, api_token="sandbox-cf-token-rw", zone_name="example.test"),
    ["api_token"], ("api_token", "cf-SECRET-rejected-0002"), 401)
