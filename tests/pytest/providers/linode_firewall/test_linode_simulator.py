"""The Linode Cloud Firewalls simulator behaves like the real API where clients trip: the
rules PUT replacing both directions and policies, version/fingerprint, history, address
normalisation, label/ports/count limits, devices, status, scopes, the errors envelope, spec
checking, and the SSH reachability record."""

from __future__ import annotations

import requests

from ddos_sandbox.providers.linode import FIREWALL, FIREWALL_UNATTACHED, LINODE, TOKEN_RO, TOKEN_RW

SSH_ONLY = {"label": "ssh-only", "action": "ACCEPT", "protocol": "TCP", "ports": "22",
            "addresses": {"ipv4": ["0.0.0.0/0"], "ipv6": ["::/0"]}}
KEYS = ("inbound", "inbound_policy", "outbound", "outbound_policy")


def call(sandbox, method, path, token=TOKEN_RW, **kwargs):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return requests.request(method, sandbox.api_url("linode") + path, headers=headers, timeout=10, **kwargs)


def rules(sandbox, fid=FIREWALL):
    resp = call(sandbox, "GET", "/networking/firewalls/%d/rules" % fid)
    assert resp.status_code == 200
    return resp.json()


def put_rules(sandbox, body, fid=FIREWALL, **kwargs):
    return call(sandbox, "PUT", "/networking/firewalls/%d/rules" % fid, json=body, **kwargs)


def sim(sandbox):
    return sandbox.simulators["linode"]


def test_scenario_devices_and_listing(sandbox):
    fw = call(sandbox, "GET", "/networking/firewalls/%d" % FIREWALL).json()
    assert fw["status"] == "enabled" and fw["rules"]["inbound"] and fw["rules"]["outbound"]
    assert fw["rules"]["inbound_policy"] == "DROP" and fw["rules"]["outbound_policy"] == "ACCEPT"
    assert len(fw["rules"]["fingerprint"]) == 8 and fw["rules"]["version"] == 1
    devices = call(sandbox, "GET", "/networking/firewalls/%d/devices" % FIREWALL).json()
    assert devices["results"] == 1 and devices["data"][0]["entity"]["id"] == LINODE
    assert devices["data"][0]["entity"]["type"] == "linode"
    none = call(sandbox, "GET", "/networking/firewalls/%d/devices" % FIREWALL_UNATTACHED).json()
    assert none == {"data": [], "page": 1, "pages": 1, "results": 0}
    listing = call(sandbox, "GET", "/networking/firewalls?page=1&page_size=25").json()
    assert listing["results"] == 2 and listing["pages"] == 1 and len(listing["data"]) == 2
    assert sandbox.state()["linode"]["firewalls"][FIREWALL]["devices"] == [LINODE]


def test_rules_put_replaces_both_directions_and_policies(sandbox):
    before = rules(sandbox)
    assert before["outbound"]
    resp = put_rules(sandbox, {"inbound": [SSH_ONLY], "inbound_policy": "DROP"})
    assert resp.status_code == 200
    after = resp.json()
    # The trap: outbound rules gone, outbound policy back to the default.
    assert after["outbound"] == [] and after["outbound_policy"] == "ACCEPT"
    assert after["inbound"] == [SSH_ONLY] and rules(sandbox) == after
    # Only inbound sent, no policy: the policy falls back to the default too.
    assert put_rules(sandbox, {"inbound": [SSH_ONLY]}).json()["inbound_policy"] == "ACCEPT"


def test_a_correct_put_keeps_outbound(sandbox):
    before = rules(sandbox)
    body = {k: before[k] for k in KEYS}
    body["inbound"] = [SSH_ONLY]
    body["inbound_policy"] = "DROP"
    after = put_rules(sandbox, body).json()
    assert after["outbound"] == before["outbound"] and after["outbound_policy"] == before["outbound_policy"]


def test_version_fingerprint_and_history(sandbox):
    before = rules(sandbox)
    same = put_rules(sandbox, {k: before[k] for k in KEYS}).json()
    assert same["version"] == before["version"] + 1 and same["fingerprint"] == before["fingerprint"]
    changed = put_rules(sandbox, dict({k: before[k] for k in KEYS}, inbound=[SSH_ONLY])).json()
    assert changed["version"] == before["version"] + 2 and changed["fingerprint"] != before["fingerprint"]
    history = call(sandbox, "GET", "/networking/firewalls/%d/history" % FIREWALL).json()
    assert [h["rules"]["version"] for h in history["data"]] == [1, 2, 3]
    old = call(sandbox, "GET", "/networking/firewalls/%d/history/rules/1" % FIREWALL).json()
    assert old == before


def test_a_round_tripped_get_with_version_and_fingerprint_breaks_the_spec(sandbox):
    before = rules(sandbox)
    resp = put_rules(sandbox, before)
    assert resp.status_code == 400 and "read-only" in resp.json()["errors"][0]["reason"]
    assert len(sandbox.spec_violations()) == 1 and rules(sandbox) == before
    sandbox.log.clear()


def test_addresses_are_normalised(sandbox):
    rule = dict(SSH_ONLY, addresses={"ipv4": ["1.2.3.4", "10.0.0.0/8"], "ipv6": ["2001:DB8:0:0::1", "pl::vpcs:1234"]})
    stored = put_rules(sandbox, {"inbound": [rule], "inbound_policy": "DROP", "outbound": [],
                                 "outbound_policy": "ACCEPT"}).json()["inbound"][0]["addresses"]
    assert stored == {"ipv4": ["1.2.3.4/32", "10.0.0.0/8"], "ipv6": ["2001:db8::1/128", "pl::vpcs:1234"]}


def test_validation_errors_name_their_field(sandbox):
    body = {"inbound": [dict(SSH_ONLY, label="1-starts-with-digit"),
                        dict(SSH_ONLY, label="ping-rule", protocol="ICMP"),          # ports on ICMP
                        dict(SSH_ONLY, label="bad-ports", ports="022"),
                        dict(SSH_ONLY, label="backwards", ports="30-20"),
                        dict(SSH_ONLY, label="too-many", ports=", ".join(str(p) for p in range(1, 17))),
                        dict(SSH_ONLY, label="wrong-family", addresses={"ipv4": ["::/0"]}),
                        dict(SSH_ONLY, label="no-addresses", addresses={})],
            "inbound_policy": "DROP", "outbound": [], "outbound_policy": "ACCEPT"}
    resp = put_rules(sandbox, body)
    assert resp.status_code == 400
    fields = [e["field"] for e in resp.json()["errors"]]
    assert fields == ["inbound[0].label", "inbound[1].ports", "inbound[2].ports", "inbound[3].ports",
                      "inbound[4].ports", "inbound[5].addresses.ipv4", "inbound[6].addresses"]
    assert rules(sandbox)["version"] == 1


def test_limits(sandbox):
    many = [dict(SSH_ONLY, label="rule-%d" % i) for i in range(26)]
    resp = put_rules(sandbox, {"inbound": many, "inbound_policy": "DROP", "outbound": [], "outbound_policy": "ACCEPT"})
    assert resp.status_code == 400 and "25" in resp.json()["errors"][0]["reason"]
    ok = put_rules(sandbox, {"inbound": many[:13], "inbound_policy": "DROP", "outbound": many[13:25],
                             "outbound_policy": "ACCEPT"})
    assert ok.status_code == 200
    wide = dict(SSH_ONLY, addresses={"ipv4": ["10.0.%d.%d" % (i // 250, i % 250) for i in range(256)]})
    resp = put_rules(sandbox, {"inbound": [wide], "inbound_policy": "DROP", "outbound": [],
                               "outbound_policy": "ACCEPT"})
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "inbound[0].addresses"


def test_firewall_label_status_and_uniqueness(sandbox):
    path = "/networking/firewalls/%d" % FIREWALL
    assert call(sandbox, "PUT", path, json={"status": "disabled"}).json()["status"] == "disabled"
    resp = call(sandbox, "PUT", path, json={"label": "spare-firewall"})
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "label"
    resp = call(sandbox, "PUT", path, json={"label": "web--firewall"})  # spec pattern
    assert resp.status_code == 400
    assert call(sandbox, "PUT", path, json={"label": "web.fw_2"}).json()["label"] == "web.fw_2"
    assert len(sandbox.spec_violations()) == 1
    sandbox.log.clear()


def test_tokens_and_envelopes(sandbox):
    resp = call(sandbox, "GET", "/networking/firewalls", token="sandbox-linode-token-unknown")
    assert resp.status_code == 401 and resp.json()["errors"][0]["reason"]
    assert call(sandbox, "GET", "/networking/firewalls/%d/rules" % FIREWALL, token=TOKEN_RO).status_code == 200
    resp = put_rules(sandbox, {"inbound": [SSH_ONLY]}, token=TOKEN_RO)
    assert resp.status_code == 403 and resp.json()["errors"][0]["reason"]
    assert rules(sandbox)["version"] == 1
    assert call(sandbox, "GET", "/networking/firewalls/999").status_code == 404
    sandbox.add_fault(provider="linode", status=429, headers={"Retry-After": "5"})
    resp = call(sandbox, "GET", "/networking/firewalls")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "5" and resp.json()["errors"][0]["reason"]


def test_spec_violations_are_caught(sandbox):
    assert put_rules(sandbox, {"inbound": [dict(SSH_ONLY, protocol="tcp")]}).status_code == 400
    assert put_rules(sandbox, {"inbound": [SSH_ONLY], "inbound_policy": "REJECT"}).status_code == 400
    assert call(sandbox, "GET", "/networking/firewalls?page_size=10").status_code == 400
    assert len(sandbox.spec_violations()) == 3 and rules(sandbox)["version"] == 1
    sandbox.log.clear()


def test_ssh_open_and_history(sandbox):
    s = sim(sandbox)
    assert not s.ssh_open(FIREWALL)                  # SSH only from the office, policy DROP
    assert s.ssh_open(FIREWALL, "198.51.100.9")
    assert s.ssh_open(FIREWALL_UNATTACHED)           # no rules, policy ACCEPT
    base = {k: rules(sandbox)[k] for k in KEYS}
    put_rules(sandbox, dict(base, inbound=[SSH_ONLY] + base["inbound"]))
    drop_first = dict(SSH_ONLY, label="drop-ten", action="DROP", addresses={"ipv4": ["10.0.0.0/8"]})
    put_rules(sandbox, dict(base, inbound=[drop_first, SSH_ONLY]))       # part of the Internet dropped
    put_rules(sandbox, dict(base, inbound=[], inbound_policy="DROP"))
    call(sandbox, "PUT", "/networking/firewalls/%d" % FIREWALL, json={"status": "disabled"})  # enforces nothing
    assert s.ssh_history == [(1, FIREWALL, True), (2, FIREWALL, False), (3, FIREWALL, False), (4, FIREWALL, True)]


def test_rule_sets_extended_protocols_and_ssh(sandbox):
    """Beyond the 4.189.0 spec, as the live API answers (linodego cassettes, REFERENCE §8/§9):
    a Rule Set reference applies its rules in its place; ALL and IP protocol numbers are rules."""
    import copy

    from ddos_sandbox.providers.linode import DEFAULT_SCENARIO

    scenario = copy.deepcopy(DEFAULT_SCENARIO)
    scenario["rulesets"] = {"7": [dict(SSH_ONLY, label="ssh-in-set")]}
    sandbox.reset({"linode": scenario})
    base = {k: rules(sandbox)[k] for k in KEYS}
    s = sim(sandbox)
    assert put_rules(sandbox, dict(base, inbound=[{"ruleset": 7}], inbound_policy="DROP")).status_code == 200
    assert rules(sandbox)["inbound"] == [{"ruleset": 7}] and s.ssh_open(FIREWALL)
    unknown = put_rules(sandbox, dict(base, inbound=[{"ruleset": 8}]))
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "inbound[0].ruleset"
    every = dict(SSH_ONLY, label="all-in", protocol="ALL")
    del every["ports"]
    esp = dict(every, label="esp-in", protocol="50")
    assert put_rules(sandbox, dict(base, inbound=[esp, every], inbound_policy="DROP")).status_code == 200
    assert s.ssh_open(FIREWALL), "ALL covers TCP 22"
    ported_esp = put_rules(sandbox, dict(base, inbound=[dict(esp, ports="22")]))
    assert ported_esp.status_code == 400
    assert s.ssh_history == [(1, FIREWALL, True), (2, FIREWALL, True)]
