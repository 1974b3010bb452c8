# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linode against responses recorded from, or published for, the real API
(``/work/shared/replay``: SDK test suites, vendor docs, live cassettes; none written here).

For every linode-* entry of the manifest:
- the client reads the fixture right: served as recorded on 127.0.0.1, ``read()`` gives back
  every field the API returned;
- a lockdown round trip over it (activate, then withdraw with the snapshot) on the simulator
  seeded with that very object restores every field the API returned.
Then, property-based: firewalls generated from the spec's response schema never break the client,
and lockdown then exact restore gives back every field of the spec's write requests (the rules
and the firewall itself), through the real module and over any mix of fields.
"""

from __future__ import annotations

import copy
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddos_sandbox.providers import linode as linode_sim
from providers.replay_support import (EXAMPLE, VOLATILE, Firewall, RestoreCase, Values, assert_reads_only,
                                      assert_round_trip_restores, check_any_rule_set_comes_back,
                                      check_every_field_through_the_module, fixture_routes, fixtures_of, ids,
                                      last_body, new_provider, request_schema, response_schema, schema_strategy,
                                      served)
# The replay server fixture, used by name.
from providers.replay_support import replay  # noqa: F401  # pylint: disable=unused-import

from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.linode_firewall import LinodeFirewall

FIREWALL = Firewall(LinodeFirewall, dict(api_token=linode_sim.TOKEN_RW), "linode", api_prefix="/v4")
FIXTURES = fixtures_of("linode_firewall")


def test_the_manifest_has_fixtures_for_it():
    assert FIXTURES, "the manifest has no linode_firewall fixture: this file would test nothing"


# -- every fixture is read right -----------------------------------------------------------------------------
def _present(value):
    return value not in (None, "", [], {})


@pytest.mark.parametrize("entry", FIXTURES, ids=ids(FIXTURES))
def test_client_reads_the_fixture_right(replay, entry):  # noqa: F811
    provider, routes = served(replay, FIREWALL, entry)
    state = provider.read()
    fw = last_body(routes, "GET")
    rules = fw.get("rules") or {}
    assert (state["id"], state["label"], state["status"]) == (fw["id"], fw["label"], fw["status"])
    # a firewall answered without policies (the fixture of a disabled one) reads as None, not a default
    assert (state["inbound_policy"], state["outbound_policy"]) == (rules.get("inbound_policy"),
                                                                   rules.get("outbound_policy"))
    for direction in ("inbound", "outbound"):
        raw = rules.get(direction) or []
        assert len(state[direction]) == len(raw), direction
        for got, want in zip(state[direction], raw):
            # Every field the API returned, exactly as returned (addresses not rewritten).
            assert got == {k: v for k, v in want.items() if _present(v)}, (direction, got, want)
    assert_reads_only(replay)


# -- a lockdown round trip over each fixture restores every field ----------------------------------------------
def seed(routes):
    """The simulator scenario holding exactly the object the fixture recorded, and its params."""
    fw = last_body(routes, "GET")
    rules = {k: v for k, v in fw["rules"].items() if k in ("inbound", "inbound_policy", "outbound",
                                                           "outbound_policy")}
    return {"firewalls": [{"id": fw["id"], "label": fw["label"], "status": fw["status"], "tags": fw.get("tags", []),
                           "devices": [linode_sim.LINODE], "rules": rules}],
            "linodes": {str(linode_sim.LINODE): "web-1"}}, {"firewall_id": fw["id"]}


def observed(sandbox, params):
    """Every field of the object the simulator holds, less what a write legitimately changes."""
    fw = sandbox.state()["linode"]["firewalls"][params["firewall_id"]]
    rules = {k: v for k, v in fw["rules"].items() if k not in VOLATILE}
    # No outbound rules reads as null on the live API and as [] after any PUT (an array in the spec).
    rules["outbound"] = rules["outbound"] or []
    return dict({k: v for k, v in fw.items() if k not in VOLATILE}, rules=rules)


def api_normalised(rules):
    """REFERENCE §8: the API stores 1.2.3.4 as 1.2.3.4/32 and IPv6 compressed, lower case."""
    out = []
    for rule in rules or []:
        addresses = {family: [ipaddress.ip_interface(a).with_prefixlen for a in values]
                     for family, values in (rule.get("addresses") or {}).items()}
        out.append(dict(rule, addresses=addresses) if "addresses" in rule else rule)
    return out


@pytest.mark.parametrize("entry", FIXTURES, ids=ids(FIXTURES))
def test_lockdown_round_trip_restores_every_field(sandbox, entry):
    routes = fixture_routes(entry)
    scenario, params = seed(routes)
    sandbox.reset({FIREWALL.sim: scenario})
    before = observed(sandbox, params)
    raw = last_body(routes, "GET")["rules"]  # the seed is the recorded object, as the API stores it
    for direction in ("inbound", "outbound"):
        assert before["rules"][direction] == api_normalised(raw.get(direction)), direction
    assert_round_trip_restores(sandbox, FIREWALL, params, lambda: observed(sandbox, params), before)


# -- any response the spec allows ------------------------------------------------------------------------------
LINODE_FW = "/{apiVersion}/networking/firewalls/{firewallId}"


@EXAMPLE
@given(schema_strategy(response_schema("linode.json", LINODE_FW)), st.integers(1, 10 ** 6))
def test_linode_survives_every_firewall_the_spec_allows(replay, body, firewall_id):  # noqa: F811
    body["id"] = firewall_id  # the object asked for
    replay.load([{"method": "GET", "path": "/v4/networking/firewalls/%d" % firewall_id, "body": body}])
    state = new_provider(FIREWALL, replay.url + "/v4", firewall_id=firewall_id).read()
    rules = body.get("rules") or {}
    assert len(state["inbound"]) == len(rules.get("inbound") or [])
    assert len(state["outbound"]) == len(rules.get("outbound") or [])
    assert state["inbound_policy"] == rules.get("inbound_policy") and state["status"] == body.get("status")


# -- lockdown then exact restore of every field the spec's writes know -------------------------------------------
# PUT .../firewalls/{id}/rules sets the rules; PUT .../firewalls/{id} the firewall itself.
LINODE_SCHEMA = request_schema("linode.json", "/{apiVersion}/networking/firewalls/{firewallId}/rules", "put")
LINODE_FW_SCHEMA = request_schema("linode.json", "/{apiVersion}/networking/firewalls/{firewallId}", "put")
LINODE_VALUES = Values("linode", extra={"ports": ["22", "80, 443", "1000-2000"]},
                       fixed={"label": ["web-firewall", "firewallrule123", "rule-two"],
                              "ipv6": [["2001:db8::/32", "::/0"]]})


def linode_valid(fw):
    fw = copy.deepcopy(fw)
    for direction in ("inbound", "outbound"):
        for rule in fw["rules"].get(direction) or []:
            if rule["protocol"] in ("ICMP", "IPENCAP"):
                rule.pop("ports", None)  # REFERENCE: ports are refused for ICMP and IPENCAP
            if not rule["addresses"]:
                rule["addresses"] = {"ipv4": ["0.0.0.0/0"]}  # the API refuses a rule without addresses
    return fw


def linode_generate():
    return st.builds(lambda rules, fw: linode_valid(dict(fw, rules=rules)), LINODE_VALUES.object(LINODE_SCHEMA),
                     LINODE_VALUES.object(LINODE_FW_SCHEMA))


def linode_seed(sandbox, fw):
    scenario = copy.deepcopy(linode_sim.DEFAULT_SCENARIO)
    scenario["firewalls"] = [dict({"label": "web-firewall"}, **fw, id=linode_sim.FIREWALL,
                                  devices=[linode_sim.LINODE])]
    sandbox.reset({"linode": scenario})


def linode_observe(sandbox):
    fw = copy.deepcopy(sandbox.state()["linode"]["firewalls"][linode_sim.FIREWALL])
    for key in ("updated", "history"):
        fw.pop(key, None)
    for key in ("version", "fingerprint"):
        fw["rules"].pop(key, None)
    fw["rules"]["outbound"] = fw["rules"]["outbound"] or []  # null and [] both mean none (REFERENCE)
    return fw


CASE = RestoreCase("linode", LinodeFirewall, dict(api_token=linode_sim.TOKEN_RW, firewall_id=linode_sim.FIREWALL),
                   linode_generate(),
                   lambda: linode_valid(dict(LINODE_VALUES.every_field(LINODE_FW_SCHEMA),
                                             rules=LINODE_VALUES.every_field(LINODE_SCHEMA))),
                   linode_seed, linode_observe)


def test_every_field_of_the_spec_comes_back_through_the_module(sandbox, module_runner):
    check_every_field_through_the_module(sandbox, module_runner, CASE)


def test_any_rule_set_the_spec_allows_comes_back(sandbox):
    check_any_rule_set_comes_back(sandbox, CASE)
