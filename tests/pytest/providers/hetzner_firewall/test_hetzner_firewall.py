"""Hetzner Robot firewall against the sandbox: rules never wiped, in-process waits, no 401
retry, Robot's 403 rate limit retried, server lookup, Test warnings."""

from __future__ import annotations

import time

import pytest

from conftest import converge, make_provider
from ddos_sandbox.providers.hetzner import BARE_SERVER, BARE_SERVER_IP, SERVER, SERVER_IP

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.hetzner_firewall import HetznerFirewall

PASSWORD = "sandbox-robot-password"


def robot(sandbox, **params):
    base = dict(api_url=sandbox.api_url("hetzner"), robot_user="#ws+sandbox", robot_password=PASSWORD,
                retries=2, wait_sleep=0.05)
    if "server_ip" not in params:
        base["server_number"] = SERVER
    base.update(params)
    return make_provider(HetznerFirewall, sleep=lambda s: None, **base)


def firewall(sandbox, number=SERVER):
    return sandbox.state()["hetzner"][str(number)]


def test_on_and_off_keep_every_rule(sandbox):
    rules = firewall(sandbox)["rules"]
    on = converge(robot(sandbox), "active")
    assert on["changed"] and on["active"] and on["snapshot"]["status"] == "disabled"
    assert firewall(sandbox)["status"] == "active" and firewall(sandbox)["rules"] == rules
    off = converge(robot(sandbox), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and firewall(sandbox)["status"] == "disabled" and firewall(sandbox)["rules"] == rules
    posts = [w["body"] for w in sandbox.requests(writes_only=True)]
    assert len(posts) == 2 and posts[0]["rules[input][2][tcp_flags]"] == "ack"
    assert posts[0]["status"] == "active" and posts[1]["status"] == "disabled"


def test_already_active_stays_active(sandbox):
    sandbox.simulators["hetzner"].servers[SERVER]["status"] = "active"
    on = converge(robot(sandbox), "active")
    assert not on["changed"] and on["snapshot"]["status"] == "active"
    off = converge(robot(sandbox), "inactive", snapshot=on["snapshot"])
    assert not off["changed"] and firewall(sandbox)["status"] == "active"
    assert sandbox.requests(writes_only=True) == []


def test_rerun_and_check_mode_make_no_write(sandbox):
    assert converge(robot(sandbox), "active", check_mode=True)["changed"]
    assert sandbox.requests(writes_only=True) == []
    on = converge(robot(sandbox), "active")
    assert not converge(robot(sandbox), "active", snapshot=on["snapshot"])["changed"]
    assert len(sandbox.requests(writes_only=True)) == 1


def test_waits_through_in_process_and_fails_on_timeout(sandbox):
    sandbox.simulators["hetzner"].apply_delay = 0.3
    on = converge(robot(sandbox), "active", wait_timeout=10)
    assert on["after"]["status"] == "active"
    assert sum(1 for r in sandbox.requests() if r["method"] == "GET") >= 3
    sandbox.simulators["hetzner"].apply_delay = 60
    with pytest.raises(ProviderError, match="wait_timeout=0"):
        converge(robot(sandbox), "inactive", snapshot=on["snapshot"], wait_timeout=0)


def test_a_change_waits_for_a_previous_one_in_process(sandbox):
    sim = sandbox.simulators["hetzner"]
    sim.apply_delay = 0.3
    provider = robot(sandbox, wait_timeout=10)
    converge(provider, "active", wait=False)
    # A withdrawal asked right away must not hit FIREWALL_IN_PROCESS.
    off = converge(robot(sandbox, wait_timeout=10), "inactive", snapshot={"status": "disabled"}, wait_timeout=10)
    assert off["after"]["status"] == "disabled"
    assert all(w["status"] == 200 for w in sandbox.requests(writes_only=True))


def test_server_by_main_ip(sandbox):
    on = converge(robot(sandbox, server_ip=SERVER_IP), "active")
    assert on["snapshot"]["server_number"] == SERVER


def test_unknown_server_ip_says_use_the_main_ipv4(sandbox):
    with pytest.raises(ProviderError, match="(?i)use the main IPv4 shown in Robot"):
        converge(robot(sandbox, server_ip="203.0.113.99"), "active")
    with pytest.raises(ProviderError, match="SERVER_NOT_FOUND.*main IPv4"):
        converge(robot(sandbox, server_number=999), "active")


def test_bad_credentials_are_never_retried_and_explained(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(robot(sandbox, robot_password="wrong-password", retries=4), "active")
    text = str(err.value)
    assert "HTTP 401" in text and "#ws+" in text and "Hetzner Cloud" in text and "wrong-password" not in text
    assert len(sandbox.requests()) == 1


def test_three_failed_logins_block(sandbox):
    for _attempt in range(3):
        with pytest.raises(ProviderError):
            converge(robot(sandbox, robot_password="wrong-password"), "active")
    with pytest.raises(ProviderError, match="blocks this IP for 10 minutes"):
        converge(robot(sandbox), "active")


def test_robot_rate_limit_answer_is_retried(sandbox):
    sandbox.simulators["hetzner"].rate_limited = 2
    on = converge(robot(sandbox), "active")
    assert on["changed"]
    assert [r["status"] for r in sandbox.requests()][:3] == [403, 403, 200]


def test_test_button_warns_when_there_are_no_rules(sandbox):
    report = build_test_report(robot(sandbox, server_number=BARE_SERVER))
    assert report["ok"] and "no input rules" in report["msg"] and "warnings" in report["msg"]
    report = build_test_report(robot(sandbox, server_ip=SERVER_IP))
    assert report["ok"] and "3 input rule(s)" in " ".join(f["detail"] for f in report["findings"])
    assert sandbox.requests(writes_only=True) == []


def test_module_end_to_end(sandbox, module_runner):
    args = dict(api_url=sandbox.api_url("hetzner"), robot_user="#ws+sandbox", robot_password=PASSWORD,
                server_ip=BARE_SERVER_IP, wait_sleep=0.05)
    on = module_runner("hetzner_firewall", args)
    assert on["changed"] and on["active"], on
    assert PASSWORD not in on["_stdout"]
    failed = module_runner("hetzner_firewall", dict(args, robot_password="sandbox-wrong-password"))
    assert failed["_rc"] != 0 and "#ws+" in failed["msg"] and failed["api_calls"] == 1
    assert "sandbox-wrong-password" not in failed["_stdout"] + failed["_stderr"]
    info = module_runner("hetzner_firewall_info", {k: v for k, v in args.items() if k != "wait_sleep"})
    assert info["ok"] and "no input rules" in info["msg"]


def test_snapshot_waits_for_a_change_in_process_instead_of_guessing(sandbox):
    # Someone switched the firewall on just before the incident; Robot is still applying it.
    server = sandbox.simulators["hetzner"].servers[SERVER]
    server.update(status="active", busy_until=time.time() + 0.3)
    on = converge(robot(sandbox), "active", wait_timeout=10)
    assert on["snapshot"]["status"] == "active" and on["after"]["status"] == "active"
    assert sandbox.requests(writes_only=True) == []  # what was in process already gave "active"
    off = converge(robot(sandbox), "inactive", snapshot=on["snapshot"])
    assert not off["changed"] and firewall(sandbox)["status"] == "active"


def test_snapshot_keeps_the_flags_and_restore_resends_the_current_ones(sandbox):
    on = converge(robot(sandbox), "active")
    assert on["snapshot"] == {"server_number": SERVER, "status": "disabled", "filter_ipv6": False,
                              "whitelist_hos": True, "port": "main"}
    # The customer edits the firewall in Robot during the incident: withdrawal keeps the edit.
    server = sandbox.simulators["hetzner"].servers[SERVER]
    server["filter_ipv6"] = True
    server["rules"]["input"].pop()
    edited = firewall(sandbox)["rules"]
    converge(robot(sandbox), "inactive", snapshot=on["snapshot"])
    now = firewall(sandbox)
    assert now["status"] == "disabled" and now["filter_ipv6"] is True and now["rules"] == edited
    assert sandbox.requests(writes_only=True)[-1]["body"]["filter_ipv6"] == "true"


def test_activation_warns_when_there_are_no_input_rules(sandbox):
    provider = robot(sandbox, server_number=BARE_SERVER)
    converge(provider, "active")
    assert any("no input rules" in w and "SSH included" in w for w in provider.warnings)


def test_a_snapshot_of_another_server_is_refused_before_any_write(sandbox):
    sandbox.simulators["hetzner"].servers[SERVER]["status"] = "active"
    with pytest.raises(ProviderError, match="snapshot was taken on server 322, not on server 321"):
        converge(robot(sandbox), "inactive", snapshot={"server_number": BARE_SERVER, "status": "disabled"})
    with pytest.raises(ProviderError, match="no valid status"):
        converge(robot(sandbox), "inactive", snapshot={"server_number": SERVER, "status": "in process"})
    assert sandbox.requests(writes_only=True) == []


def test_rate_limit_with_the_documented_field_name_and_an_exhausted_budget(sandbox):
    # Through the core's fault injection: the docs' spelling max_request, and more 403s than retries.
    body = {"error": {"status": 403, "code": "RATE_LIMIT_EXCEEDED", "max_request": 200, "interval": 3600,
                      "message": "rate limit exceeded"}}
    sandbox.add_fault(provider="hetzner", status=403, body=body, count=5)
    waits = []
    provider = make_provider(HetznerFirewall, sleep=waits.append, api_url=sandbox.api_url("hetzner"),
                             robot_user="#ws+sandbox", robot_password=PASSWORD, server_number=SERVER, retries=2)
    with pytest.raises(ProviderError) as err:
        converge(provider, "active")
    assert "RATE_LIMIT_EXCEEDED" in str(err.value) and "Robot allows 200 requests per 3600 s" in str(err.value)
    assert waits == [30.0, 30.0]  # Robot's interval, capped by the HTTP layer
    assert len(sandbox.requests()) == 3 and sandbox.requests(writes_only=True) == []


def test_a_change_in_process_for_too_long_fails_before_any_write(sandbox):
    server = sandbox.simulators["hetzner"].servers[SERVER]
    server["busy_until"] = time.time() + 60
    with pytest.raises(ProviderError) as err:
        converge(robot(sandbox, wait_timeout=0), "active")
    assert "still applying an earlier change to server 321" in str(err.value) and "nothing was sent" in str(err.value)
    assert sandbox.requests(writes_only=True) == []
