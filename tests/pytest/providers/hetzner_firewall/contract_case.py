# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hetzner Robot in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case


def never_done(sandbox):
    # Robot answers the POST "in process" and stays so while apply_delay runs (REFERENCE.md).
    sandbox.simulators["hetzner"].apply_delay = 3600


CASE = Case("hetzner_firewall", "hetzner", lambda url: dict(
    api_url=url, robot_user="#ws+sandbox", robot_password="sandbox-robot-password", server_number=321),
    ["robot_password"], ("robot_password", "robot-SECRET-rejected-0004"), 401, async_apply=never_done)
