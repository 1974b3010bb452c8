"""The DigitalOcean Cloud Firewalls simulator behaves like the real API where clients trip:
full-replacement PUT, "0" ports out but refused in, names, pending status, exact-match rule
delete, scopes, error envelope, spec checking, and the SSH reachability record."""

from __future__ import annotations

import time

import requests

from ddos_sandbox.providers.digitalocean import (
    DROPLET, DROPLET_2, FIREWALL, FIREWALL_EMPTY, LOAD_BALANCER, TOKEN_FW_ONLY, TOKEN_RO, TOKEN_RW)

SSH_ANY = {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}


def call(sandbox, method, path, token=TOKEN_RW, **kwargs):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return requests.request(method, sandbox.api_url("digitalocean") + path, headers=headers, timeout=10, **kwargs)


def get(sandbox, fid=FIREWALL):
    resp = call(sandbox, "GET", "/v2/firewalls/" + fid)
    assert resp.status_code == 200
    return resp.json()["firewall"]


def sim(sandbox):
    return sandbox.simulators["digitalocean"]


def writable(fw):
    """What a correct client sends back: everything, with all-ports "0" rewritten."""
    def fix(rule):
        rule = dict(rule)
        if rule["protocol"] == "icmp":
            rule.pop("ports")
        elif rule["ports"] == "0":
            rule["ports"] = "all"
        return rule
    return {"name": fw["name"], "inbound_rules": [fix(r) for r in fw["inbound_rules"]],
            "outbound_rules": [fix(r) for r in fw["outbound_rules"]],
            "droplet_ids": fw["droplet_ids"], "tags": fw["tags"]}


def test_scenario_has_every_kind_of_rule(sandbox):
    fw = get(sandbox)
    assert fw["status"] == "succeeded" and fw["pending_changes"] == []
    assert fw["droplet_ids"] == [DROPLET, DROPLET_2] and fw["tags"] == ["web"]
    sources = [r["sources"] for r in fw["inbound_rules"]]
    assert {"load_balancer_uids": [LOAD_BALANCER]} in sources
    assert any("tags" in s for s in sources) and any(r["ports"] == "0" for r in fw["inbound_rules"])
    assert fw["outbound_rules"]
    listing = call(sandbox, "GET", "/v2/firewalls").json()
    assert listing["meta"]["total"] == 2 and {f["id"] for f in listing["firewalls"]} == {FIREWALL, FIREWALL_EMPTY}


def test_round_tripping_a_get_is_refused_for_the_zero_ports(sandbox):
    fw = get(sandbox)
    body = {k: fw[k] for k in ("name", "inbound_rules", "outbound_rules", "droplet_ids", "tags")}
    resp = call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=body)
    assert resp.status_code == 422
    assert resp.json()["id"] == "unprocessable_entity"
    assert resp.json()["message"] == "You must specify a positive value for ports"
    assert get(sandbox) == fw  # nothing changed
    # ICMP "all" is refused the same way (doctl #278); omitting ports is the way.
    body = writable(fw)
    body["inbound_rules"][-1]["ports"] = "all"
    assert call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=body).status_code == 422


def test_a_correct_full_put_keeps_everything_and_answers_zero_again(sandbox):
    fw = get(sandbox)
    resp = call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=writable(fw))
    assert resp.status_code == 200
    after = resp.json()["firewall"]
    for key in ("inbound_rules", "outbound_rules", "droplet_ids", "tags", "name"):
        assert after[key] == fw[key], key
    body = writable(fw)
    body["inbound_rules"][0]["ports"] = "1-65535"
    assert call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=body).json()["firewall"]["inbound_rules"][0][
        "ports"] == "0"


def test_put_is_a_full_replacement(sandbox):
    resp = call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json={"name": "web-firewall", "inbound_rules": [SSH_ANY]})
    assert resp.status_code == 200
    fw = get(sandbox)
    # The trap: omitted droplet_ids/tags detach them, omitted outbound_rules removes egress.
    assert fw["inbound_rules"] == [SSH_ANY]
    assert fw["outbound_rules"] == [] and fw["droplet_ids"] == [] and fw["tags"] == []
    assert sandbox.state()["digitalocean"]["firewalls"][FIREWALL]["droplet_ids"] == []


def test_name_format(sandbox):
    # The spec's pattern catches it before the API does; both answer an error, nothing changes.
    for bad in ("web firewall", "web_firewall", "-web"):
        resp = call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json={"name": bad, "inbound_rules": [SSH_ANY]})
        assert resp.status_code in (400, 422) and "id" in resp.json()
    assert len(sandbox.spec_violations()) == 3
    assert get(sandbox)["name"] == "web-firewall"
    sandbox.log.clear()


def test_pending_changes_until_the_apply_delay_passes(sandbox):
    sim(sandbox).apply_delay = 0.4
    fw = get(sandbox)
    body = writable(fw)
    body["droplet_ids"] = [DROPLET]
    after = call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=body).json()["firewall"]
    assert after["status"] == "waiting"
    assert {"droplet_id": DROPLET, "removing": False, "status": "waiting"} in after["pending_changes"]
    assert {"droplet_id": DROPLET_2, "removing": True, "status": "waiting"} in after["pending_changes"]
    assert get(sandbox)["status"] == "waiting"
    time.sleep(0.5)
    fw = get(sandbox)
    assert fw["status"] == "succeeded" and fw["pending_changes"] == []


def test_add_and_exact_match_delete_of_rules(sandbox):
    resp = call(sandbox, "POST", "/v2/firewalls/%s/rules" % FIREWALL, json={"inbound_rules": [SSH_ANY]})
    assert resp.status_code == 204 and resp.content == b""
    assert SSH_ANY in get(sandbox)["inbound_rules"]
    # Not exactly the stored rule (one address instead of two): nothing is removed.
    near = {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0"]}}
    resp = call(sandbox, "DELETE", "/v2/firewalls/%s/rules" % FIREWALL, json={"inbound_rules": [near]})
    assert resp.status_code == 204
    assert SSH_ANY in get(sandbox)["inbound_rules"]
    assert call(sandbox, "DELETE", "/v2/firewalls/%s/rules" % FIREWALL,
                json={"inbound_rules": [SSH_ANY]}).status_code == 204
    assert SSH_ANY not in get(sandbox)["inbound_rules"]
    # "0" is refused on this path too.
    zero = {"protocol": "udp", "ports": "0", "sources": {"droplet_ids": [DROPLET_2]}}
    resp = call(sandbox, "DELETE", "/v2/firewalls/%s/rules" % FIREWALL, json={"inbound_rules": [zero]})
    assert resp.status_code == 422


def test_auth_and_scopes(sandbox):
    resp = call(sandbox, "GET", "/v2/firewalls", token="sandbox-do-token-unknown")
    assert resp.status_code == 401 and resp.json()["id"] == "unauthorized"
    assert call(sandbox, "GET", "/v2/firewalls", token=None).status_code == 401
    assert call(sandbox, "GET", "/v2/firewalls/" + FIREWALL, token=TOKEN_RO).status_code == 200
    resp = call(sandbox, "POST", "/v2/firewalls/%s/rules" % FIREWALL, token=TOKEN_RO, json={"inbound_rules": [SSH_ANY]})
    assert resp.status_code == 403 and resp.json()["id"] == "forbidden" and resp.json()["message"]
    assert SSH_ANY not in get(sandbox)["inbound_rules"]


def test_not_found_and_rate_limit_envelopes(sandbox):
    resp = call(sandbox, "GET", "/v2/firewalls/00000000-0000-4000-8000-000000000000")
    assert resp.status_code == 404 and resp.json()["id"] == "not_found"
    sandbox.add_fault(provider="digitalocean", status=429, headers={"Retry-After": "3"})
    resp = call(sandbox, "GET", "/v2/firewalls")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.json()["id"] == "too_many_requests"


def test_spec_violations_are_caught(sandbox):
    bad = {"name": "web-firewall", "inbound_rules": [
        {"protocol": "sctp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0"]}}]}
    resp = call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=bad)
    assert resp.status_code == 400 and resp.json()["id"] == "bad_request"
    bad_devices = {"name": "x1", "droplet_ids": "all", "inbound_rules": []}
    assert call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=bad_devices).status_code == 400
    assert call(sandbox, "GET", "/v2/firewalls?per_page=500").status_code == 400
    assert len(sandbox.spec_violations()) == 3
    sandbox.log.clear()


def test_real_requests_pass_the_spec(sandbox):
    call(sandbox, "GET", "/v2/firewalls?page=1&per_page=1")
    call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json=writable(get(sandbox)))
    call(sandbox, "POST", "/v2/firewalls/%s/rules" % FIREWALL, json={"inbound_rules": [SSH_ANY]})
    assert not sandbox.spec_violations()


def test_pagination_links(sandbox):
    first = call(sandbox, "GET", "/v2/firewalls?per_page=1").json()
    assert len(first["firewalls"]) == 1 and first["meta"]["total"] == 2
    assert "page=2" in first["links"]["pages"]["next"] and "prev" not in first["links"]["pages"]
    second = call(sandbox, "GET", "/v2/firewalls?per_page=1&page=2").json()
    assert "next" not in second["links"]["pages"] and "page=1" in second["links"]["pages"]["prev"]
    assert first["firewalls"][0]["id"] != second["firewalls"][0]["id"]


def test_ssh_open_and_history(sandbox):
    s = sim(sandbox)
    assert not s.ssh_open(FIREWALL)                 # only 18.0.0.0/8 and tagged droplets may SSH
    assert s.ssh_open(FIREWALL, "18.1.2.3")         # ... which the source argument can check
    assert not s.ssh_open(FIREWALL_EMPTY)           # no inbound rule: nothing gets in
    call(sandbox, "POST", "/v2/firewalls/%s/rules" % FIREWALL, json={"inbound_rules": [SSH_ANY]})
    call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json={"name": "web-firewall", "inbound_rules": [
        {"protocol": "tcp", "ports": "all", "sources": {"addresses": ["0.0.0.0/0"]}}]})
    call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json={"name": "web-firewall", "outbound_rules": []})
    call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, json={"name": "bad name", "inbound_rules": []})  # refused
    assert s.ssh_history == [(1, FIREWALL, True), (2, FIREWALL, True), (3, FIREWALL, False)]
    sandbox.log.clear()


def test_put_attaching_droplets_or_tags_needs_their_read_scopes(sandbox):
    body = writable(get(sandbox))
    resp = call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, token=TOKEN_FW_ONLY, json=body)
    assert resp.status_code == 403 and resp.json()["id"] == "forbidden"
    body.update(droplet_ids=[], tags=[])
    assert call(sandbox, "PUT", "/v2/firewalls/" + FIREWALL, token=TOKEN_FW_ONLY, json=body).status_code == 200
    assert call(sandbox, "POST", "/v2/firewalls/%s/rules" % FIREWALL, token=TOKEN_FW_ONLY,
                json={"inbound_rules": [SSH_ANY]}).status_code == 204


def test_any_ports_on_icmp_are_refused(sandbox):
    fw = call(sandbox, "GET", "/v2/firewalls/%s" % FIREWALL).json()["firewall"]
    body = {"name": fw["name"], "droplet_ids": fw["droplet_ids"], "tags": fw["tags"], "outbound_rules": [],
            "inbound_rules": [{"protocol": "icmp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0"]}}]}
    answer = call(sandbox, "PUT", "/v2/firewalls/%s" % FIREWALL, json=body)
    assert answer.status_code == 422 and "icmp" in answer.json()["message"]
    del body["inbound_rules"][0]["ports"]
    assert call(sandbox, "PUT", "/v2/firewalls/%s" % FIREWALL, json=body).status_code == 200
