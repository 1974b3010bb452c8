# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every provider's replay test (``tests/pytest/providers/<name>/test_<name>_replay.py``)
shares: the responses recorded from, or published for, the real APIs (``/work/shared/replay``,
``manifest.json``; none written here), the ways of serving them to a client, the walkers that turn
a spec's schemas into hypothesis values, and the bodies of the checks every provider runs the same
way. What differs per provider (its expected readings, seeds, observations) stays in its file.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import converge, make_provider
from ddos_sandbox.core import HttpError
from ddos_sandbox.spec import load_spec

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import execute, plan_change
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._module import argument_spec
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report

REPLAY = os.environ.get("DDOS_REPLAY_DIR", "/work/shared/replay")
with open(os.path.join(REPLAY, "manifest.json"), encoding="utf-8") as _handle:
    MANIFEST = json.load(_handle)
EXAMPLES = int(os.environ.get("DDOS_HYPOTHESIS_EXAMPLES", "25"))
EXAMPLE = settings(max_examples=EXAMPLES, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# -- the manifest ------------------------------------------------------------------------------------------
def fixtures_of(provider):
    """The manifest's entries for one provider (parametrize over them: a new fixture is tested at once)."""
    return [f for f in MANIFEST["fixtures"] if f["provider"] == provider]


def ids(entries):
    return [f["id"] for f in entries]


def fixture_routes(entry):
    with open(os.path.join(REPLAY, entry["file"]), encoding="utf-8") as handle:
        return json.load(handle)["routes"]


def last_body(routes, method, suffix=""):
    """The (last) body a route answers: the state the fixture ends in."""
    for route in routes:
        if route["method"] == method and route["path"].endswith(suffix):
            return copy.deepcopy(route["bodies"][-1] if "bodies" in route else route["body"])
    raise AssertionError("no %s route ending in %r" % (method, suffix))


# -- OpenAPI response schemas -> hypothesis values (one walker for every OpenAPI spec) ------------------------
def schema_strategy(schema, depth=0, root=None):
    """Hypothesis values for the JSON-schema subset the OpenAPI files use: $ref, types,
    nullable, enum, properties/required (optional ones sometimes absent), items, lengths."""
    if root is not None:
        schema = dereferenced(schema, root)
    if "oneOf" in schema or "anyOf" in schema:
        return st.one_of([schema_strategy(s, depth) for s in schema.get("oneOf") or schema["anyOf"]])
    if "allOf" in schema:
        merged = {}
        for part in schema["allOf"]:
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged.setdefault("required", []).extend(part.get("required", []))
            merged["type"] = part.get("type", merged.get("type"))
        return schema_strategy(merged, depth)
    base = _typed(schema, depth)
    return st.one_of(st.none(), base) if schema.get("nullable") else base


def dereferenced(node, root):
    """``node`` with every local ``$ref`` replaced by what it points to (``allOf`` left to the walker)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return dereferenced(target, root)
        return {k: dereferenced(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [dereferenced(v, root) for v in node]
    return node


def _typed(schema, depth):
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type") or ("object" if "properties" in schema else "string")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = {k: schema_strategy(v, depth + 1) for k, v in props.items() if k in required}
        optional = {k: schema_strategy(v, depth + 1) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fields, optional=optional)
    if kind == "array":
        return st.lists(schema_strategy(schema.get("items", {}), depth + 1), max_size=3 if depth < 4 else 1)
    if kind == "integer":
        return st.integers(schema.get("minimum", 0), schema.get("maximum", 2 ** 31))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 12), 12))


def response_schema(spec_file, path, method="get"):
    spec = load_spec(spec_file)
    op = spec["paths"][path][method]
    return dereferenced(op["responses"]["200"]["content"]["application/json"]["schema"], spec)


def survives(read):
    """A client's read: the state, or None when it failed with one clear ProviderError."""
    try:
        return read()
    except ProviderError as exc:
        assert str(exc).startswith(exc.provider + ":") and exc.message, exc
        return None


# -- cloud providers: the recorded answers served by the sandbox (or handed to botocore) ---------------------
class Cloud:
    """One cloud provider's replay: its class and fake credentials, the sandbox simulator its
    client talks to, and ``strip``, the part of the recorded paths the sandbox's api_url already
    holds (None: the client is botocore's, and the recorded bodies go to botocore's own parser).
    ``prepare(sandbox, entry, routes)`` returns the routes to serve, after seeding the simulator
    with what the fixture did not record."""

    def __init__(self, cls, credentials, sim, strip=None, prepare=None):
        self.cls, self.credentials, self.sim, self.strip, self.prepare = cls, credentials, sim, strip, prepare


def serve(sandbox, cloud, routes):
    """Each recorded route answers exactly its recorded bytes (an injected answer that never runs out)."""
    for route in routes:
        sandbox.add_fault(provider=cloud.sim, method=route["method"],
                          path="^%s$" % re.escape(route["path"][len(cloud.strip):]),
                          status=route["status"], body=json.dumps(route["body"]).encode(), count=-1)


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


def replayed_provider(sandbox, cloud, entry, **extra):
    params = dict(entry["params"], retries=0, wait_sleep=0.01, **cloud.credentials)
    params.pop("params_raw_bgp_prefix_id", None)
    params.update(extra)
    params["endpoint_url" if cloud.strip is None else "api_url"] = sandbox.api_url(cloud.sim)
    return make_provider(cloud.cls, sleep=lambda s: None, **params)


def prepared(sandbox, cloud, entry):
    """A function making the provider to run over the fixture, the AwsReplay (or None), the routes."""
    routes = fixture_routes(entry)
    if cloud.strip is None:
        replay = AwsReplay(routes)
        return (lambda **extra: replay.attach(replayed_provider(sandbox, cloud, entry, **extra))), replay, routes
    serve(sandbox, cloud, cloud.prepare(sandbox, entry, routes) if cloud.prepare else routes)
    return (lambda **extra: replayed_provider(sandbox, cloud, entry, **extra)), None, routes


def route_key(cloud, route):
    if cloud.strip is None:
        return route["path"].rpartition(".")[2]
    return route["method"], route["path"][len(cloud.strip):]


def sent(sandbox, cloud, replay):
    """What the client asked for, in the keys of route_key()."""
    if replay is not None:
        return list(replay.asked)
    return [(r["method"], r["path"]) for r in sandbox.requests(provider=cloud.sim)]


def check_cloud_reading(sandbox, cloud, entry, expected):
    """``read()``, ``is_active()``, ``snapshot()`` and the Test over the fixture read it as ``expected``
    (the fields of the state, is_active, the writes an activation sends), from the very bodies recorded."""
    new, replay, routes = prepared(sandbox, cloud, entry)
    fields, active, _writes = expected
    provider = new()
    state = provider.read()
    assert {k: state.get(k) for k in fields} == fields, state
    assert provider.is_active(state) is active
    snapshot = provider.snapshot(state)
    assert json.loads(json.dumps(snapshot)) == snapshot, "the snapshot goes to the ledger as JSON"
    # The client read these very bodies: every read it sent was a recorded one, except the calls no
    # fixture records (OVH's clock, credential and block discovery).
    recorded = {route_key(cloud, r) for r in routes}
    asked = sent(sandbox, cloud, replay)
    assert recorded & set(asked), (recorded, asked)
    unrecorded = [a for a in asked if a not in recorded]
    assert all(a[1] in ("/auth/time", "/auth/currentCredential", "/ip") for a in unrecorded), unrecorded

    report = build_test_report(new())
    assert report["ok"], report
    assert report["state"] == state and report["active"] is active


def cloud_replay_tests(cloud, fixtures, expected):
    """The three tests every cloud provider's replay file runs over its recorded bodies; the file
    assigns them to module-level names so that pytest collects them there:

        (test_every_fixture_has_an_expectation, test_client_reads_the_fixture_right,
         test_activation_over_the_fixture) = cloud_replay_tests(CLOUD, FIXTURES, EXPECTED)

    ``expected``: fixture id -> (the state's fields, is_active, the writes an activation sends).
    """
    def test_every_fixture_has_an_expectation():
        assert sorted(ids(fixtures)) == sorted(expected), "a new fixture needs its expected reading here"

    @pytest.mark.parametrize("entry", fixtures, ids=ids(fixtures))
    def test_client_reads_the_fixture_right(sandbox, entry):
        check_cloud_reading(sandbox, cloud, entry, expected[entry["id"]])

    @pytest.mark.parametrize("entry", fixtures, ids=ids(fixtures))
    def test_activation_over_the_fixture(sandbox, entry):
        check_cloud_activation(sandbox, cloud, entry, expected[entry["id"]])

    return test_every_fixture_has_an_expectation, test_client_reads_the_fixture_right, test_activation_over_the_fixture


def check_cloud_activation(sandbox, cloud, entry, expected):
    """An activation over the fixture sends exactly the writes ``expected`` names ([(method, path, body)])."""
    new, replay, _routes = prepared(sandbox, cloud, entry)
    _fields, active, writes = expected
    provider = new()
    plan = plan_change(provider, "active")
    assert plan.changed is bool(writes)
    if plan.changed:
        execute(plan, wait=False)  # the recorded reads do not change after a write: nothing to wait for
    if replay is not None:
        assert [op for op in replay.asked if not op.startswith(("Get", "Describe", "List"))] == []
    else:
        prefix = sandbox.api_url(cloud.sim).split("://", 1)[1].split("/", 1)[1]
        got = [(w["method"], w["raw_path"].split("/" + prefix, 1)[1], w["body"])
               for w in sandbox.requests(provider=cloud.sim, writes_only=True)]
        assert got == writes
    result = plan.result()
    assert result["active"] is (True if writes else active)
    if not writes and not active:
        assert provider.warnings, "an activation that cannot protect says why"


def answered(sandbox, sim, path, body, method="GET"):
    """The sandbox, reset, answers ``body`` at ``path`` (a generated answer in place of the simulator's)."""
    sandbox.reset()
    sandbox.add_fault(provider=sim, method=method, path="^%s$" % re.escape(path), status=200,
                      body=json.dumps(body).encode(), count=-1)


def cloudflare_client(sandbox, cls, **params):
    """A Cloudflare client on the sandbox's Cloudflare, with the sandbox's read-write token."""
    return make_provider(cls, sleep=lambda s: None, api_url=sandbox.api_url("cloudflare"),
                         api_token="sandbox-cf-token-rw", retries=0, **params)


# -- firewall providers: a loopback server answering what the fixture recorded -------------------------------
class ReplayServer:
    """Serves ``routes`` ([{method, path, status, body | bodies}]); a route with ``bodies``
    answers them in turn and repeats the last. Every request is logged."""

    def __init__(self):
        self.routes, self.log, self.turn = [], [], {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                server.log.append({"method": self.command, "path": path, "query": parse_qs(urlsplit(self.path).query),
                                   "body": body.decode("utf-8")})
                status, payload = server.answer(self.command, path)
                data = json.dumps(payload).encode("utf-8") if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def load(self, routes):
        self.routes, self.turn = copy.deepcopy(routes), {}
        self.log.clear()

    def answer(self, method, path):
        for index, route in enumerate(self.routes):
            if route["method"] == method and route["path"] == path:
                if "bodies" in route:
                    turn = self.turn.get(index, 0)
                    self.turn[index] = turn + 1
                    return route.get("status", 200), route["bodies"][min(turn, len(route["bodies"]) - 1)]
                return route.get("status", 200), route.get("body")
        return 404, {"error": "not recorded: %s %s" % (method, path)}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def replay():
    server = ReplayServer()
    yield server
    server.stop()


class Firewall:
    """One firewall provider's replay: its class, fake credentials, sandbox simulator, where its
    base URL ends (so the recorded paths, /v4/... or /v2/..., are what it asks for), and whether
    it locks down (replaces the rules, keeping SSH open) or turns on the customer's own rules."""

    def __init__(self, cls, credentials, sim, api_prefix="", lockdown=True):
        self.cls, self.credentials, self.sim = cls, credentials, sim
        self.api_prefix, self.lockdown = api_prefix, lockdown


def new_provider(firewall, api_url, **params):
    """A provider with its argument spec's defaults filled in, as the module builds it."""
    values = dict(firewall.credentials, api_url=api_url, retries=0, wait_sleep=0.01)
    values.update(params)
    result = ArgumentSpecValidator(argument_spec(firewall.cls)).validate(values)
    assert not result.error_messages, result.error_messages
    return firewall.cls(result.validated_parameters, sleep=lambda s: None)


def run(provider, state, snapshot=None):
    plan = plan_change(provider, state, snapshot)
    after = execute(plan, wait=True, wait_timeout=5, wait_sleep=0.01) if plan.changed else None
    return plan.result(after)


def served(replay, firewall, entry):
    """The fixture loaded into the replay server; the client over it, and the fixture's routes."""
    routes = fixture_routes(entry)
    replay.load(routes)
    return new_provider(firewall, replay.url + firewall.api_prefix, **entry["params"]), routes


def assert_reads_only(replay):
    assert all(r["method"] == "GET" for r in replay.log), "reading writes nothing"


# Fields a write legitimately changes, left out of an object's comparison before and after.
VOLATILE = ("version", "fingerprint", "updated", "date_modified", "status_changed_at")


def assert_round_trip_restores(sandbox, firewall, params, observe, before):
    """Activate, then withdraw with the snapshot: ``observe()`` gives ``before`` back."""
    url = sandbox.api_url(firewall.sim)
    on = run(new_provider(firewall, url, **params), "active")
    assert on["active"], on
    if firewall.lockdown:
        history = sandbox.simulators[firewall.sim].ssh_history
        assert history and all(record[2] for record in history), "SSH open after every lockdown write"
    if firewall.lockdown or before["status"] != "active":
        assert on["changed"] and observe() != before
    off = run(new_provider(firewall, url, **params), "inactive", snapshot=on["snapshot"])
    assert not off["active"] or before.get("status") == "active"
    assert observe() == before


# -- lockdown then exact restore over rule sets generated from the spec of the write -------------------------
def merged_schema(node, root):
    """``node`` with local ``$ref``s replaced and ``allOf`` merged into one schema (the request
    schemas' field lists must be whole: every field of the spec is generated)."""
    if isinstance(node, list):
        return [merged_schema(v, root) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return merged_schema(target, root)
    node = {k: merged_schema(v, root) for k, v in node.items()}
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
    schema = merged_schema(media["schema"], spec)
    # An example of the whole request (Vultr has no per-field examples) gives each field a value.
    for example in (media.get("examples") or {}).values():
        for name, value in (example.get("value") or {}).items():
            schema["properties"].get(name, {}).setdefault("example", value)
    return schema


def writable(schema):
    """{field: schema} of an object schema, less what the API writes itself (readOnly)."""
    return {k: v for k, v in schema.get("properties", {}).items() if not v.get("readOnly")}


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


class RestoreCase:
    """One provider: how its rules are generated, seeded into the simulator and observed there."""

    def __init__(self, sim, cls, params, generate, maximal, seed, observe):
        self.sim, self.cls, self.params = sim, cls, params
        self.generate, self.maximal, self.seed, self.observe = generate, maximal, seed, observe


def seeded(sandbox, case, value):
    """Seed the simulator; what it holds then is the reference every field is compared with."""
    case.seed(sandbox, value)
    return case.observe(sandbox)


def check_every_field_through_the_module(sandbox, module_runner, case):
    """Every field of the spec at once, locked down and restored through the real module (``ansible -m``)."""
    value = case.maximal()
    before = seeded(sandbox, case, value)
    args = dict(case.params, api_url=sandbox.api_url(case.sim), wait_sleep=0.01)
    on = module_runner(case.cls.name, dict(args, state="active"))
    assert on["_rc"] == 0 and on["changed"], on
    assert case.observe(sandbox) != before, "the lockdown changed nothing: the round trip would prove nothing"
    off = module_runner(case.cls.name, dict(args, state="inactive", snapshot=on["snapshot"]))
    assert off["_rc"] == 0, off
    assert case.observe(sandbox) == before, "%s: the restore lost or changed a field" % case.sim


def check_any_rule_set_comes_back(sandbox, case):
    """Hypothesis over which optional fields are present, their values and the number of rules, in-process."""

    @EXAMPLE
    @given(case.generate)
    def round_trip(value):
        try:
            before = seeded(sandbox, case, value)
        except HttpError as exc:  # the simulator refuses it as the API would: not a rule set anyone has
            pytest.fail("generated an invalid %s rule set (%s): %r" % (case.sim, exc.message, value))
        base = dict(case.params, api_url=sandbox.api_url(case.sim), retries=2, wait_sleep=0.01)
        on = converge(make_provider(case.cls, sleep=lambda s: None, **base), "active")
        converge(make_provider(case.cls, sleep=lambda s: None, **base), "inactive", snapshot=on["snapshot"])
        assert case.observe(sandbox) == before
        assert not sandbox.spec_violations(), sandbox.spec_violations()[:1]

    round_trip()
