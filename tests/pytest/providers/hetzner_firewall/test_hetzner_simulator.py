"""The Hetzner Robot simulator behaves like Robot where clients trip: a status-only POST wipes
the rules, form fields are validated (400 INVALID_INPUT with the invalid list), writes during
``in process`` fail, servers by number or main IP, basic auth with the login block, and the
403 rate-limit answer."""

from __future__ import annotations

import time

import requests

from ddos_sandbox.providers.hetzner import BARE_SERVER, SERVER, SERVER_IP

AUTH = ("#ws+sandbox", "sandbox-robot-password")


def call(sandbox, method, path, auth=AUTH, **kwargs):
    return requests.request(method, sandbox.api_url("hetzner") + path, auth=auth, timeout=10, **kwargs)


def sim(sandbox):
    return sandbox.simulators["hetzner"]


def error(response):
    return response.json()["error"]


def test_get_by_number_or_main_ip_and_the_server_list(sandbox):
    by_number = call(sandbox, "GET", "/firewall/%d" % SERVER).json()["firewall"]
    by_ip = call(sandbox, "GET", "/firewall/" + SERVER_IP).json()["firewall"]
    assert by_number == by_ip and by_number["server_number"] == SERVER and len(by_number["rules"]["input"]) == 3
    servers = [s["server"] for s in call(sandbox, "GET", "/server").json()]
    assert [(s["server_number"], s["server_ip"]) for s in servers][0] == (SERVER, SERVER_IP)
    missing = call(sandbox, "GET", "/firewall/203.0.113.99")
    assert missing.status_code == 404 and error(missing)["code"] == "SERVER_NOT_FOUND"


def test_a_status_only_post_wipes_the_rules(sandbox):
    # The trap this collection exists to avoid: Robot replaces the whole configuration.
    answer = call(sandbox, "POST", "/firewall/%d" % SERVER, data={"status": "active"})
    assert answer.status_code == 200 and answer.json()["firewall"]["rules"] == {"input": [], "output": []}
    assert sandbox.state()["hetzner"][str(SERVER)]["rules"] == {"input": [], "output": []}


def test_a_full_post_keeps_what_it_sends(sandbox):
    form = {"status": "active", "filter_ipv6": "true", "whitelist_hos": "false", "port": "kvm",
            "rules[input][0][name]": "Allow SSH", "rules[input][0][ip_version]": "ipv4",
            "rules[input][0][dst_port]": "22", "rules[input][0][protocol]": "tcp",
            "rules[input][0][action]": "accept"}
    firewall = call(sandbox, "POST", "/firewall/%d" % BARE_SERVER, data=form).json()["firewall"]
    assert firewall["filter_ipv6"] is True and firewall["whitelist_hos"] is False and firewall["port"] == "kvm"
    assert firewall["rules"]["input"][0]["dst_port"] == "22" and firewall["rules"]["input"][0]["src_ip"] is None


def test_invalid_form_fields_are_listed_like_robot_does(sandbox):
    bad = {"status": "on", "filter_ipv6": "yes", "port": "eth0", "colour": "red",
           "rules[input][0][protocol]": "sctp", "rules[input][0][action]": "allow",
           "rules[input][0][ip_version]": "ipv4", "rules[input][0][src_ip]": "not-an-ip",
           "rules[input][0][dst_port]": "22:80", "rules[input][0][name]": "no/slash",
           "rules[input][0][colour]": "red",
           "rules[output][0][src_ip]": "192.0.2.1", "rules[output][0][action]": "accept"}
    answer = call(sandbox, "POST", "/firewall/%d" % SERVER, data=bad)
    assert answer.status_code == 400 and error(answer)["code"] == "INVALID_INPUT"
    assert set(error(answer)["invalid"]) == {
        "status", "filter_ipv6", "port", "colour", "rules[input][0][colour]", "rules[input][0][protocol]",
        "rules[input][0][action]", "rules[input][0][src_ip]", "rules[input][0][dst_port]",
        "rules[input][0][name]", "rules[output][0][ip_version]"}
    assert len(sandbox.state()["hetzner"][str(SERVER)]["rules"]["input"]) == 3  # nothing was applied


def test_at_most_ten_rules_per_direction_indexed_from_zero(sandbox):
    form = {"status": "active"}
    for index in range(11):
        form["rules[input][%d][action]" % index] = "accept"
    assert error(call(sandbox, "POST", "/firewall/%d" % SERVER, data=form))["invalid"] == ["rules[input]"]
    gap = {"status": "active", "rules[input][1][action]": "accept"}
    assert error(call(sandbox, "POST", "/firewall/%d" % SERVER, data=gap))["invalid"] == ["rules[input]"]


def test_in_process_after_a_post_and_writes_refused_meanwhile(sandbox):
    sim(sandbox).apply_delay = 0.3
    call(sandbox, "POST", "/firewall/%d" % BARE_SERVER, data={"status": "active"})
    assert call(sandbox, "GET", "/firewall/%d" % BARE_SERVER).json()["firewall"]["status"] == "in process"
    busy = call(sandbox, "POST", "/firewall/%d" % BARE_SERVER, data={"status": "disabled"})
    assert busy.status_code == 409 and error(busy)["code"] == "FIREWALL_IN_PROCESS"
    time.sleep(0.35)
    assert call(sandbox, "GET", "/firewall/%d" % BARE_SERVER).json()["firewall"]["status"] == "active"


def test_three_failed_logins_block_even_good_credentials(sandbox):
    assert call(sandbox, "GET", "/server", auth=None).status_code == 401
    assert call(sandbox, "GET", "/server", auth=("#ws+sandbox", "wrong")).status_code == 401
    assert call(sandbox, "GET", "/server", auth=("robot-login", "sandbox-robot-password")).status_code == 401
    blocked = call(sandbox, "GET", "/server")
    assert blocked.status_code == 403 and error(blocked)["code"] == "BLOCKED"


def test_a_good_login_resets_the_failure_count(sandbox):
    for _attempt in range(2):
        assert call(sandbox, "GET", "/server", auth=("#ws+sandbox", "wrong")).status_code == 401
        assert call(sandbox, "GET", "/server").status_code == 200


def test_rate_limit_is_a_403_with_robot_fields(sandbox):
    sim(sandbox).rate_limited = 1
    limited = call(sandbox, "GET", "/firewall/%d" % SERVER)
    assert limited.status_code == 403
    assert error(limited)["code"] == "RATE_LIMIT_EXCEEDED" and error(limited)["interval"] == 1
    assert "max_requests" in error(limited)
    assert call(sandbox, "GET", "/firewall/%d" % SERVER).status_code == 200
