# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""local_firewall in the contract (tests/pytest/contract/test_local_firewall_contract.py)."""

from __future__ import annotations

from contract.cases import LocalCase

CASE = LocalCase("local_firewall", {"targets": ["10.214.3.1"], "drop": [{"protocol": "udp"}]})
