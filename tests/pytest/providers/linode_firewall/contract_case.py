# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linode in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case

CASE = Case("linode_firewall", "linode", lambda url: dict(
    api_url=url, api_token="sandbox-linode-token-rw", firewall_id=10101,
    allow=[{"protocol": "tcp", "ports": "22", "sources": ["0.0.0.0/0", "::/0"]}]),
    ["api_token"], ("api_token", "linode-SECRET-rejected-0005"), 401)
