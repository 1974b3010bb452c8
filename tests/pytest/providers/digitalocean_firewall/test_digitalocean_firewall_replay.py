# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DigitalOcean against responses recorded from, or published for, the real API
(``/work/shared/replay``: SDK test suites, vendor docs; none written here).

For every do-* entry of the manifest:
- the client reads the fixture right: served as recorded on 127.0.0.1, ``read()`` gives back
  every field the API returned (translated only where the API documents it: ports "0");
- a lockdown round trip over it (activate, then withdraw with the snapshot) on the simulator
  seeded with that very object restores every field the API returned.
Then, property-based: firewalls generated from the spec's response schema never break the client,
and lockdown then exact restore gives back every field of the spec's write request (PUT
/v2/firewalls/{id}), through the real module and over any mix of fields.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given

from ddos_sandbox.providers import digitalocean as do_sim
from providers.replay_support import (EXAMPLE, Firewall, RestoreCase, Values, assert_reads_only,
                                      assert_round_trip_restores, check_any_rule_set_comes_back,
                                      check_every_field_through_the_module, fixture_routes, fixtures_of, ids,
                                      last_body, new_provider, request_schema, response_schema, schema_strategy,
                                      served)
# The replay server fixture, used by name.
from providers.replay_support import replay  # noqa: F401  # pylint: disable=unused-import

from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.digitalocean_firewall import (
    DigitalOceanFirewall)

FIREWALL = Firewall(DigitalOceanFirewall, dict(api_token=do_sim.TOKEN_RW), "digitalocean")
FIXTURES = fixtures_of("digitalocean_firewall")


def test_the_manifest_has_fixtures_for_it():
    assert FIXTURES, "the manifest has no digitalocean_firewall fixture: this file would test nothing"


# -- every fixture is read right -----------------------------------------------------------------------------
@pytest.mark.parametrize("entry", FIXTURES, ids=ids(FIXTURES))
def test_client_reads_the_fixture_right(replay, entry):  # noqa: F811
    provider, routes = served(replay, FIREWALL, entry)
    state = provider.read()
    fw = last_body(routes, "GET")["firewall"]
    assert (state["id"], state["name"], state["droplet_ids"], state["tags"]) == (
        fw["id"], fw["name"], fw["droplet_ids"], fw["tags"])
    assert state["status"] == fw.get("status") and state["pending_changes"] == (fw.get("pending_changes") or [])
    for direction, key, side in (("inbound", "inbound_rules", "sources"), ("outbound", "outbound_rules",
                                                                           "destinations")):
        raw = fw.get(key) or []
        assert len(state[direction]) == len(raw), direction
        for got, want in zip(state[direction], raw):
            assert got["protocol"] == want["protocol"]
            assert got[side] == {k: v for k, v in (want.get(side) or {}).items() if v}
            if want["protocol"] == "icmp":
                assert "ports" not in got  # the API answers "0" and refuses any ports on ICMP
            else:  # REFERENCE §6: all ports come back as "0" and must be sent as "all"
                assert got["ports"] == ("all" if want["ports"] == "0" else want["ports"])
    # Waiting ends when the API says so: ``waiting``/pending changes wait, ``succeeded`` or an
    # answer without ``status`` at all (godo's update fixture) does not.
    done = fw.get("status") in (None, "succeeded") and not fw.get("pending_changes")
    assert provider.settled(state, {"inbound": state["inbound"]}) == done
    assert_reads_only(replay)


# -- a lockdown round trip over each fixture restores every field ----------------------------------------------
def seed(routes):
    """The simulator scenario holding exactly the object the fixture recorded, and its params."""
    fw = last_body(routes, "GET")["firewall"]
    return {"firewalls": [{k: fw[k] for k in ("id", "name", "created_at", "droplet_ids", "tags")} | {
        "inbound_rules": fw.get("inbound_rules") or [], "outbound_rules": fw.get("outbound_rules") or []}]}, {
        "firewall_id": fw["id"]}


def observed(sandbox, params):
    """Every field of the object the simulator holds."""
    fw = dict(sandbox.state()["digitalocean"]["firewalls"][params["firewall_id"]])
    for key, side in (("inbound_rules", "sources"), ("outbound_rules", "destinations")):
        # A rule without targets reads as {} or with the key absent (both recorded).
        fw[key] = [dict(r, **{side: r.get(side) or {}}) for r in fw[key]]
    return fw


@pytest.mark.parametrize("entry", FIXTURES, ids=ids(FIXTURES))
def test_lockdown_round_trip_restores_every_field(sandbox, entry):
    scenario, params = seed(fixture_routes(entry))
    sandbox.reset({FIREWALL.sim: scenario})
    before = observed(sandbox, params)
    assert_round_trip_restores(sandbox, FIREWALL, params, lambda: observed(sandbox, params), before)


# -- any response the spec allows ------------------------------------------------------------------------------
@EXAMPLE
@given(schema_strategy(response_schema("digitalocean.json", "/v2/firewalls/{firewall_id}")))
def test_digitalocean_survives_every_firewall_the_spec_allows(replay, body):  # noqa: F811
    fw_id = do_sim.FIREWALL
    fw = body.setdefault("firewall", {})
    fw["id"] = fw_id
    replay.load([{"method": "GET", "path": "/v2/firewalls/%s" % fw_id, "body": body}])
    state = new_provider(FIREWALL, replay.url, firewall_id=fw_id).read()
    assert len(state["inbound"]) == len(fw.get("inbound_rules") or [])
    assert len(state["outbound"]) == len(fw.get("outbound_rules") or [])
    assert state["droplet_ids"] == (fw.get("droplet_ids") or []) and state["tags"] == (fw.get("tags") or [])


# -- lockdown then exact restore of every field the spec's write knows -------------------------------------------
# PUT /v2/firewalls/{id} is the write that sets rules (and the whole firewall).
DO_SCHEMA = request_schema("digitalocean.json", "/v2/firewalls/{firewall_id}", "put")
DO_VALUES = Values("digitalocean", extra={"ports": ["8000-9000", "0"]},
                   fixed={"name": ["web-firewall"]})


def do_valid(fw):
    fw = copy.deepcopy(fw)
    for key in ("inbound_rules", "outbound_rules"):
        for rule in fw.get(key) or []:
            if rule["protocol"] == "icmp":
                rule["ports"] = "0"  # REFERENCE: ICMP always reads "0"; any ports are refused on input
    return fw


def do_seed(sandbox, fw):
    scenario = copy.deepcopy(do_sim.DEFAULT_SCENARIO)
    scenario["firewalls"] = [dict({"inbound_rules": [], "outbound_rules": [], "droplet_ids": [], "tags": []},
                                  **fw, id=do_sim.FIREWALL)]
    sandbox.reset({"digitalocean": scenario})


def do_observe(sandbox):
    fw = dict(sandbox.state()["digitalocean"]["firewalls"][do_sim.FIREWALL])
    return {k: v for k, v in fw.items() if k not in ("status", "pending_changes")}


CASE = RestoreCase("digitalocean", DigitalOceanFirewall, dict(api_token=do_sim.TOKEN_RW, firewall_id=do_sim.FIREWALL),
                   DO_VALUES.object(DO_SCHEMA).map(do_valid),
                   lambda: do_valid(DO_VALUES.every_field(DO_SCHEMA)), do_seed, do_observe)


def test_every_field_of_the_spec_comes_back_through_the_module(sandbox, module_runner):
    check_every_field_through_the_module(sandbox, module_runner, CASE)


def test_any_rule_set_the_spec_allows_comes_back(sandbox):
    check_any_rule_set_comes_back(sandbox, CASE)
