# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVH in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case

CASE = Case("ovh_mitigation", "ovh", lambda url: dict(
    api_url=url, application_key="sandbox-ovh-app-key", application_secret="sandbox-ovh-app-secret",
    consumer_key="sandbox-ovh-consumer-key", ip="203.0.113.10", ip_block="203.0.113.0/24"),
    # REFERENCE 2.1: the application key and secret and the consumer key sign every call.
    ["application_key", "application_secret", "consumer_key"], ("consumer_key", "ovh-SECRET-rejected-0006"), 403)
