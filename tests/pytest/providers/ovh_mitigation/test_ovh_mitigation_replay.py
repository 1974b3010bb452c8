# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVH against responses recorded from, or published for, the real API (``/work/shared/replay``;
none was written here), served verbatim by the sandbox on 127.0.0.1: ``read()``, ``is_active()``,
``snapshot()``, the Test and an activation must read them right. Then property-based: firewalls
generated from OVH's models, every property absent or null in turn, never break the client.
"""

from __future__ import annotations

import copy
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from conftest import make_provider
from ddos_sandbox.providers import ovh as ovh_sim
from ddos_sandbox.spec import load_spec
from providers.replay_support import (EXAMPLE, Cloud, cloud_replay_tests, fixtures_of, survives)

from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.ovh_mitigation import OvhMitigation


def seed_ovh_block(sandbox, _entry, routes):
    """``GET /ip?ip=`` (the block discovery) was not recorded: the sandbox answers it from an
    account holding the block the recorded paths name."""
    block = re.search(r"/ip/([^/]+)/", routes[0]["path"]).group(1).replace("%2F", "/")
    scenario = copy.deepcopy(ovh_sim.DEFAULT_SCENARIO)
    scenario["blocks"] = {block: {"firewall": {}, "mitigation": {}}}
    sandbox.simulators["ovh"].reset(scenario)
    return routes


CREDENTIALS = dict(application_key=ovh_sim.APP_KEY, application_secret=ovh_sim.APP_SECRET,
                   consumer_key=ovh_sim.CONSUMER_KEY)
CLOUD = Cloud(OvhMitigation, CREDENTIALS, "ovh", strip="/1.0", prepare=seed_ovh_block)
FIXTURES = fixtures_of("ovh_mitigation")

# What each fixture must read as: (fields of read()'s state, is_active, the writes an activation sends).
EXPECTED = {
    "ovh-edge-enabled": (dict(mode="edge_firewall", ip="198.51.100.42", ip_block="198.51.100.42/32", exists=True,
                              enabled=True, state="ok", rules=2), True, []),
    "ovh-edge-created-disabled": (dict(mode="edge_firewall", ip="198.51.100.42", ip_block="198.51.100.42/32",
                                       exists=True, enabled=False, state="ok", rules=2), False,
                                  [("PUT", "/ip/198.51.100.42%2F32/firewall/198.51.100.42", {"enabled": True})]),
}


(test_every_fixture_has_an_expectation, test_client_reads_the_fixture_right,
 test_activation_over_the_fixture) = cloud_replay_tests(CLOUD, FIXTURES, EXPECTED)


# OVH's apis/models format (not OpenAPI): every property may be absent ("required": false)
# and null where "canBeNull" is true.
OVH_MODELS = load_spec("ovh.json")["models"]


def ovh_value(full_type):
    if full_type.endswith("[]"):
        return st.lists(ovh_value(full_type[:-2]), max_size=20)
    model = OVH_MODELS.get(full_type)
    if model is not None and "enum" in model:
        return st.sampled_from(model["enum"])
    if model is not None:
        return ovh_object(full_type)
    return {"boolean": st.booleans(), "long": st.integers(0, 19), "ipv4": st.just("198.51.100.42"),
            "ipBlock": st.just("198.51.100.42/32"), "datetime": st.just("2026-01-01T00:00:00+00:00")}.get(
        full_type, st.text(max_size=8))


def ovh_object(name):
    props = OVH_MODELS[name]["properties"]
    return st.fixed_dictionaries({}, optional={
        key: (st.one_of(st.none(), ovh_value(p["fullType"])) if p.get("canBeNull") else ovh_value(p["fullType"]))
        for key, p in props.items()})


@EXAMPLE
@given(ovh_object("ip.FirewallIp"), ovh_value("long[]"))
def test_ovh_survives_every_firewall_the_schema_allows(sandbox, firewall, rules):
    sandbox.reset()
    scenario = copy.deepcopy(ovh_sim.DEFAULT_SCENARIO)
    scenario["blocks"] = {"198.51.100.42/32": {"firewall": {}, "mitigation": {}}}
    sandbox.simulators["ovh"].reset(scenario)
    base = "/ip/198.51.100.42%2F32/firewall/198.51.100.42"
    sandbox.add_fault(provider="ovh", method="GET", path="^%s$" % re.escape(base), status=200,
                      body=json.dumps(firewall).encode(), count=-1)
    sandbox.add_fault(provider="ovh", method="GET", path="^%s/rule$" % re.escape(base), status=200,
                      body=json.dumps(rules).encode(), count=-1)
    provider = make_provider(OvhMitigation, sleep=lambda s: None, api_url=sandbox.api_url("ovh"), ip="198.51.100.42",
                             retries=0, **CREDENTIALS)
    state = survives(provider.read)
    assert state is not None
    assert state["enabled"] is bool(firewall.get("enabled")) and state["rules"] == len(rules)
    assert provider.is_active(state) is bool(firewall.get("enabled"))
    provider.matches(state, provider.activation(state, provider.snapshot(state)))
