# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lockdown then exact restore gives back EVERY field the provider's API knows, inbound and
outbound: rule sets generated from the rule schema of the write each API offers (the OpenAPI
files under ``ddos_sandbox/specs``, copies of ``shared/provider-apis``; for Hetzner Robot, which
publishes no schema, the documented answer in ``shared/provider-apis/REFERENCE.md`` section 3).

The list of fields is the spec's, never the product's: a field the client forgets (DigitalOcean's
``kubernetes_ids``, Linode's rule ``description``) is generated all the same and must come back.
The values are the spec's own examples and enums, plus a few hand-written ones where the spec has
none or a value must be valid for the API (an address, a port); a field with no value to draw
fails the test by name, so a field added to a spec cannot go untested.

Two tests per provider: every field at once through the real module (``ansible -m``), then
hypothesis over which optional fields are present, their values and the number of rules,
in-process.
"""

from __future__ import annotations

import copy
import json
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import converge, make_provider
from ddos_sandbox.core import HttpError
from ddos_sandbox.providers import digitalocean as do_sim
from ddos_sandbox.providers import hetzner as hetzner_sim
from ddos_sandbox.providers import linode as linode_sim
from ddos_sandbox.providers import vultr as vultr_sim
from ddos_sandbox.spec import load_spec

from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.digitalocean_firewall import (
    DigitalOceanFirewall)
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.hetzner_firewall import HetznerFirewall
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.linode_firewall import LinodeFirewall
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.vultr_firewall import VultrFirewall

EXAMPLES = int(os.environ.get("DDOS_HYPOTHESIS_EXAMPLES", "25"))
REFERENCE = os.path.join(os.environ.get("DDOS_PROVIDER_APIS", "/work/shared/provider-apis"), "REFERENCE.md")


# -- reading a schema -------------------------------------------------------------------------------------
def resolved(node, root):
    """``node`` with local ``$ref``s replaced and ``allOf`` merged into one schema."""
    if isinstance(node, list):
        return [resolved(v, root) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return resolved(target, root)
    node = {k: resolved(v, root) for k, v in node.items()}
    for part in node.pop("allOf", []):
        for key, value in part.items():
            if key == "properties":
                merged = node.setdefault("properties", {})
                for name, prop in value.items():
                    merged[name] = dict(merged.get(name, {}), **prop)
            elif key == "required":
                node["required"] = sorted(set(node.get("required", [])) | set(value))
            else:
                node.setdefault(key, value)
    for name, prop in list(node.get("properties", {}).items()):
        if prop.get("type") == "array" and prop.get("required") and isinstance(prop.get("items"), dict):
            # Linode's spec puts its rules' "required" beside the array, meaning the items.
            prop = dict(prop)
            prop["items"] = dict(prop["items"], required=prop.pop("required"))
            node["properties"][name] = prop
    return node


def request_schema(spec_file, path, method):
    spec = load_spec(spec_file)
    media = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
    schema = resolved(media["schema"], spec)
    # An example of the whole request (Vultr has no per-field examples) gives each field a value.
    for example in (media.get("examples") or {}).values():
        for name, value in (example.get("value") or {}).items():
            schema["properties"].get(name, {}).setdefault("example", value)
    return schema


def writable(schema):
    """{field: schema} of an object schema, less what the API writes itself (readOnly)."""
    return {k: v for k, v in schema.get("properties", {}).items() if not v.get("readOnly")}


def hetzner_documented():
    """Robot's firewall answer as REFERENCE.md section 3 documents it (no schema exists)."""
    with open(REFERENCE, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## 3. Hetzner Robot"):]
    block = re.search(r"### Response \(GET and POST\)\s*```json\n(.*?)```", section, re.S).group(1)
    return json.loads(block)["firewall"]


# -- values ------------------------------------------------------------------------------------------------
class Values:
    """What may be drawn for each field: the spec's enum or example, else ``extra`` (hand-written,
    keyed by field name). ``fixed`` overrides both where the example is not valid input."""

    def __init__(self, provider, extra=None, fixed=None):
        self.provider, self.extra, self.fixed = provider, extra or {}, fixed or {}

    def pool(self, name, schema):
        if name in self.fixed:
            return list(self.fixed[name])
        if schema.get("enum"):
            return list(schema["enum"])
        values = []
        example = schema.get("example")
        if example is not None:
            values.append(example)
        values.extend(v for v in self.extra.get(name, []) if v not in values)
        if not values:
            pytest.fail("%s: the spec's field %r has neither an example nor an enum: give it values in this test"
                        % (self.provider, name), pytrace=False)
        return values

    def strategy(self, name, schema):
        if schema.get("type") == "object" or "properties" in schema:
            return self.object(schema)
        if schema.get("type") == "array":
            items = schema.get("items", {})
            if items.get("type") == "object" or "properties" in items:
                return st.lists(self.object(items), max_size=4)
            pool = self.pool(name, schema)
            flat = sorted({json.dumps(v) for p in pool for v in (p if isinstance(p, list) else [p])})
            return st.lists(st.sampled_from([json.loads(v) for v in flat]), min_size=1, max_size=3, unique=True)
        if schema.get("type") == "boolean":
            return st.booleans()
        return st.sampled_from(self.pool(name, schema))

    def object(self, schema):
        fields = writable(schema)
        required = set(schema.get("required", []))
        return st.fixed_dictionaries({k: self.strategy(k, v) for k, v in fields.items() if k in required},
                                     optional={k: self.strategy(k, v) for k, v in fields.items()
                                               if k not in required})

    def every_field(self, schema, index=0):
        """One value with every field the schema knows, present and not empty."""
        out = {}
        for name, prop in writable(schema).items():
            if prop.get("type") == "object" or "properties" in prop:
                out[name] = self.every_field(prop, index)
            elif prop.get("type") == "array":
                items = prop.get("items", {})
                if items.get("type") == "object" or "properties" in items:
                    out[name] = [self.every_field(items, i) for i in range(2)]
                else:
                    pool = self.pool(name, prop)
                    out[name] = pool[0] if isinstance(pool[0], list) else pool[:1]
            elif prop.get("type") == "boolean":
                out[name] = bool(index % 2)
            else:
                pool = self.pool(name, prop)
                out[name] = pool[index % len(pool)]
        return out


# -- the providers -------------------------------------------------------------------------------------------
class Case:
    """One provider: how its rules are generated, seeded into the simulator and observed there."""

    def __init__(self, sim, cls, params, generate, maximal, seed, observe):
        self.sim, self.cls, self.params = sim, cls, params
        self.generate, self.maximal, self.seed, self.observe = generate, maximal, seed, observe


# DigitalOcean: PUT /v2/firewalls/{id} is the write that sets rules (and the whole firewall).
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


# Linode: PUT .../firewalls/{id}/rules sets the rules; PUT .../firewalls/{id} the firewall itself.
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


# Vultr: POST /firewalls/{id}/rules adds one (inbound) rule; rules carry no order and get new ids.
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


# Hetzner Robot: POST /firewall/{server} replaces everything; the rule fields as REFERENCE documents them.
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


CASES = {
    "digitalocean": Case("digitalocean", DigitalOceanFirewall, dict(api_token=do_sim.TOKEN_RW,
                                                                    firewall_id=do_sim.FIREWALL),
                         DO_VALUES.object(DO_SCHEMA).map(do_valid),
                         lambda: do_valid(DO_VALUES.every_field(DO_SCHEMA)), do_seed, do_observe),
    "linode": Case("linode", LinodeFirewall, dict(api_token=linode_sim.TOKEN_RW, firewall_id=linode_sim.FIREWALL),
                   linode_generate(),
                   lambda: linode_valid(dict(LINODE_VALUES.every_field(LINODE_FW_SCHEMA),
                                             rules=LINODE_VALUES.every_field(LINODE_SCHEMA))),
                   linode_seed, linode_observe),
    "vultr": Case("vultr", VultrFirewall, dict(api_key=vultr_sim.KEY, firewall_group_id=vultr_sim.GROUP),
                  vultr_generate(),
                  lambda: [vultr_valid(VULTR_VALUES.every_field(VULTR_SCHEMA, i)) for i in range(2)],
                  vultr_seed, vultr_observe),
    "hetzner": Case("hetzner", HetznerFirewall, dict(robot_user="#ws+sandbox", robot_password="sandbox-robot-password",
                                                     server_number=hetzner_sim.SERVER),
                    robot_generate(),
                    lambda: {"rules": {d: [robot_valid(ROBOT_VALUES.every_field(ROBOT_RULE_SCHEMA, i))
                                           for i in range(2)] for d in ("input", "output")},
                             "filter_ipv6": True, "whitelist_hos": False, "port": "kvm"},
                    robot_seed, robot_observe),
}


def seeded(sandbox, case, value):
    """Seed the simulator; what it holds then is the reference every field is compared with."""
    case.seed(sandbox, value)
    return case.observe(sandbox)


# -- every field at once, through the module ------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_field_of_the_spec_comes_back_through_the_module(sandbox, module_runner, name):
    case = CASES[name]
    value = case.maximal()
    before = seeded(sandbox, case, value)
    args = dict(case.params, api_url=sandbox.api_url(case.sim), wait_sleep=0.01)
    on = module_runner(case.cls.name, dict(args, state="active"))
    assert on["_rc"] == 0 and on["changed"], on
    assert case.observe(sandbox) != before, "the lockdown changed nothing: the round trip would prove nothing"
    off = module_runner(case.cls.name, dict(args, state="inactive", snapshot=on["snapshot"]))
    assert off["_rc"] == 0, off
    assert case.observe(sandbox) == before, "%s: the restore lost or changed a field" % name


# -- any mix of fields, in-process ------------------------------------------------------------------------------
ROUND_TRIP = settings(max_examples=EXAMPLES, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(CASES))
def test_any_rule_set_the_spec_allows_comes_back(sandbox, name):
    case = CASES[name]

    @ROUND_TRIP
    @given(case.generate)
    def round_trip(value):
        try:
            before = seeded(sandbox, case, value)
        except HttpError as exc:  # the simulator refuses it as the API would: not a rule set anyone has
            pytest.fail("generated an invalid %s rule set (%s): %r" % (name, exc.message, value))
        base = dict(case.params, api_url=sandbox.api_url(case.sim), retries=2, wait_sleep=0.01)
        on = converge(make_provider(case.cls, sleep=lambda s: None, **base), "active")
        converge(make_provider(case.cls, sleep=lambda s: None, **base), "inactive", snapshot=on["snapshot"])
        assert case.observe(sandbox) == before
        assert not sandbox.spec_violations(), sandbox.spec_violations()[:1]

    round_trip()
