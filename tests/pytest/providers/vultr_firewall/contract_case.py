# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vultr in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case

CASE = Case("vultr_firewall", "vultr", lambda url: dict(
    api_url=url, api_key="sandbox-vultr-key", firewall_group_id="cb676a46-66fd-4dfb-b839-443f2e6c0b60"),
    ["api_key"], ("api_key", "vultr-SECRET-rejected-0007"), 401)
