# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloudflare Magic Transit against responses recorded from, or published for, the real API
(``/work/shared/replay``; none was written here), served verbatim by the sandbox on 127.0.0.1:
``read()``, ``is_active()``, ``snapshot()``, the Test and an activation must read them right.
Then property-based: prefixes and BGP prefixes generated from Cloudflare's OpenAPI schemas, with
every optional field absent or null in turn, never break the client.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ddos_sandbox.providers.cloudflare import ACCOUNT, BGP_PREFIX, PREFIX
from providers.replay_support import (EXAMPLE, Cloud, answered, cloud_replay_tests, cloudflare_client, fixtures_of,
                                      prepared, response_schema, schema_strategy, survives)

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import execute, plan_change
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_magic_transit import (
    CloudflareMagicTransit)


def with_test_listing(_sandbox, entry, routes):
    """The Test starts by listing the account's prefixes, which no fixture recorded: that list is
    the fixture's own prefix (or, for a BGP-prefix fixture, a prefix with its id and cidr) as a
    one-element list -- the same edit the manifest makes for list routes."""
    account = "/client/v4/accounts/%s/addressing/prefixes" % entry["params"]["account_id"]
    prefix_path = "%s/%s" % (account, entry["params"]["prefix_id"])
    recorded = [r for r in routes if r["method"] == "GET" and r["path"] == prefix_path]
    if recorded:
        prefix = recorded[0]["body"]["result"]
    else:
        bgp = next(r["body"]["result"] for r in routes if r["method"] == "GET")
        bgp = bgp[0] if isinstance(bgp, list) else bgp
        prefix = {"id": entry["params"]["prefix_id"], "cidr": bgp["cidr"]}
    listing = {"method": "GET", "path": account, "status": 200,
               "body": {"success": True, "errors": [], "messages": [], "result": [prefix]}}
    return routes + [listing]


CLOUD = Cloud(CloudflareMagicTransit, dict(api_token="sandbox-cf-token-rw"), "cloudflare", strip="/client/v4",
              prepare=with_test_listing)
FIXTURES = fixtures_of("cloudflare_magic_transit")

# What each fixture must read as: (fields of read()'s state, is_active, the writes an activation sends).
PREFIX_ADVERTISED = dict(advertised=True, on_demand_enabled=True, always_on=False, on_demand_locked=False,
                         cidr="192.0.2.0/24", bgp_prefix_id="7009ba364c7a5760798ceb430e603b74", bgp_signal=False,
                         auto_advertise_withdraw=True, advertised_modified_at="2014-01-01T05:20:00.12345Z")
EXPECTED = {
    "cf-prefix-ondemand-advertised": (dict(advertised=True, on_demand_enabled=True, always_on=False,
                                           cidr="10.1.2.3/24", approved="V", on_demand_locked=False,
                                           advertised_modified_at="2020-04-24T21:25:55.643771Z"), True, []),
    # REFERENCE §1: advertised null because on-demand is not enabled: always-on, but still pending approval.
    "cf-prefix-byoip-pending": (dict(advertised=None, advertised_modified_at=None, on_demand_enabled=False,
                                     always_on=True, approved="P", cidr="203.0.113.0/24"), False, []),
    "cf-bgp-prefix-reference": (PREFIX_ADVERTISED, True, []),
    "cf-bgp-prefix-reference-discover": (PREFIX_ADVERTISED, True, []),
}


(test_every_fixture_has_an_expectation, test_client_reads_the_fixture_right,
 test_activation_over_the_fixture) = cloud_replay_tests(CLOUD, FIXTURES, EXPECTED)


def test_recorded_withdrawal_answer_is_read(sandbox):
    """cf-prefix-ondemand-advertised also recorded the PATCH answer of a withdrawal."""
    entry = next(f for f in FIXTURES if f["id"] == "cf-prefix-ondemand-advertised")
    new, _replay, _routes = prepared(sandbox, CLOUD, entry)
    plan = plan_change(new(), "inactive")
    assert plan.changed
    execute(plan, wait=False)
    patches = [(w["path"].rsplit("/", 2)[-2:], w["body"]) for w in sandbox.requests(writes_only=True)]
    assert patches == [(["bgp", "status"], {"advertised": False})]


# -- any answer the spec allows ----------------------------------------------------------------------------
PREFIX_PATH = "/accounts/{account_id}/addressing/prefixes/{prefix_id}"


@EXAMPLE
@given(schema_strategy(response_schema("cloudflare.json", PREFIX_PATH)))
def test_magic_transit_survives_every_prefix_the_spec_allows(sandbox, body):
    answered(sandbox, "cloudflare", "/accounts/%s/addressing/prefixes/%s" % (ACCOUNT, PREFIX), body)
    provider = cloudflare_client(sandbox, CloudflareMagicTransit, account_id=ACCOUNT, prefix_id=PREFIX,
                                 advertisement_api="bgp_status")
    state = survives(provider.read)
    prefix = body.get("result") if isinstance(body.get("result"), dict) else {}
    if state is None:
        assert prefix.get("on_demand_enabled") is None and prefix.get("advertised") is None
        return
    assert state["always_on"] is (prefix.get("on_demand_enabled") is False)
    assert provider.is_active(state) is (prefix.get("advertised") is True if not state["always_on"]
                                         else prefix.get("approved") != "P")
    provider.describe(state)
    survives(lambda: provider.activation(state, provider.snapshot(state)))


@EXAMPLE
@given(schema_strategy(response_schema("cloudflare.json", PREFIX_PATH + "/bgp/prefixes/{bgp_prefix_id}")),
       st.sampled_from([None, True, False]))
def test_magic_transit_survives_every_bgp_prefix_the_spec_allows(sandbox, body, auto_withdraw):
    if auto_withdraw is not None and isinstance(body.get("result"), dict):
        body["result"]["auto_advertise_withdraw"] = auto_withdraw  # REFERENCE §1, newer than the 2024 spec
    answered(sandbox, "cloudflare", "/accounts/%s/addressing/prefixes/%s/bgp/prefixes/%s"
             % (ACCOUNT, PREFIX, BGP_PREFIX), body)
    provider = cloudflare_client(sandbox, CloudflareMagicTransit, account_id=ACCOUNT, prefix_id=PREFIX,
                                 bgp_prefix_id=BGP_PREFIX)
    state = survives(provider.read)
    if state is None:
        return
    result = body["result"] if isinstance(body.get("result"), dict) else {}
    on_demand = result.get("on_demand") or {}
    assert state["advertised"] is on_demand.get("advertised")
    assert state["auto_advertise_withdraw"] is (auto_withdraw if result else None)
    assert state["bgp_prefix_id"] == BGP_PREFIX
    provider.describe(state)
