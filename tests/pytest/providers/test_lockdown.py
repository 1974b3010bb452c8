"""Lockdown and exact restore on the DigitalOcean, Vultr and Linode sandboxes.

One table describes the three providers; every behaviour the issue names is tested on all
three: exact round trip, idempotency and check mode from the request log, SSH reachable after
every write, no snapshot of a firewall that is already locked down, on_withdraw, rate-limit
retries, the Test button, and a property-based round trip over random rule sets.
"""

from __future__ import annotations

import copy
import ipaddress
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import converge, make_provider
from ddos_sandbox.providers import digitalocean as do_sim
from ddos_sandbox.providers import linode as linode_sim
from ddos_sandbox.providers import vultr as vultr_sim

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._lockdown import parse_allow
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.digitalocean_firewall import (
    DigitalOceanFirewall)
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.linode_firewall import LinodeFirewall
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.vultr_firewall import VultrFirewall

EXAMPLES = int(os.environ.get("DDOS_HYPOTHESIS_EXAMPLES", "25"))


class Spec:
    def __init__(self, sim, cls, params, rules_of, unattached, readonly):
        self.sim, self.cls, self.params = sim, cls, params
        self.module = cls.name
        self.rules_of, self.unattached, self.readonly = rules_of, unattached, readonly


SPECS = {
    "digitalocean": Spec("digitalocean", DigitalOceanFirewall,
                         dict(api_token=do_sim.TOKEN_RW, firewall_id=do_sim.FIREWALL),
                         lambda state: {k: v for k, v in state["firewalls"][do_sim.FIREWALL].items()
                                        if k in ("name", "inbound_rules", "outbound_rules", "droplet_ids", "tags")},
                         dict(firewall_id=do_sim.FIREWALL_EMPTY), dict(api_token=do_sim.TOKEN_RO)),
    "vultr": Spec("vultr", VultrFirewall, dict(api_key=vultr_sim.KEY, firewall_group_id=vultr_sim.GROUP),
                  lambda state: sorted(tuple(sorted((k, v) for k, v in r.items() if k not in ("id", "type")))
                                       for r in state["firewall_groups"][vultr_sim.GROUP]["rules"]),
                  dict(firewall_group_id=vultr_sim.GROUP_EMPTY), None),
    "linode": Spec("linode", LinodeFirewall, dict(api_token=linode_sim.TOKEN_RW, firewall_id=linode_sim.FIREWALL),
                   lambda state: {k: v for k, v in state["firewalls"][linode_sim.FIREWALL]["rules"].items()
                                  if k not in ("version", "fingerprint")} | {
                       "status": state["firewalls"][linode_sim.FIREWALL]["status"]},
                   dict(firewall_id=linode_sim.FIREWALL_UNATTACHED), dict(api_token=linode_sim.TOKEN_RO)),
}


def provider(sandbox, spec, **params):
    base = dict(api_url=sandbox.api_url(spec.sim), retries=2, wait_sleep=0.01)
    base.update(spec.params)
    base.update(params)
    return make_provider(spec.cls, sleep=lambda s: None, **base)


def rules(sandbox, spec):
    return spec.rules_of(sandbox.state()[spec.sim])


@pytest.fixture(params=sorted(SPECS))
def spec(request):
    return SPECS[request.param]


def test_lockdown_then_exact_restore(sandbox, spec):
    original = rules(sandbox, spec)
    on = converge(provider(sandbox, spec), "active")
    assert on["changed"] and on["active"] and on["snapshot"]["inbound"]
    assert rules(sandbox, spec) != original
    sim = sandbox.simulators[spec.sim]
    assert sim.ssh_history and all(record[2] for record in sim.ssh_history), "SSH open after every lockdown write"
    off = converge(provider(sandbox, spec), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and not off["active"]
    assert rules(sandbox, spec) == original


def test_rerun_and_check_mode_make_no_write(sandbox, spec):
    checked = converge(provider(sandbox, spec), "active", check_mode=True)
    assert checked["changed"] and sandbox.requests(writes_only=True) == []
    on = converge(provider(sandbox, spec), "active")
    writes = len(sandbox.requests(writes_only=True))
    again = converge(provider(sandbox, spec), "active", snapshot=on["snapshot"])
    assert not again["changed"] and again["snapshot"] == on["snapshot"]
    assert len(sandbox.requests(writes_only=True)) == writes


def test_rerun_without_snapshot_while_locked_down_never_snapshots_the_lockdown(sandbox, spec):
    converge(provider(sandbox, spec), "active")
    again_provider = provider(sandbox, spec)
    again = converge(again_provider, "active")
    assert not again["changed"] and again["snapshot"] is None
    assert any("already locked down" in w for w in again_provider.warnings)


def test_withdraw_without_snapshot_fails_unless_allow_all(sandbox, spec):
    converge(provider(sandbox, spec), "active")
    writes = len(sandbox.requests(writes_only=True))
    with pytest.raises(ProviderError, match="needs the snapshot"):
        converge(provider(sandbox, spec), "inactive")
    assert len(sandbox.requests(writes_only=True)) == writes
    opened = converge(provider(sandbox, spec, on_withdraw="allow_all"), "inactive")
    assert opened["changed"] and not opened["active"]
    assert sandbox.simulators[spec.sim].ssh_open(spec.params.get("firewall_id") or spec.params["firewall_group_id"])


def test_custom_allow_list(sandbox, spec):
    allow = [{"protocol": "tcp", "ports": "22", "sources": ["198.51.100.0/24"]},
             {"protocol": "tcp", "ports": "8000-8100", "sources": ["0.0.0.0/0"]},
             {"protocol": "icmp", "sources": ["0.0.0.0/0", "::/0"]}]
    on = converge(provider(sandbox, spec, allow=allow), "active")
    assert on["changed"] and on["active"]
    fw = spec.params.get("firewall_id") or spec.params["firewall_group_id"]
    sim = sandbox.simulators[spec.sim]
    assert sim.ssh_open(fw, "198.51.100.7") and not sim.ssh_open(fw, "203.0.113.1")


@pytest.mark.parametrize("allow, message", [
    ([], "allow is empty"),
    ([{"protocol": "icmp", "ports": "22"}], "icmp has no ports"),
    ([{"protocol": "tcp", "ports": "70000"}], "within 1-65535"),
    ([{"protocol": "tcp", "ports": "22", "sources": ["not-a-net"]}], "not an IP address or CIDR"),
])
def test_bad_allow_lists_fail_before_any_call(sandbox, spec, allow, message):
    with pytest.raises(ProviderError, match=message):
        converge(provider(sandbox, spec, allow=allow), "active")
    assert sandbox.requests() == []


def test_rate_limit_answer_is_retried(sandbox, spec):
    sandbox.add_fault(provider=spec.sim, status=429, headers={"Retry-After": "1"}, count=1)
    assert converge(provider(sandbox, spec), "active")["changed"]
    assert sandbox.requests()[0]["status"] == 429


def test_test_button(sandbox, spec):
    original = rules(sandbox, spec)
    good = build_test_report(provider(sandbox, spec))
    assert good["ok"], good
    assert any(f["check"] == "write" and f["ok"] for f in good["findings"])
    unattached = build_test_report(provider(sandbox, spec, **spec.unattached))
    assert "protects nothing" in unattached["msg"]
    if spec.readonly:
        readonly = build_test_report(provider(sandbox, spec, **spec.readonly))
        assert not readonly["ok"] and "cannot write" in readonly["msg"]
    assert rules(sandbox, spec) == original, "the Test changes nothing"
    assert all(w["status"] in (200, 204, 403) for w in sandbox.requests(writes_only=True))


def test_parse_allow_default_is_ssh_from_anywhere():
    entries = parse_allow(None)
    assert [(e["protocol"], e["ports"], [str(s) for s in e["sources"]]) for e in entries] == [
        ("tcp", (22, 22), ["0.0.0.0/0", "::/0"])]


# -- provider traps ------------------------------------------------------------------------------------
def test_digitalocean_keeps_name_droplets_tags_outbound_and_normalises_zero_ports(sandbox):
    spec = SPECS["digitalocean"]
    before = rules(sandbox, spec)
    converge(provider(sandbox, spec), "active")
    after = rules(sandbox, spec)
    assert (after["name"], after["droplet_ids"], after["tags"], after["outbound_rules"]) == (
        before["name"], before["droplet_ids"], before["tags"], before["outbound_rules"])
    put = sandbox.requests(writes_only=True)[0]["body"]
    assert all(r.get("ports") != "0" for r in put["inbound_rules"] + put["outbound_rules"])


def test_digitalocean_waits_for_pending_changes(sandbox):
    spec = SPECS["digitalocean"]
    sandbox.simulators["digitalocean"].apply_delay = 0.2
    on = converge(provider(sandbox, spec), "active", wait_timeout=10)
    assert on["after"]["status"] == "succeeded" and not on["after"]["pending_changes"]


def test_vultr_adds_before_it_deletes_and_paginates(sandbox):
    spec = SPECS["vultr"]
    p = provider(sandbox, spec)
    p.page_size = 2  # the group has 5 rules: three pages
    on = converge(p, "active")
    methods = [w["method"] for w in sandbox.requests(writes_only=True)]
    assert methods.index("DELETE") > max(i for i, m in enumerate(methods) if m == "POST")
    gets = [r for r in sandbox.requests() if r["method"] == "GET" and r["path"].endswith("/rules")]
    assert len(gets) >= 3
    sandbox.log.clear()
    converge(provider(sandbox, spec), "inactive", snapshot=on["snapshot"])
    methods = [w["method"] for w in sandbox.requests(writes_only=True)]
    assert methods.index("DELETE") > max(i for i, m in enumerate(methods) if m == "POST")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_office_never_loses_ssh_at_any_step(sandbox, name, monkeypatch):
    """198.51.100.7 may use SSH before (the scenarios' office rule) and during the lockdown (from
    anywhere): after every single write of activation and restore it must still get in."""
    spec = SPECS[name]
    sim = sandbox.simulators[name]
    fw = spec.params.get("firewall_id") or spec.params["firewall_group_id"]
    if name == "digitalocean":  # its scenario's SSH rule is for 18.0.0.0/8: use that office
        office = "18.1.2.3"
    else:
        office = "198.51.100.7"
    assert sim.ssh_open(fw, office)
    steps = []
    monkeypatch.setattr(sim, "_record_ssh", lambda firewall_id: steps.append(sim.ssh_open(firewall_id, office)))
    on = converge(provider(sandbox, spec), "active")
    converge(provider(sandbox, spec), "inactive", snapshot=on["snapshot"])
    assert len(steps) >= 2 and all(steps), steps


def test_linode_sends_outbound_and_policies_and_restores_policy_and_status(sandbox):
    spec = SPECS["linode"]
    sandbox.simulators["linode"].firewalls[linode_sim.FIREWALL]["status"] = "disabled"
    original = rules(sandbox, spec)
    on = converge(provider(sandbox, spec), "active")
    locked = rules(sandbox, spec)
    assert locked["inbound_policy"] == "DROP" and locked["status"] == "enabled"
    assert locked["outbound"] == original["outbound"] and locked["outbound_policy"] == original["outbound_policy"]
    put = [w["body"] for w in sandbox.requests(writes_only=True) if w["path"].endswith("/rules")][0]
    assert set(put) == {"inbound", "inbound_policy", "outbound", "outbound_policy"}
    converge(provider(sandbox, spec), "inactive", snapshot=on["snapshot"])
    assert rules(sandbox, spec) == original


# -- property-based round trip -----------------------------------------------------------------------------
def _net(text):
    # APIs store networks normalised (host bits cleared): generate them that way.
    return str(ipaddress.ip_network(text, strict=False))


V4 = st.builds(lambda a, b, n: _net("10.%d.%d.0/%d" % (a, b, n)), st.integers(0, 255), st.integers(0, 255),
               st.sampled_from([16, 24, 32]))
V6 = st.builds(lambda a, n: _net("2001:db8:%x::/%d" % (a, n)), st.integers(0, 0xffff), st.sampled_from([48, 64]))
PORT = st.one_of(st.integers(1, 65535).map(str),
                 st.tuples(st.integers(1, 30000), st.integers(1, 30000)).map(lambda t: "%d-%d" % (min(t), max(t)) if
                                                                             t[0] != t[1] else str(t[0])))


@st.composite
def do_rules(draw):
    out = []
    for _rule in range(draw(st.integers(0, 6))):
        protocol = draw(st.sampled_from(["tcp", "udp", "icmp"]))
        sources = {}
        addrs = draw(st.lists(st.one_of(V4, V6), max_size=3, unique=True))
        if addrs:
            sources["addresses"] = addrs
        if draw(st.booleans()):
            sources["tags"] = draw(st.lists(st.sampled_from(["web", "db", "gateway"]), min_size=1, max_size=2,
                                            unique=True))
        if draw(st.booleans()):
            sources["droplet_ids"] = [do_sim.DROPLET]
        if not sources:
            sources["addresses"] = ["0.0.0.0/0"]
        rule = {"protocol": protocol, "sources": sources}
        rule["ports"] = "0" if protocol == "icmp" else draw(st.one_of(PORT, st.just("0")))
        out.append(rule)
    return out


@st.composite
def vultr_rules(draw):
    out, seen = [], set()
    for _rule in range(draw(st.integers(0, 8))):
        six = draw(st.booleans())
        net = draw(V6 if six else V4)
        addr, size = net.split("/")
        protocol = draw(st.sampled_from(["tcp", "udp", "icmp"]))
        port = "" if protocol == "icmp" else draw(PORT).replace("-", ":")
        rule = {"ip_type": "v6" if six else "v4", "protocol": protocol, "subnet": addr.replace("::/", "::"),
                "subnet_size": int(size), "port": port, "source": "", "notes": draw(st.sampled_from(["", "app"]))}
        key = (rule["ip_type"], protocol, rule["subnet"], rule["subnet_size"], port)
        if key not in seen:
            seen.add(key)
            out.append(rule)
    return out


@st.composite
def linode_rules(draw):
    inbound = []
    for i in range(draw(st.integers(0, 8))):
        protocol = draw(st.sampled_from(["TCP", "UDP", "ICMP"]))
        addresses = {}
        v4 = draw(st.lists(V4, max_size=2, unique=True))
        v6 = draw(st.lists(V6, max_size=2, unique=True))
        if v4:
            addresses["ipv4"] = v4
        if v6 or not v4:
            addresses["ipv6"] = v6 or ["::/0"]
        rule = {"label": "rule-%d" % i, "action": draw(st.sampled_from(["ACCEPT", "DROP"])), "protocol": protocol,
                "addresses": addresses}
        if protocol != "ICMP" and draw(st.booleans()):
            rule["ports"] = draw(PORT)
        inbound.append(rule)
    return {"inbound": inbound, "inbound_policy": draw(st.sampled_from(["ACCEPT", "DROP"])),
            "outbound": [], "outbound_policy": draw(st.sampled_from(["ACCEPT", "DROP"]))}


def _seed(sandbox, name, rules_value):
    sim = {"digitalocean": do_sim, "vultr": vultr_sim, "linode": linode_sim}[name]
    scenario = copy.deepcopy(sim.DEFAULT_SCENARIO)
    if name == "digitalocean":
        scenario["firewalls"][0]["inbound_rules"] = rules_value
    elif name == "vultr":
        scenario["groups"][0]["rules"] = rules_value
    else:
        scenario["firewalls"][0]["rules"] = rules_value
    sandbox.reset({name: scenario})


ROUND_TRIP = settings(max_examples=EXAMPLES, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("name, strategy", [("digitalocean", do_rules()), ("vultr", vultr_rules()),
                                            ("linode", linode_rules())])
def test_random_rule_sets_come_back_identical(sandbox, name, strategy):
    spec = SPECS[name]

    @ROUND_TRIP
    @given(strategy)
    def round_trip(rules_value):
        _seed(sandbox, name, rules_value)
        original = rules(sandbox, spec)
        on = converge(provider(sandbox, spec), "active")
        sim = sandbox.simulators[name]
        assert all(record[2] for record in sim.ssh_history), "SSH open after every lockdown write"
        converge(provider(sandbox, spec), "inactive", snapshot=on["snapshot"])
        assert rules(sandbox, spec) == original
        assert not sandbox.spec_violations(), sandbox.spec_violations()[:1]

    round_trip()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_module_end_to_end(sandbox, module_runner, name):
    spec = SPECS[name]
    args = dict(spec.params, api_url=sandbox.api_url(name), wait_sleep=0.01)
    original = rules(sandbox, spec)
    on = module_runner(spec.module, args)
    assert on["changed"] and on["active"], on
    secret = args.get("api_token") or args.get("api_key")
    assert secret not in on["_stdout"] + on["_stderr"]
    off = module_runner(spec.module, dict(args, state="inactive", snapshot=on["snapshot"]))
    assert off["changed"] and rules(sandbox, spec) == original
    info = module_runner(spec.module + "_info", {k: v for k, v in args.items() if k != "wait_sleep"})
    assert info["ok"], info


def test_linode_rule_limit_is_checked_before_any_write(sandbox):
    spec = SPECS["linode"]
    allow = [{"protocol": "tcp", "ports": str(port), "sources": ["0.0.0.0/0"]} for port in range(2000, 2025)]
    with pytest.raises(ProviderError, match="over Linode's limit of 25 rules"):
        converge(provider(sandbox, spec, allow=allow), "active")
    assert sandbox.requests(writes_only=True) == []


# -- identifier shapes: refused before any request (issue 10, defect 4) ----------------------------------
BAD_SHAPES = [
    ("digitalocean_firewall", dict(api_token=do_sim.TOKEN_RW, firewall_id=[do_sim.FIREWALL, do_sim.FIREWALL_EMPTY]),
     "firewall_id", "a UUID"),
    ("digitalocean_firewall", dict(api_token=do_sim.TOKEN_RW, firewall_id=do_sim.FIREWALL,
                                   allow=[{"protocol": "tcp", "ports": "22", "sources": ["10.0.0.0/33"]}]),
     "allow", "sources"),
    ("vultr_firewall", dict(api_key=vultr_sim.KEY, firewall_group_id=""), "firewall_group_id", "a UUID"),
    ("vultr_firewall", dict(api_key=vultr_sim.KEY, firewall_group_id=[vultr_sim.GROUP]), "firewall_group_id",
     "a UUID"),
    ("linode_firewall", dict(api_token=linode_sim.TOKEN_RW, firewall_id=0), "firewall_id", "a positive integer"),
    ("linode_firewall", dict(api_token=linode_sim.TOKEN_RW, firewall_id=linode_sim.FIREWALL,
                             allow=[{"protocol": "tcp", "ports": "22", "sources": ["office"]}]), "allow", "sources"),
    ("hetzner_firewall", dict(robot_user="#ws+sandbox", robot_password="sandbox-robot-password",
                              server_ip="server-1.example"), "server_ip", "an IP address"),
    ("hetzner_firewall", dict(robot_user="#ws+sandbox", robot_password="sandbox-robot-password",
                              server_number=-321), "server_number", "a positive integer"),
]
SIM_OF = {"digitalocean_firewall": "digitalocean", "vultr_firewall": "vultr", "linode_firewall": "linode",
          "hetzner_firewall": "hetzner"}


@pytest.mark.parametrize("module, args, option, shape", BAD_SHAPES,
                         ids=["%s-%s-%d" % (c[0], c[2], i) for i, c in enumerate(BAD_SHAPES)])
def test_module_refuses_a_malformed_identifier_before_any_request(sandbox, module_runner, module, args, option,
                                                                  shape):
    result = module_runner(module, dict(args, api_url=sandbox.api_url(SIM_OF[module])))
    assert result["_rc"] != 0 and "FAILED" in result["_stdout"], result
    assert result["msg"].startswith(module + ":") and "option %s must be" % option in result["msg"], result["msg"]
    assert shape in result["msg"], result["msg"]
    assert sandbox.requests() == [], "a malformed identifier must never reach the API"
    for secret in ("sandbox-do-token-rw", vultr_sim.KEY, linode_sim.TOKEN_RW, "sandbox-robot-password"):
        assert secret not in result["_stdout"] + result["_stderr"]


def test_inventory_refuses_malformed_identifiers_before_any_request(sandbox, tmp_path):
    import json

    from conftest import run_playbook

    hosts = {}
    for index, (module, args, _option, _shape) in enumerate(BAD_SHAPES):
        hosts["bad-%d" % index] = {"scrubbing_provider": module,
                                   "scrubbing_options": dict(args, api_url=sandbox.api_url(SIM_OF[module]))}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"scrubbing_integrations": {"hosts": hosts}}))
    proc = run_playbook("incident", sandbox, tmp_path / "ledger.json", {"incident": {"id": "A", "status": "started"}},
                        inventory=str(inventory))
    assert proc.returncode != 0, proc.output
    for index, (module, _args, option, shape) in enumerate(BAD_SHAPES):
        expected = "integration bad-%d (%s): scrubbing_options: option %s must be " % (index, module, option)
        assert expected in proc.output, (expected, proc.output[-3000:])
        assert shape in proc.output.split(expected, 1)[1].split("integration bad-")[0]
    assert sandbox.requests() == [], "a malformed identifier must never reach the API"
    assert "sandbox-robot-password" not in proc.output and linode_sim.TOKEN_RW not in proc.output


# -- Linode Rule Sets (issue 10, defect 5) ---------------------------------------------------------------
def _linode_with_rulesets(sandbox):
    scenario = copy.deepcopy(linode_sim.DEFAULT_SCENARIO)
    scenario["rulesets"] = {
        "7": [{"label": "office-ssh", "action": "ACCEPT", "protocol": "TCP", "ports": "22",
               "addresses": {"ipv4": ["198.51.100.0/24"]}}],
        "8": [{"label": "no-smtp", "action": "DROP", "protocol": "TCP", "ports": "25",
               "addresses": {"ipv4": ["0.0.0.0/0"]}}]}
    rules_value = scenario["firewalls"][0]["rules"]
    rules_value["inbound"].insert(1, {"ruleset": 7})
    rules_value["outbound"].append({"ruleset": 8})
    sandbox.reset({"linode": scenario})


def test_linode_rule_set_references_survive_lockdown_and_restore(sandbox):
    spec = SPECS["linode"]
    _linode_with_rulesets(sandbox)
    original = rules(sandbox, spec)
    assert {"ruleset": 7} in original["inbound"] and {"ruleset": 8} in original["outbound"]
    on = converge(provider(sandbox, spec), "active")
    assert on["changed"] and on["active"] and {"ruleset": 7} in on["snapshot"]["inbound"]
    locked = rules(sandbox, spec)
    assert {"ruleset": 8} in locked["outbound"], "outbound Rule Sets stay during the lockdown"
    off = converge(provider(sandbox, spec), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and rules(sandbox, spec) == original
    report = build_test_report(provider(sandbox, spec))
    assert report["ok"] and "inbound ruleset 7" in report["msg"] and "outbound ruleset 8" in report["msg"], report


def test_linode_simulator_refuses_a_rule_set_reference_with_rule_fields(sandbox):
    _linode_with_rulesets(sandbox)
    p = provider(sandbox, SPECS["linode"])
    # The reference shape is exclusive (linodego: "mutually exclusive with ordinary rule fields").
    with pytest.raises(ProviderError, match="HTTP 400.*ruleset"):
        p.http.request("PUT", "/networking/firewalls/%d/rules" % linode_sim.FIREWALL, json_body={
            "inbound": [{"ruleset": 7, "action": "ACCEPT"}], "inbound_policy": "DROP", "outbound": [],
            "outbound_policy": "ACCEPT"})
    sandbox.log.clear()  # that request broke the spec on purpose


# -- the Test button checks the limits activation will hit (issue 9, item 6) -------------------------------
def _sources(count):
    return ["10.%d.%d.0/24" % (i // 256, i % 256) for i in range(count)]


@pytest.mark.parametrize("name, count", [("linode", 3000), ("linode", 7000), ("vultr", 3000), ("vultr", 40),
                                         ("digitalocean", 3000)])
def test_test_button_agrees_with_activation_on_long_allow_lists(sandbox, name, count):
    spec = SPECS[name]
    allow = [{"protocol": "tcp", "ports": "22", "sources": _sources(count)}]
    report = build_test_report(provider(sandbox, spec, allow=allow))
    assert sandbox.requests(writes_only=True) == [] or name != "vultr"
    writes_before = len(sandbox.requests(writes_only=True))
    try:
        converge(provider(sandbox, spec, allow=allow), "active")
        activated, error = True, None
    except ProviderError as exc:
        activated, error = False, str(exc)
    assert report["ok"] == activated, (report["msg"], error)
    if not activated:
        assert "activation would fail" in report["msg"] and "limit" in report["msg"] + error
        assert len(sandbox.requests(writes_only=True)) == writes_before, "refused before any write"


def test_linode_test_button_counts_devices_on_every_page(sandbox):
    spec = SPECS["linode"]
    scenario = copy.deepcopy(linode_sim.DEFAULT_SCENARIO)
    scenario["firewalls"][0]["devices"] = list(range(200001, 200031))  # 30 Linodes
    sandbox.reset({"linode": scenario})
    p = provider(sandbox, spec)
    p.page_size = 25  # Linode's smallest page: two pages
    report = build_test_report(p)
    assert "attached to 30 device(s)" in [f["detail"] for f in report["findings"] if f["check"] == "attached"][0]
    pages = [r for r in sandbox.requests() if r["path"].endswith("/devices")]
    assert len(pages) == 2


def test_two_integrations_on_one_firewall_are_refused(sandbox, tmp_path):
    """Each provider names the object it acts on (``identity``): the same firewall in two
    workspaces would be restored by one workspace while the other is still under attack."""
    import json

    from conftest import run_playbook

    same = {
        "digitalocean_firewall": dict(api_token=do_sim.TOKEN_RW, firewall_id=do_sim.FIREWALL),
        "vultr_firewall": dict(api_key=vultr_sim.KEY, firewall_group_id=vultr_sim.GROUP),
        "linode_firewall": dict(api_token=linode_sim.TOKEN_RW, firewall_id=linode_sim.FIREWALL),
        "hetzner_firewall": dict(robot_user="#ws+sandbox", robot_password="sandbox-robot-password", server_number=321),
    }
    hosts = {}
    for module, options in same.items():
        for workspace in ("alpha", "beta"):
            hosts["%s-%s" % (module, workspace)] = {"scrubbing_provider": module, "scrubbing_workspace": workspace,
                                                    "scrubbing_options": dict(options,
                                                                              api_url=sandbox.api_url(SIM_OF[module]))}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"scrubbing_integrations": {"hosts": hosts}}))
    proc = run_playbook("incident", sandbox, tmp_path / "ledger.json",
                        {"incident": {"id": "A", "status": "started", "workspace": "alpha"}}, inventory=str(inventory))
    assert proc.returncode != 0, proc.output
    for module in same:
        line = [text for text in proc.output.splitlines() if "%s-alpha and %s-beta" % (module, module) in text]
        assert line and module in line[0], (module, proc.output[-2000:])
    assert sandbox.requests() == []


def test_digitalocean_test_names_rules_without_sources(sandbox):
    spec = SPECS["digitalocean"]
    scenario = copy.deepcopy(do_sim.DEFAULT_SCENARIO)
    scenario["firewalls"][0]["inbound_rules"].append({"protocol": "tcp", "ports": "443", "sources": {}})
    sandbox.reset({"digitalocean": scenario})
    report = build_test_report(provider(sandbox, spec))
    assert report["ok"] and "inbound rule(s) 6 have no source at all" in report["msg"], report["msg"]
