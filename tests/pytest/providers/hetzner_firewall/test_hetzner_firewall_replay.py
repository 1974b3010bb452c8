# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hetzner Robot against responses recorded from, or published for, the real API
(``/work/shared/replay``: SDK test suites, vendor docs; none written here).

For every hetzner-* entry of the manifest:
- the client reads the fixture right: served as recorded on 127.0.0.1, ``read()`` gives back
  every field the API returned;
- a round trip over it (activate, then withdraw with the snapshot) on the simulator seeded with
  that very object restores every field the API returned.
Then, property-based: any firewall answer Robot documents (it publishes no machine-readable spec)
reads and is re-sent unchanged, and activation then exact restore gives back every rule field
REFERENCE.md section 3 documents, through the real module and over any mix of fields.
"""

from __future__ import annotations

import copy
import json
import os
import re
from urllib.parse import parse_qs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddos_sandbox.providers import hetzner as hetzner_sim
from providers.replay_support import (EXAMPLE, Firewall, RestoreCase, Values, assert_reads_only,
                                      assert_round_trip_restores, check_any_rule_set_comes_back,
                                      check_every_field_through_the_module, fixture_routes, fixtures_of, ids,
                                      last_body, new_provider, run, served)
# The replay server fixture, used by name.
from providers.replay_support import replay  # noqa: F401  # pylint: disable=unused-import

from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.hetzner_firewall import HetznerFirewall

CREDENTIALS = dict(robot_user="#ws+sandbox", robot_password="sandbox-robot-password")
# Activation turns the customer's own rules on: no lockdown rules, no SSH rule to keep.
FIREWALL = Firewall(HetznerFirewall, CREDENTIALS, "hetzner", lockdown=False)
FIXTURES = fixtures_of("hetzner_firewall")
REFERENCE = os.path.join(os.environ.get("DDOS_PROVIDER_APIS", "/work/shared/provider-apis"), "REFERENCE.md")


def test_the_manifest_has_fixtures_for_it():
    assert FIXTURES, "the manifest has no hetzner_firewall fixture: this file would test nothing"


# -- every fixture is read right -----------------------------------------------------------------------------
@pytest.mark.parametrize("entry", FIXTURES, ids=ids(FIXTURES))
def test_client_reads_the_fixture_right(replay, entry):  # noqa: F811
    provider, routes = served(replay, FIREWALL, entry)
    if entry["id"] == "hetzner-server-list":
        # Lookup only: the main IP gives the server number (the cancelled server too).
        servers = last_body(routes, "GET")
        wanted = [s["server"] for s in servers if s["server"]["server_ip"] == entry["params"]["server_ip"]][0]
        assert provider.server_number() == wanted["server_number"]
        return
    if any("bodies" in r for r in routes):
        # Robot answers 'in process' first: the snapshot waits it out (reads only) and then
        # holds what the firewall became; nothing is written for a firewall already active.
        result = run(provider, "active")
        fw = last_body(routes, "GET")["firewall"]
        assert result["snapshot"]["status"] == fw["status"] == "active"
        assert result["snapshot"]["filter_ipv6"] == fw["filter_ipv6"]
        assert len(replay.log) >= len(routes[0]["bodies"]) and all(r["method"] == "GET" for r in replay.log)
    state = provider.read()
    fw = last_body(routes, "GET")["firewall"]
    rules = fw.get("rules") or {}
    assert state == {"server_number": fw["server_number"], "server_ip": fw["server_ip"], "status": fw["status"],
                     "filter_ipv6": fw["filter_ipv6"], "whitelist_hos": fw["whitelist_hos"], "port": fw["port"],
                     "rules": {d: rules.get(d) or [] for d in ("input", "output")}}
    assert_reads_only(replay)


# -- a round trip over each fixture restores every field ------------------------------------------------------
def seed(routes):
    """The simulator scenario holding exactly the object the fixture recorded, and its params."""
    fw = last_body(routes, "GET")["firewall"]
    return {"users": {"#ws+sandbox": "sandbox-robot-password"},
            "servers": {str(fw["server_number"]): {
                "server_ip": fw["server_ip"], "status": fw["status"], "filter_ipv6": fw["filter_ipv6"],
                "whitelist_hos": fw["whitelist_hos"], "port": fw["port"],
                "rules": {d: (fw.get("rules") or {}).get(d) or [] for d in ("input", "output")}}}}, {
        "server_number": fw["server_number"]}


def observed(sandbox, params):
    return sandbox.state()["hetzner"][str(params["server_number"])]


ROUND_TRIPS = [f for f in FIXTURES if f["id"] != "hetzner-server-list"]  # that one has no firewall to change


@pytest.mark.parametrize("entry", ROUND_TRIPS, ids=ids(ROUND_TRIPS))
def test_lockdown_round_trip_restores_every_field(sandbox, entry):
    scenario, params = seed(fixture_routes(entry))
    sandbox.reset({FIREWALL.sim: scenario})
    before = observed(sandbox, params)
    assert_round_trip_restores(sandbox, FIREWALL, params, lambda: observed(sandbox, params), before)


# -- any answer Robot documents ---------------------------------------------------------------------------------
# Robot publishes no machine-readable spec: the answer's shape is REFERENCE §3 (every rule field
# a string or null, ip_version null = both), plus what community.hrobot's test data shows (no
# "rules" key at all). Any such answer must read, and activation must re-send it unchanged.
ROBOT_TEXT = st.one_of(st.none(), st.sampled_from(["tcp", "22", "1.2.3.4/32", "Allow SSH", "ack", "32768-65535"]))
ROBOT_FIELDS = ("name", "ip_version", "dst_ip", "src_ip", "dst_port", "src_port", "protocol", "tcp_flags")
ROBOT_ANSWER_RULE = st.fixed_dictionaries({k: ROBOT_TEXT for k in ROBOT_FIELDS} | {
    "action": st.sampled_from(["accept", "discard"])})
ROBOT_RULES = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "input": st.one_of(st.none(), st.lists(ROBOT_ANSWER_RULE, max_size=10)),
    "output": st.one_of(st.none(), st.lists(ROBOT_ANSWER_RULE, max_size=10))}))


@EXAMPLE
@given(ROBOT_RULES, st.sampled_from(["active", "disabled"]), st.booleans(), st.booleans(),
       st.sampled_from(["main", "kvm"]))
def test_hetzner_survives_every_firewall_robot_documents(replay, rules, status, filter_ipv6,  # noqa: F811
                                                         whitelist_hos, port):
    fw = {"server_ip": "1.2.3.4", "server_number": 1, "status": status, "filter_ipv6": filter_ipv6,
          "whitelist_hos": whitelist_hos, "port": port}
    if rules is not None or status == "active":  # absent or null "rules" both seen
        fw["rules"] = rules
    answer = {"firewall": fw}
    replay.load([{"method": "GET", "path": "/firewall/1", "body": answer},
                 {"method": "POST", "path": "/firewall/1", "body": {"firewall": dict(fw, status="active")}}])
    provider = new_provider(FIREWALL, replay.url, server_number=1)
    result = run(provider, "active")
    assert result["active"]
    posts = [r for r in replay.log if r["method"] == "POST"]
    assert len(posts) == (status != "active")
    if posts:  # the customer's rules go back exactly, field by field, none invented
        form = {k: v[0] for k, v in parse_qs(posts[0]["body"]).items()}
        sent = {k: v for k, v in form.items() if k.startswith("rules[")}
        wanted = {"rules[%s][%d][%s]" % (d, i, k): v for d in ("input", "output")
                  for i, r in enumerate((rules or {}).get(d) or []) for k, v in r.items() if v not in (None, "")}
        assert sent == wanted
        assert (form["port"], form["filter_ipv6"], form["whitelist_hos"]) == (
            port, str(filter_ipv6).lower(), str(whitelist_hos).lower())


# -- activation then exact restore of every field Robot documents -----------------------------------------------
def hetzner_documented():
    """Robot's firewall answer as REFERENCE.md section 3 documents it (no schema exists)."""
    with open(REFERENCE, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## 3. Hetzner Robot"):]
    block = re.search(r"### Response \(GET and POST\)\s*```json\n(.*?)```", section, re.S).group(1)
    return json.loads(block)["firewall"]


# POST /firewall/{server} replaces everything; the rule fields as REFERENCE documents them.
ROBOT = hetzner_documented()
ROBOT_RULE_SCHEMA = {"type": "object", "properties": {k: {"type": "string"} for k in ROBOT["rules"]["input"][0]}}
ROBOT_VALUES = Values("hetzner", extra={
    "name": ["Allow SSH", "office.vpn"], "ip_version": ["ipv4", "ipv6"], "src_ip": ["1.2.3.4/32"],
    "dst_ip": ["203.0.113.10/32"], "src_port": ["1024-65535"], "dst_port": ["22", "32768-65535"],
    "protocol": ["tcp", "udp", "icmp", "gre"], "tcp_flags": ["ack", "syn|fin"], "action": ["accept", "discard"]})


def robot_valid(rule):
    rule = {k: rule.get(k) for k in ROBOT_RULE_SCHEMA["properties"]}
    rule["action"] = rule["action"] or "accept"
    if rule["ip_version"] is None:  # REFERENCE: without ip_version, no addresses and no protocol
        rule.update(src_ip=None, dst_ip=None, protocol=None)
    elif rule["ip_version"] == "ipv6":
        rule.update(src_ip=rule["src_ip"] and "2001:db8::/32", dst_ip=rule["dst_ip"] and "2001:db8:1::/48")
    return rule


def robot_generate():
    rules = st.lists(ROBOT_VALUES.object(ROBOT_RULE_SCHEMA).map(robot_valid), max_size=10)
    return st.fixed_dictionaries({"input": rules, "output": rules}).flatmap(lambda r: st.fixed_dictionaries({
        "rules": st.just(r), "filter_ipv6": st.booleans(), "whitelist_hos": st.booleans(),
        "port": st.sampled_from(["main", "kvm"])}))


def robot_seed(sandbox, fw):
    scenario = copy.deepcopy(hetzner_sim.DEFAULT_SCENARIO)
    scenario["servers"][str(hetzner_sim.SERVER)].update(fw, status="disabled")
    sandbox.reset({"hetzner": scenario})


def robot_observe(sandbox):
    return sandbox.state()["hetzner"][str(hetzner_sim.SERVER)]


CASE = RestoreCase("hetzner", HetznerFirewall, dict(CREDENTIALS, server_number=hetzner_sim.SERVER),
                   robot_generate(),
                   lambda: {"rules": {d: [robot_valid(ROBOT_VALUES.every_field(ROBOT_RULE_SCHEMA, i))
                                          for i in range(2)] for d in ("input", "output")},
                            "filter_ipv6": True, "whitelist_hos": False, "port": "kvm"},
                   robot_seed, robot_observe)


def test_every_field_of_the_spec_comes_back_through_the_module(sandbox, module_runner):
    check_every_field_through_the_module(sandbox, module_runner, CASE)


def test_any_rule_set_the_spec_allows_comes_back(sandbox):
    check_any_rule_set_comes_back(sandbox, CASE)
