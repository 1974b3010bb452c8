"""The Vultr firewall-group simulator behaves like the real API where clients trip: rule ids
that change on re-create, cursor pagination, v4/v6, colon port ranges, port-less ICMP,
duplicate and over-limit rules refused, zero rules = all blocked, all-or-nothing keys with an
IP allow-list refusal, the error envelope, spec checking, and the SSH reachability record."""

from __future__ import annotations

import requests

from ddos_sandbox.providers.vultr import GROUP, GROUP_EMPTY, KEY, KEY_BLOCKED

SSH_V4 = {"ip_type": "v4", "protocol": "tcp", "port": "22", "subnet": "0.0.0.0", "subnet_size": 0,
          "notes": "ddos-lockdown"}
SSH_V6 = {"ip_type": "v6", "protocol": "tcp", "port": "22", "subnet": "::", "subnet_size": 0,
          "notes": "ddos-lockdown"}


def call(sandbox, method, path, key=KEY, **kwargs):
    headers = {"Authorization": "Bearer " + key} if key else {}
    return requests.request(method, sandbox.api_url("vultr") + path, headers=headers, timeout=10, **kwargs)


def all_rules(sandbox, group=GROUP, per_page=2):
    """Follow meta.links.next the way a client must."""
    rules, cursor, pages = [], "", 0
    while True:
        query = {"per_page": per_page}
        if cursor:
            query["cursor"] = cursor
        body = call(sandbox, "GET", "/firewalls/%s/rules" % group, params=query).json()
        rules += body["firewall_rules"]
        pages += 1
        cursor = body["meta"]["links"]["next"]
        if not cursor:
            return rules, pages, body["meta"]["total"]


def sim(sandbox):
    return sandbox.simulators["vultr"]


def test_scenario_and_group(sandbox):
    group = call(sandbox, "GET", "/firewalls/" + GROUP).json()["firewall_group"]
    assert group["rule_count"] == 5 and group["max_rule_count"] == 50 and group["instance_count"] == 2
    rules = call(sandbox, "GET", "/firewalls/%s/rules" % GROUP).json()["firewall_rules"]
    assert {r["ip_type"] for r in rules} == {"v4", "v6"} and all(r["action"] == "accept" for r in rules)
    assert all(r["type"] == r["ip_type"] for r in rules) and all(isinstance(r["id"], int) for r in rules)
    listing = call(sandbox, "GET", "/firewalls").json()
    assert {g["id"] for g in listing["firewall_groups"]} == {GROUP, GROUP_EMPTY}
    assert listing["meta"] == {"total": 2, "links": {"next": "", "prev": ""}}


def test_cursor_pagination_honours_small_pages(sandbox):
    everything = call(sandbox, "GET", "/firewalls/%s/rules" % GROUP).json()
    assert len(everything["firewall_rules"]) == 5 and everything["meta"]["links"]["next"] == ""
    rules, pages, total = all_rules(sandbox, per_page=2)
    assert pages == 3 and total == 5 and rules == everything["firewall_rules"]
    first = call(sandbox, "GET", "/firewalls/%s/rules?per_page=2" % GROUP).json()
    second = call(sandbox, "GET", "/firewalls/%s/rules" % GROUP,
                  params={"per_page": 2, "cursor": first["meta"]["links"]["next"]}).json()
    assert second["meta"]["links"]["prev"] and first["meta"]["links"]["prev"] == ""
    groups = call(sandbox, "GET", "/firewalls?per_page=1").json()
    assert len(groups["firewall_groups"]) == 1 and groups["meta"]["links"]["next"]


def test_rule_ids_change_on_recreate(sandbox):
    rule = call(sandbox, "GET", "/firewalls/%s/rules/2" % GROUP).json()["firewall_rule"]
    assert call(sandbox, "DELETE", "/firewalls/%s/rules/2" % GROUP).status_code == 204
    assert call(sandbox, "GET", "/firewalls/%s/rules/2" % GROUP).status_code == 404
    body = {k: rule[k] for k in ("ip_type", "protocol", "port", "subnet", "subnet_size", "source", "notes")}
    resp = call(sandbox, "POST", "/firewalls/%s/rules" % GROUP, json=body)
    assert resp.status_code == 201
    again = resp.json()["firewall_rule"]
    assert again["id"] != 2 and dict(again, id=2) == rule


def test_identical_rule_refused_and_max_rule_count(sandbox):
    assert call(sandbox, "POST", "/firewalls/%s/rules" % GROUP, json=SSH_V4).status_code == 201
    resp = call(sandbox, "POST", "/firewalls/%s/rules" % GROUP, json=dict(SSH_V4, notes="other notes"))
    assert resp.status_code == 400 and resp.json()["status"] == 400 and resp.json()["error"]
    sim(sandbox).groups[GROUP_EMPTY]["max_rule_count"] = 1
    assert call(sandbox, "POST", "/firewalls/%s/rules" % GROUP_EMPTY, json=SSH_V4).status_code == 201
    resp = call(sandbox, "POST", "/firewalls/%s/rules" % GROUP_EMPTY, json=SSH_V6)
    assert resp.status_code == 400 and "maximum" in resp.json()["error"]


def test_rule_shape_rules(sandbox):
    def create(**changes):
        return call(sandbox, "POST", "/firewalls/%s/rules" % GROUP_EMPTY, json=dict(SSH_V4, **changes))
    assert create(port="8000-9000").status_code == 400               # ranges use a colon
    assert create(port="8000:9000").status_code == 201
    assert create(protocol="icmp", port="").status_code == 201       # ICMP without a port
    assert create(protocol="icmp", port="22", notes="x").status_code == 400  # ICMP with one: refused
    assert create(subnet="::").status_code == 400                    # v6 subnet on a v4 rule
    assert create(ip_type="v6", subnet="::", subnet_size=129).status_code == 400
    assert create(ip_type="v6", subnet="::", subnet_size=0).status_code == 201
    assert create(ip_type="v5").status_code == 400
    rules = call(sandbox, "GET", "/firewalls/%s/rules" % GROUP_EMPTY).json()["firewall_rules"]
    assert [r["port"] for r in rules] == ["8000:9000", "", "22"]


def test_zero_rules_blocks_everything(sandbox):
    s = sim(sandbox)
    assert not s.ssh_open(GROUP_EMPTY)
    assert not s.ssh_open(GROUP)                   # SSH only from 198.51.100.0/24 ...
    assert s.ssh_open(GROUP, "198.51.100.7")       # ... which the source argument checks


def test_lockdown_order_keeps_ssh_open_at_every_step(sandbox):
    s = sim(sandbox)
    created = [call(sandbox, "POST", "/firewalls/%s/rules" % GROUP, json=r).json()["firewall_rule"]["id"]
               for r in (SSH_V4, SSH_V6)]
    for rule in all_rules(sandbox)[0]:
        if rule["id"] not in created:
            assert call(sandbox, "DELETE", "/firewalls/%s/rules/%d" % (GROUP, rule["id"])).status_code == 204
    assert len(s.ssh_history) == 7 and all(open_ for _n, _g, open_ in s.ssh_history)
    # The wrong order (delete everything first) shows up in the record.
    for rule_id in created:
        call(sandbox, "DELETE", "/firewalls/%s/rules/%d" % (GROUP, rule_id))
    assert s.ssh_history[-1] == (9, GROUP, False)
    assert call(sandbox, "GET", "/firewalls/" + GROUP).json()["firewall_group"]["rule_count"] == 0


def test_keys_and_error_envelope(sandbox):
    resp = call(sandbox, "GET", "/firewalls", key="sandbox-vultr-key-unknown")
    assert resp.status_code == 401 and resp.json() == {"error": "Invalid API token.", "status": 401}
    resp = call(sandbox, "POST", "/firewalls/%s/rules" % GROUP, key=KEY_BLOCKED, json=SSH_V4)
    assert resp.status_code == 403 and resp.json()["status"] == 403 and "IP" in resp.json()["error"]
    assert sim(sandbox).ssh_history == []
    resp = call(sandbox, "GET", "/firewalls/00000000-0000-4000-8000-000000000000")
    assert resp.status_code == 404 and resp.json()["status"] == 404
    sandbox.add_fault(provider="vultr", status=429, headers={"Retry-After": "2"})
    resp = call(sandbox, "GET", "/firewalls")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2" and resp.json()["status"] == 429


def test_spec_violations_are_caught(sandbox):
    resp = call(sandbox, "POST", "/firewalls/%s/rules" % GROUP, json=dict(SSH_V4, subnet_size="0"))  # vultr-node #449
    assert resp.status_code == 400 and resp.json()["status"] == 400
    incomplete = {"ip_type": "v4", "protocol": "tcp"}
    assert call(sandbox, "POST", "/firewalls/%s/rules" % GROUP, json=incomplete).status_code == 400
    assert call(sandbox, "GET", "/firewalls/%s/rules?per_page=many" % GROUP).status_code == 400
    assert len(sandbox.spec_violations()) == 3
    assert call(sandbox, "GET", "/firewalls/" + GROUP).json()["firewall_group"]["rule_count"] == 5
    sandbox.log.clear()


def test_a_scenario_without_keys_keeps_the_fake_ones(sandbox):
    sandbox.reset({"vultr": {"groups": [{"id": GROUP_EMPTY, "rules": [dict(SSH_V4)]}]}})
    listing = call(sandbox, "GET", "/firewalls").json()
    assert listing["meta"]["total"] == 1 and listing["firewall_groups"][0]["rule_count"] == 1
    assert sandbox.state()["vultr"]["firewall_groups"][GROUP_EMPTY]["rules"][0]["id"] == 1
    assert sim(sandbox).ssh_open(GROUP_EMPTY)
