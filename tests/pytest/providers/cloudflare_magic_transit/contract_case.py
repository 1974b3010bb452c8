# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloudflare Magic Transit in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case


def never_reported(sandbox):
    """The change's answer does not say the advertisement (every member is optional) and reads
    keep showing the old one: only then does ``wait`` read, and time out."""
    sim = sandbox.simulators["cloudflare"]
    sim.bare_answers, sim.apply_delay = True, 3600


CASE = Case("cloudflare_magic_transit", "cloudflare", lambda url: dict(
    api_url=url, api_token="sandbox-cf-token-rw", account_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    prefix_id="1f2e3d4c5b6a79880716253443526170"), ["api_token"], ("api_token", "cf-SECRET-rejected-0001"), 401,
    async_apply=never_reported)
