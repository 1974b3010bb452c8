# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP FlowSpec in the contract (tests/pytest/contract/test_bgp_contract.py): its rules land in
BIRD's flowtab4 table."""

from __future__ import annotations

from contract.cases import BgpCase

CASE = BgpCase("bgp_flowspec", "flowtab4", {"match": {"protocols": ["udp"]}})
