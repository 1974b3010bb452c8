# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vultr against responses recorded from, or published for, the real API
(``/work/shared/replay``: SDK test suites, vendor docs; none written here).

For every vultr-* entry of the manifest:
- the client reads the fixture right: served as recorded on 127.0.0.1, ``read()`` gives back
  every field the API returned;
- a lockdown round trip over it (activate, then withdraw with the snapshot) on the simulator
  seeded with that very object restores every field the API returned.
Then, property-based: groups and rule pages (chained by cursor) generated from the spec's
response schemas never break the client, and lockdown then exact restore gives back every field
of the spec's write request (POST /firewalls/{id}/rules), through the real module and over any
mix of fields.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddos_sandbox.providers import vultr as vultr_sim
from providers.replay_support import (EXAMPLE, VOLATILE, Firewall, RestoreCase, Values, assert_reads_only,
                                      assert_round_trip_restores, check_any_rule_set_comes_back,
                                      check_every_field_through_the_module, fixture_routes, fixtures_of, ids,
                                      last_body, new_provider, request_schema, response_schema, schema_strategy,
                                      served)
# The replay server fixture, used by name.
from providers.replay_support import replay  # noqa: F401  # pylint: disable=unused-import

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.vultr_firewall import VultrFirewall

FIREWALL = Firewall(VultrFirewall, dict(api_key=vultr_sim.KEY), "vultr", api_prefix="/v2")
FIXTURES = fixtures_of("vultr_firewall")
RULE_FIELDS = ("ip_type", "protocol", "subnet", "subnet_size", "port", "source", "notes")


def test_the_manifest_has_fixtures_for_it():
    assert FIXTURES, "the manifest has no vultr_firewall fixture: this file would test nothing"


# -- every fixture is read right -----------------------------------------------------------------------------
@pytest.mark.parametrize("entry", FIXTURES, ids=ids(FIXTURES))
def test_client_reads_the_fixture_right(replay, entry):  # noqa: F811
    provider, routes = served(replay, FIREWALL, entry)
    state = provider.read()
    group = last_body(routes, "GET", entry["params"]["firewall_group_id"])["firewall_group"]
    raw = last_body(routes, "GET", "/rules")["firewall_rules"]
    assert (state["id"], state["instance_count"], state["max_rule_count"]) == (
        group["id"], group["instance_count"], group["max_rule_count"])
    assert state["rule_ids"] == [r["id"] for r in raw]
    for got, want in zip(state["inbound"], raw):
        assert {k: got[k] for k in RULE_FIELDS} == {k: want[k] for k in RULE_FIELDS}
    assert len(state["inbound"]) == len(raw)
    assert_reads_only(replay)


# -- a lockdown round trip over each fixture restores every field ----------------------------------------------
def seed(entry, routes):
    """The simulator scenario holding exactly the object the fixture recorded, and its params."""
    group_id = entry["params"]["firewall_group_id"]
    group = last_body(routes, "GET", group_id)["firewall_group"]
    raw = last_body(routes, "GET", "/rules")["firewall_rules"]
    return {"groups": [{"id": group["id"], "description": group["description"],
                        "date_created": group["date_created"], "instance_count": group["instance_count"],
                        "max_rule_count": group["max_rule_count"],
                        "rules": [{k: r[k] for k in ("ip_type", "protocol", "port", "subnet", "subnet_size",
                                                     "source", "notes")} for r in raw]}]}, {
        "firewall_group_id": group_id}


def observed(sandbox, params):
    """Every field of the group the simulator holds, less what a write legitimately changes."""
    group = dict(sandbox.state()["vultr"]["firewall_groups"][params["firewall_group_id"]])
    # Rules carry no order and new ids on re-create: their content is what must come back.
    group["rules"] = sorted((tuple(sorted((k, v) for k, v in r.items() if k != "id")) for r in group["rules"]))
    return {k: v for k, v in group.items() if k not in VOLATILE}


@pytest.mark.parametrize("entry", FIXTURES, ids=ids(FIXTURES))
def test_lockdown_round_trip_restores_every_field(sandbox, entry):
    scenario, params = seed(entry, fixture_routes(entry))
    sandbox.reset({FIREWALL.sim: scenario})
    before = observed(sandbox, params)
    assert_round_trip_restores(sandbox, FIREWALL, params, lambda: observed(sandbox, params), before)


# -- any response the spec allows ------------------------------------------------------------------------------
VULTR_RULES = response_schema("vultr.json", "/firewalls/{firewall-group-id}/rules")


@EXAMPLE
@given(schema_strategy(response_schema("vultr.json", "/firewalls/{firewall-group-id}")),
       st.lists(schema_strategy(VULTR_RULES), min_size=1, max_size=4))
def test_vultr_survives_every_group_and_rule_page_the_spec_allows(replay, group_body, pages):  # noqa: F811
    group_id = vultr_sim.GROUP
    group_body.setdefault("firewall_group", {})["id"] = group_id
    base = "/v2/firewalls/%s" % group_id
    routes = [{"method": "GET", "path": base, "body": group_body}]
    # Chain the pages by cursor: every page but the last names the next; the last says "" or nothing.
    for number, page in enumerate(pages):
        if number + 1 < len(pages):
            meta = page["meta"] = dict(page.get("meta") or {})
            meta["links"] = dict(meta.get("links") or {}, next="page-%d" % (number + 1))
        elif (page.get("meta") or {}).get("links"):
            page["meta"]["links"]["next"] = ""  # the last page: "" (or no links at all)
        for rule in page.get("firewall_rules") or []:
            rule.setdefault("id", number)
    routes.append({"method": "GET", "path": base + "/rules", "bodies": pages})
    replay.load(routes)
    state = new_provider(FIREWALL, replay.url + "/v2", firewall_group_id=group_id).read()
    assert len(state["inbound"]) == sum(len(p.get("firewall_rules") or []) for p in pages)
    cursors = [(r["query"].get("cursor") or [None])[0] for r in replay.log if r["path"].endswith("/rules")]
    assert cursors == [None] + ["page-%d" % n for n in range(1, len(pages))]


def test_vultr_stops_on_a_cursor_that_comes_back(replay):  # noqa: F811
    group_id = vultr_sim.GROUP
    rule = {"id": 1, "ip_type": "v4", "protocol": "tcp", "port": "22", "subnet": "0.0.0.0", "subnet_size": 0,
            "source": "", "notes": ""}
    page = {"firewall_rules": [rule], "meta": {"total": 2, "links": {"next": "bmV4dF9fMQ==", "prev": ""}}}
    replay.load([{"method": "GET", "path": "/v2/firewalls/%s" % group_id,
                  "body": {"firewall_group": {"id": group_id, "instance_count": 1, "max_rule_count": 50}}},
                 {"method": "GET", "path": "/v2/firewalls/%s/rules" % group_id, "body": page}])
    with pytest.raises(ProviderError, match="answered the cursor 'bmV4dF9fMQ==' twice"):
        new_provider(FIREWALL, replay.url + "/v2", firewall_group_id=group_id).read()
    assert len(replay.log) <= 4


# -- lockdown then exact restore of every field the spec's write knows -------------------------------------------
# POST /firewalls/{id}/rules adds one (inbound) rule; rules carry no order and get new ids.
VULTR_SCHEMA = request_schema("vultr.json", "/firewalls/{firewall-group-id}/rules", "post")
VULTR_VALUES = Values("vultr", extra={"port": ["22", "8000:8999"], "source": ["cloudflare"],
                                      "notes": ["office ssh", ""]},
                      fixed={"ip_type": ["v4", "v6"], "protocol": ["tcp", "udp", "icmp", "gre"]})


def vultr_valid(rule):
    rule = dict(rule)
    v6 = rule["ip_type"] == "v6"
    rule["subnet"], rule["subnet_size"] = ("2001:db8::", 32) if v6 else ("192.0.2.0", 24)
    if rule.get("source") == "cloudflare":
        rule["subnet"], rule["subnet_size"] = ("::", 0) if v6 else ("0.0.0.0", 0)
    if rule["protocol"] not in ("tcp", "udp"):
        rule["port"] = ""
    return rule


def vultr_generate():
    # Vultr refuses a second rule with the same content whatever its notes (REFERENCE).
    same = ("ip_type", "protocol", "subnet", "port", "source")
    return st.lists(VULTR_VALUES.object(VULTR_SCHEMA).map(vultr_valid), max_size=6,
                    unique_by=lambda r: tuple(r.get(k) or "" for k in same))


def vultr_seed(sandbox, rules):
    scenario = copy.deepcopy(vultr_sim.DEFAULT_SCENARIO)
    scenario["groups"][0]["rules"] = rules
    sandbox.reset({"vultr": scenario})


def vultr_observe(sandbox):
    group = dict(sandbox.state()["vultr"]["firewall_groups"][vultr_sim.GROUP])
    group.pop("date_modified", None)
    group["rules"] = sorted(json.dumps({k: v for k, v in r.items() if k != "id"}, sort_keys=True)
                            for r in group["rules"])
    return group


CASE = RestoreCase("vultr", VultrFirewall, dict(api_key=vultr_sim.KEY, firewall_group_id=vultr_sim.GROUP),
                   vultr_generate(),
                   lambda: [vultr_valid(VULTR_VALUES.every_field(VULTR_SCHEMA, i)) for i in range(2)],
                   vultr_seed, vultr_observe)


def test_every_field_of_the_spec_comes_back_through_the_module(sandbox, module_runner):
    check_every_field_through_the_module(sandbox, module_runner, CASE)


def test_any_rule_set_the_spec_allows_comes_back(sandbox):
    check_any_rule_set_comes_back(sandbox, CASE)
