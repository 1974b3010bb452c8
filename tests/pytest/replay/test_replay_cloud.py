"""The four cloud clients (Cloudflare Magic Transit and Under Attack, OVH, AWS Shield) against
responses recorded from, or published for, the real APIs (``/work/shared/replay``; none was
written here).

1. Every cf-*, ovh-* and aws-* entry of the manifest: the recorded bodies are served verbatim
   (Cloudflare and OVH: by the sandbox on 127.0.0.1, each recorded route answering exactly its
   bytes; AWS: handed to botocore's own parser in place of the HTTP answer), then ``read()``,
   ``is_active()``, ``snapshot()``, the Test and an activation must read them right.
2. Property-based: answers generated from the spec files (Cloudflare's OpenAPI schemas, OVH's
   models, the botocore Shield shapes) with every optional field absent or null in turn never
   break a client: it reads a state or fails with one clear ProviderError, never a crash.
"""

from __future__ import annotations

import copy
import json
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_provider
from ddos_sandbox.providers import aws_shield as aws_sim
from ddos_sandbox.providers import ovh as ovh_sim
from ddos_sandbox.spec import load_spec
# The OpenAPI -> hypothesis generator is the lockdown replay's (one walker for every OpenAPI spec).
from test_replay_lockdown import response_schema, schema_strategy

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import execute, plan_change
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.aws_shield import AwsShield
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_magic_transit import (
    CloudflareMagicTransit)
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_under_attack import (
    CloudflareUnderAttack)
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.ovh_mitigation import OvhMitigation

REPLAY = os.environ.get("DDOS_REPLAY_DIR", "/work/shared/replay")
with open(os.path.join(REPLAY, "manifest.json"), encoding="utf-8") as _handle:
    MANIFEST = json.load(_handle)
CLASSES = {"cloudflare_magic_transit": CloudflareMagicTransit, "cloudflare_under_attack": CloudflareUnderAttack,
           "ovh_mitigation": OvhMitigation, "aws_shield": AwsShield}
# provider -> (sandbox simulator, the part of the recorded path the sandbox's api_url already holds)
SERVED_BY = {"cloudflare_magic_transit": ("cloudflare", "/client/v4"),
             "cloudflare_under_attack": ("cloudflare", "/client/v4"), "ovh_mitigation": ("ovh", "/1.0")}
CREDENTIALS = {
    "cloudflare_magic_transit": dict(api_token="sandbox-cf-token-rw"),
    "cloudflare_under_attack": dict(api_token="sandbox-cf-token-rw"),
    "ovh_mitigation": dict(application_key=ovh_sim.APP_KEY, application_secret=ovh_sim.APP_SECRET,
                           consumer_key=ovh_sim.CONSUMER_KEY),
    "aws_shield": dict(aws_access_key_id=aws_sim.ACCESS_KEY, aws_secret_access_key=aws_sim.SECRET_KEY),
}
OURS = [f for f in MANIFEST["fixtures"] if f["provider"] in CLASSES]
EXAMPLES = int(os.environ.get("DDOS_HYPOTHESIS_EXAMPLES", "25"))

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
    "cf-security-level-real-zone": (dict(zone_id="023e105f4ecef8ad9ca31a8372d0c353", security_level="medium",
                                         editable=True, modified_on="2022-06-09T18:02:22.735012Z"), False,
                                    [("PATCH", "/zones/023e105f4ecef8ad9ca31a8372d0c353/settings/security_level",
                                      {"id": "security_level", "value": "under_attack"})]),
    "ovh-edge-enabled": (dict(mode="edge_firewall", ip="198.51.100.42", ip_block="198.51.100.42/32", exists=True,
                              enabled=True, state="ok", rules=2), True, []),
    "ovh-edge-created-disabled": (dict(mode="edge_firewall", ip="198.51.100.42", ip_block="198.51.100.42/32",
                                       exists=True, enabled=False, state="ok", rules=2), False,
                                  [("PUT", "/ip/198.51.100.42%2F32/firewall/198.51.100.42", {"enabled": True})]),
    "aws-eip-protected": (dict(subscription="ACTIVE", protections={
        "arn:aws:ec2:us-west-2:123456789012:eip-allocation/eipalloc-0ac1537af40742a6d": {
            "protected": True, "id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", "l7": None}}), True, []),
    # Issue 10 defect 6: an EIP cannot have an L7 response; protected is all activation can do.
    "aws-eip-protected-l7-wanted": (dict(subscription="ACTIVE", protections={
        "arn:aws:ec2:us-west-2:123456789012:eip-allocation/eipalloc-0ac1537af40742a6d": {
            "protected": True, "id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", "l7": None}}), True, []),
}


def test_every_cloud_fixture_has_an_expectation():
    assert {f["provider"] for f in OURS} == set(CLASSES)
    assert sorted(f["id"] for f in OURS) == sorted(EXPECTED), "a new fixture needs its expected reading here"


def fixture_routes(entry):
    with open(os.path.join(REPLAY, entry["file"]), encoding="utf-8") as handle:
        return json.load(handle)["routes"]


# -- serving the recorded answers ---------------------------------------------------------------------------
def serve(sandbox, provider_name, routes):
    """Each recorded route answers exactly its recorded bytes (an injected answer that never runs out)."""
    sim, strip = SERVED_BY[provider_name]
    for route in routes:
        sandbox.add_fault(provider=sim, method=route["method"], path="^%s$" % re.escape(route["path"][len(strip):]),
                          status=route["status"], body=json.dumps(route["body"]).encode(), count=-1)


def with_test_listing(entry, routes):
    """The Magic Transit Test starts by listing the account's prefixes, which no fixture recorded:
    that list is the fixture's own prefix (or, for a BGP-prefix fixture, a prefix with its id and
    cidr) as a one-element list -- the same edit the manifest makes for list routes."""
    if entry["provider"] != "cloudflare_magic_transit":
        return routes
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


def seed_ovh_block(sandbox, entry, routes):
    """``GET /ip?ip=`` (the block discovery) was not recorded: the sandbox answers it from an
    account holding the block the recorded paths name."""
    block = re.search(r"/ip/([^/]+)/", routes[0]["path"]).group(1).replace("%2F", "/")
    scenario = copy.deepcopy(ovh_sim.DEFAULT_SCENARIO)
    scenario["blocks"] = {block: {"firewall": {}, "mitigation": {}}}
    sandbox.simulators["ovh"].reset(scenario)


class AwsReplay:
    """Hands each recorded body to botocore in place of the HTTP answer (``before-send``), so the
    bytes go through botocore's own JSON 1.1 parser; counts the operations asked for."""

    def __init__(self, routes):
        self.routes = {r["path"].rpartition(".")[2]: r for r in routes}
        self.asked = []

    def attach(self, provider):
        provider.http.meta.events.register("before-send.shield", self.answer)
        return provider

    def answer(self, request, **_kwargs):
        from botocore.awsrequest import AWSResponse

        operation = request.headers["X-Amz-Target"].decode().rpartition(".")[2]
        self.asked.append(operation)
        route = self.routes.get(operation)
        if route is None:
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(json.dumps({
                "__type": "InvalidOperationException", "message": "not recorded: %s" % operation}).encode()))
        return AWSResponse(request.url, route["status"], {"Content-Type": "application/x-amz-json-1.1"},
                           _Raw(json.dumps(route["body"]).encode()))


class _Raw:
    """The raw stream botocore reads an answer's bytes from."""

    def __init__(self, data):
        self.data = data

    def stream(self, **_kwargs):
        yield self.data


def replayed_provider(sandbox, entry, routes, **extra):
    params = dict(entry["params"], retries=0, wait_sleep=0.01, **CREDENTIALS[entry["provider"]])
    params.pop("params_raw_bgp_prefix_id", None)
    params.update(extra)
    if entry["provider"] == "aws_shield":
        params["endpoint_url"] = sandbox.api_url("aws_shield")
    else:
        params["api_url"] = sandbox.api_url(SERVED_BY[entry["provider"]][0])
    return make_provider(CLASSES[entry["provider"]], sleep=lambda s: None, **params)


def prepared(sandbox, entry):
    """The provider to run over the fixture, and a function listing the requests it sent."""
    routes = fixture_routes(entry)
    if entry["provider"] == "aws_shield":
        replay = AwsReplay(routes)
        return (lambda **extra: replay.attach(replayed_provider(sandbox, entry, routes, **extra))), replay, routes
    if entry["provider"] == "ovh_mitigation":
        seed_ovh_block(sandbox, entry, routes)
    serve(sandbox, entry["provider"], with_test_listing(entry, routes))
    return (lambda **extra: replayed_provider(sandbox, entry, routes, **extra)), None, routes


def route_key(entry, route):
    if entry["provider"] == "aws_shield":
        return route["path"].rpartition(".")[2]
    return route["method"], route["path"][len(SERVED_BY[entry["provider"]][1]):]


def sent(sandbox, entry, replay):
    """What the client asked for, in the keys of route_key()."""
    if replay is not None:
        return list(replay.asked)
    sim, _strip = SERVED_BY[entry["provider"]]
    return [(r["method"], r["path"]) for r in sandbox.requests(provider=sim)]


# -- 1. every fixture read right -------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", OURS, ids=[f["id"] for f in OURS])
def test_client_reads_the_fixture_right(sandbox, entry):
    new, replay, routes = prepared(sandbox, entry)
    fields, active, _writes = EXPECTED[entry["id"]]
    provider = new()
    state = provider.read()
    assert {k: state.get(k) for k in fields} == fields, state
    assert provider.is_active(state) is active
    snapshot = provider.snapshot(state)
    assert json.loads(json.dumps(snapshot)) == snapshot, "the snapshot goes to the ledger as JSON"
    # The client read these very bodies: every read it sent was a recorded one, except the calls no
    # fixture records (OVH's clock, credential and block discovery).
    recorded = {route_key(entry, r) for r in routes}
    asked = sent(sandbox, entry, replay)
    assert recorded & set(asked), (recorded, asked)
    unrecorded = [a for a in asked if a not in recorded]
    assert all(a[1] in ("/auth/time", "/auth/currentCredential", "/ip") for a in unrecorded), unrecorded

    report = build_test_report(new())
    assert report["ok"], report
    assert report["state"] == state and report["active"] is active


@pytest.mark.parametrize("entry", OURS, ids=[f["id"] for f in OURS])
def test_activation_over_the_fixture(sandbox, entry):
    new, replay, _routes = prepared(sandbox, entry)
    _fields, active, writes = EXPECTED[entry["id"]]
    provider = new()
    plan = plan_change(provider, "active")
    assert plan.changed is bool(writes)
    if plan.changed:
        execute(plan, wait=False)  # the recorded reads do not change after a write: nothing to wait for
    if replay is not None:
        assert [op for op in replay.asked if not op.startswith(("Get", "Describe", "List"))] == []
    else:
        sim, strip = SERVED_BY[entry["provider"]]
        prefix = sandbox.api_url(sim).split("://", 1)[1].split("/", 1)[1]
        got = [(w["method"], w["raw_path"].split("/" + prefix, 1)[1], w["body"])
               for w in sandbox.requests(provider=sim, writes_only=True)]
        assert got == writes
    result = plan.result()
    assert result["active"] is (True if writes else active)
    if not writes and not active:
        assert provider.warnings, "an activation that cannot protect says why"


def test_recorded_withdrawal_answer_is_read(sandbox):
    """cf-prefix-ondemand-advertised also recorded the PATCH answer of a withdrawal."""
    entry = next(f for f in OURS if f["id"] == "cf-prefix-ondemand-advertised")
    new, _replay, _routes = prepared(sandbox, entry)
    plan = plan_change(new(), "inactive")
    assert plan.changed
    execute(plan, wait=False)
    patches = [(w["path"].rsplit("/", 2)[-2:], w["body"]) for w in sandbox.requests(writes_only=True)]
    assert patches == [(["bgp", "status"], {"advertised": False})]


# -- 2. any answer the spec allows ----------------------------------------------------------------------------
EXAMPLE = settings(max_examples=EXAMPLES, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CF_ACCOUNT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CF_PREFIX = "1f2e3d4c5b6a79880716253443526170"
CF_BGP = "7c6b5a49382716051f2e3d4c5b6a7988"
CF_ZONE = "5e6f708192a3b4c5d6e7f8091a2b3c4d"
PREFIX_PATH = "/accounts/{account_id}/addressing/prefixes/{prefix_id}"


def answered(sandbox, sim, path, body, method="GET"):
    sandbox.reset()
    sandbox.add_fault(provider=sim, method=method, path="^%s$" % re.escape(path), status=200,
                      body=json.dumps(body).encode(), count=-1)


def survives(read):
    """A client's read: the state, or None when it failed with one clear ProviderError."""
    try:
        return read()
    except ProviderError as exc:
        assert str(exc).startswith(exc.provider + ":") and exc.message, exc
        return None


def cf(sandbox, cls, **params):
    return make_provider(cls, sleep=lambda s: None, api_url=sandbox.api_url("cloudflare"),
                         api_token="sandbox-cf-token-rw", retries=0, **params)


@EXAMPLE
@given(schema_strategy(response_schema("cloudflare.json", PREFIX_PATH)))
def test_magic_transit_survives_every_prefix_the_spec_allows(sandbox, body):
    answered(sandbox, "cloudflare", "/accounts/%s/addressing/prefixes/%s" % (CF_ACCOUNT, CF_PREFIX), body)
    provider = cf(sandbox, CloudflareMagicTransit, account_id=CF_ACCOUNT, prefix_id=CF_PREFIX,
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
             % (CF_ACCOUNT, CF_PREFIX, CF_BGP), body)
    provider = cf(sandbox, CloudflareMagicTransit, account_id=CF_ACCOUNT, prefix_id=CF_PREFIX, bgp_prefix_id=CF_BGP)
    state = survives(provider.read)
    if state is None:
        return
    result = body["result"] if isinstance(body.get("result"), dict) else {}
    on_demand = result.get("on_demand") or {}
    assert state["advertised"] is on_demand.get("advertised")
    assert state["auto_advertise_withdraw"] is (auto_withdraw if result else None)
    assert state["bgp_prefix_id"] == CF_BGP
    provider.describe(state)


@EXAMPLE
@given(schema_strategy(response_schema("cloudflare.json", "/zones/{zone_id}/settings/{setting_id}")))
def test_under_attack_survives_every_setting_the_spec_allows(sandbox, body):
    answered(sandbox, "cloudflare", "/zones/%s/settings/security_level" % CF_ZONE, body)
    provider = cf(sandbox, CloudflareUnderAttack, zone_id=CF_ZONE)
    state = survives(provider.read)
    if state is None:
        assert not isinstance(body.get("result"), dict) or body["result"].get("value") is None
        return
    assert state["security_level"] == body["result"]["value"]
    assert state["editable"] is body["result"].get("editable", True)
    provider.snapshot(state)


# OVH: its apis/models format (not OpenAPI): every property may be absent ("required": false)
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
                             retries=0, **CREDENTIALS["ovh_mitigation"])
    state = survives(provider.read)
    assert state is not None
    assert state["enabled"] is bool(firewall.get("enabled")) and state["rules"] == len(rules)
    assert provider.is_active(state) is bool(firewall.get("enabled"))
    provider.matches(state, provider.activation(state, provider.snapshot(state)))


# AWS: botocore's shapes. Every member not in "required" may be absent.
AWS_SHAPES = load_spec("aws-shield.json")["shapes"]


def aws_value(shape_name, depth=0):
    shape = AWS_SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = {k: aws_value(m["shape"], depth + 1) for k, m in shape["members"].items()}
        required = set(shape.get("required", []))
        return st.fixed_dictionaries({k: v for k, v in members.items() if k in required},
                                     optional={k: v for k, v in members.items() if k not in required})
    if kind == "list":
        return st.lists(aws_value(shape["member"]["shape"], depth + 1), max_size=2)
    if "enum" in shape:
        return st.sampled_from(shape["enum"])
    if kind == "string":
        if shape_name == "ResourceArn":
            return st.just(aws_sim.EIP) | st.just(aws_sim.CLOUDFRONT)
        size = max(shape.get("min", 1), 1)
        if shape.get("min") == shape.get("max"):
            return st.just("a" * size)
        return st.text("abc-1", min_size=size, max_size=size + 8)
    return st.just(0) if kind in ("integer", "long") else st.booleans()


@EXAMPLE
@given(aws_value("DescribeProtectionResponse"), aws_value("GetSubscriptionStateResponse"),
       st.sampled_from([None, "block", "count"]))
def test_aws_shield_survives_every_protection_the_model_allows(sandbox, described, subscription, wanted_l7):
    arn = ((described.get("Protection") or {}).get("ResourceArn")) or aws_sim.CLOUDFRONT
    replay = AwsReplay([{"path": "GetSubscriptionState", "status": 200, "body": subscription},
                        {"path": "DescribeProtection", "status": 200, "body": described}])
    params = dict(CREDENTIALS["aws_shield"], endpoint_url=sandbox.api_url("aws_shield"), resource_arns=[arn], retries=0)
    if wanted_l7:
        params["application_layer_response"] = wanted_l7
    provider = replay.attach(make_provider(AwsShield, sleep=lambda s: None, **params))
    state = survives(provider.read)
    assert state is not None
    protection = described.get("Protection")
    assert state["protections"][arn]["protected"] is (protection is not None)
    config = (protection or {}).get("ApplicationLayerAutomaticResponseConfiguration") or {}
    if config.get("Status") != "ENABLED":
        assert state["protections"][arn]["l7"] is None
    provider.is_active(state)
    if state["subscription"] == "ACTIVE":
        provider.matches(state, provider.activation(state, provider.snapshot(state)))
