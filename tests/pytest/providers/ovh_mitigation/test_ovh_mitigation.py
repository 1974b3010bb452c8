"""OVH against the sandbox: requests really signed by python-ovh and verified, the IP block's
``/`` encoded, Edge Network Firewall on/off with exact restore, pending states, the retired
permanent-mitigation mode with its warning, and the Test's access-rule report."""

from __future__ import annotations

import json

import pytest

from conftest import converge, make_provider
from ddos_sandbox.providers.ovh import (APP_KEY, APP_SECRET, CONSUMER_KEY, IP, IP_BLOCK, IP_ENABLED,
                                        READONLY_CONSUMER_KEY)

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.ovh_mitigation import OvhMitigation


def ovh(sandbox, **params):
    base = dict(api_url=sandbox.api_url("ovh"), application_key=APP_KEY, application_secret=APP_SECRET,
                consumer_key=CONSUMER_KEY, ip=IP, ip_block=IP_BLOCK, retries=2, wait_sleep=0.05)
    base.update(params)
    return make_provider(OvhMitigation, sleep=lambda s: None, **base)


def firewall(sandbox, ip=IP):
    return sandbox.state()["ovh"][IP_BLOCK]["firewall"].get(ip)


def test_enable_creates_the_firewall_object_then_disables_on_withdraw(sandbox):
    on = converge(ovh(sandbox), "active")
    assert on["changed"] and on["active"] and on["snapshot"] == {
        "mode": "edge_firewall", "ip": IP, "ip_block": IP_BLOCK, "exists": False, "enabled": False}
    assert firewall(sandbox)["enabled"]
    writes = sandbox.requests(writes_only=True)
    assert [(w["method"], w["raw_path"].split("/ovh/1.0")[1], w["body"]) for w in writes] == [
        ("POST", "/ip/203.0.113.0%2F24/firewall", {"ipOnFirewall": IP}),
        ("PUT", "/ip/203.0.113.0%2F24/firewall/" + IP, {"enabled": True})]
    off = converge(ovh(sandbox), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and not off["active"]
    assert firewall(sandbox) is None, "the object we created, still without rules, is removed again"


def test_an_object_that_got_rules_meanwhile_is_kept_disabled(sandbox):
    on = converge(ovh(sandbox), "active")
    sandbox.simulators["ovh"].blocks[IP_BLOCK]["firewall"][IP]["rules"] = [0]
    off = converge(ovh(sandbox), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and firewall(sandbox) == {"enabled": False, "state": "ok", "rules": 1}
    again = converge(ovh(sandbox), "inactive", snapshot=on["snapshot"])
    assert not again["changed"], "keeping the customer's rules is a converged state"
    assert not any(w["method"] == "DELETE" for w in sandbox.requests(writes_only=True))


def test_already_enabled_stays_enabled(sandbox):
    on = converge(ovh(sandbox, ip=IP_ENABLED), "active")
    assert not on["changed"] and on["snapshot"]["enabled"] is True
    off = converge(ovh(sandbox, ip=IP_ENABLED), "inactive", snapshot=on["snapshot"])
    assert not off["changed"] and firewall(sandbox, IP_ENABLED)["enabled"]
    assert sandbox.requests(writes_only=True) == []


def test_rerun_and_check_mode_make_no_write(sandbox):
    assert converge(ovh(sandbox), "active", check_mode=True)["changed"]
    assert sandbox.requests(writes_only=True) == []
    on = converge(ovh(sandbox), "active")
    assert not converge(ovh(sandbox), "active", snapshot=on["snapshot"])["changed"]
    assert len(sandbox.requests(writes_only=True)) == 2


def test_waits_out_pending_states_and_fails_on_timeout(sandbox):
    sandbox.simulators["ovh"].apply_delay = 0.3
    on = converge(ovh(sandbox), "active", wait_timeout=10)
    assert on["after"]["state"] == "ok" and on["after"]["enabled"]
    # A withdrawal right after a change waits for the pending state instead of a 409.
    converge(ovh(sandbox), "inactive", snapshot=on["snapshot"], wait=False)
    again = converge(ovh(sandbox), "active", snapshot=on["snapshot"], wait_timeout=10)
    assert again["after"]["enabled"] and all(w["status"] < 300 for w in sandbox.requests(writes_only=True))
    sandbox.simulators["ovh"].apply_delay = 60
    with pytest.raises(ProviderError, match="wait_timeout=0"):
        converge(ovh(sandbox, wait_timeout=0), "inactive", snapshot=on["snapshot"], wait_timeout=0)


def test_permanent_mitigation_mode_warns_and_restores_auto_mode(sandbox):
    provider = ovh(sandbox, mode="permanent_mitigation")
    assert any("retired permanent mitigation on 2025-09-08" in w for w in provider.warnings)
    on = converge(provider, "active")
    assert on["changed"] and sandbox.state()["ovh"][IP_BLOCK]["mitigation"][IP]["permanent"]
    off = converge(ovh(sandbox, mode="permanent_mitigation"), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and IP not in sandbox.state()["ovh"][IP_BLOCK]["mitigation"]
    writes = [(w["method"], w["raw_path"].split("/ovh/1.0")[1]) for w in sandbox.requests(writes_only=True)]
    assert writes == [("POST", "/ip/203.0.113.0%2F24/mitigation"), ("DELETE", "/ip/203.0.113.0%2F24/mitigation/" + IP)]


def test_the_signature_is_really_checked(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, application_secret="not-the-secret"), "active")
    assert "Invalid signature" in str(err.value) and "application_secret" in str(err.value)
    assert "not-the-secret" not in str(err.value)
    assert sandbox.requests(writes_only=True) == []


def test_missing_access_rule_is_named(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, consumer_key=READONLY_CONSUMER_KEY), "active")
    assert "NOT_GRANTED_CALL" in str(err.value) and "GET /ip/203.0.113.0/24/firewall/" in str(err.value)


def test_unknown_ip_block_says_so(sandbox):
    with pytest.raises(ProviderError, match="the IP block 198.51.100.0/24 is not in this OVH account"):
        converge(ovh(sandbox, ip="198.51.100.7", ip_block="198.51.100.0/24"), "active")


def test_bad_ip_input_fails_before_any_call(sandbox):
    with pytest.raises(ProviderError, match="not inside ip_block"):
        converge(ovh(sandbox, ip="198.51.100.7"), "active")
    with pytest.raises(ProviderError, match="does not appear to be an IPv4 or IPv6 address"):
        converge(ovh(sandbox, ip="not-an-ip"), "active")
    assert sandbox.requests() == []


def test_retries_429_and_5xx(sandbox):
    sandbox.add_fault(provider="ovh", method="PUT", status=429, headers={"Retry-After": "1"}, count=1)
    sandbox.add_fault(provider="ovh", method="POST", status=503, count=1)
    assert converge(ovh(sandbox), "active")["changed"]
    statuses = [(r["method"], r["status"]) for r in sandbox.requests() if r["method"] in ("POST", "PUT")]
    assert statuses == [("POST", 503), ("POST", 200), ("PUT", 429), ("PUT", 200)]


def test_test_button_reports_missing_rules_exactly(sandbox):
    report = build_test_report(ovh(sandbox, consumer_key=READONLY_CONSUMER_KEY))
    assert not report["ok"]
    assert ("lacks the access rule(s) GET /ip/*/firewall/*, GET /ip/*/firewall/*/rule, POST /ip/*/firewall, "
            "PUT /ip/*/firewall/*, DELETE /ip/*/firewall/*, GET /ip/*") in report["msg"]
    good = build_test_report(ovh(sandbox, ip=IP_ENABLED))
    assert good["ok"] and "2 firewall rule(s)" in " ".join(f["detail"] for f in good["findings"])
    fresh = build_test_report(ovh(sandbox))
    assert fresh["ok"] and "no Edge Network Firewall object yet" in fresh["msg"]
    assert sandbox.requests(writes_only=True) == []


def test_module_end_to_end(sandbox, module_runner):
    args = dict(api_url=sandbox.api_url("ovh"), application_key=APP_KEY, application_secret=APP_SECRET,
                consumer_key=CONSUMER_KEY, ip=IP, ip_block=IP_BLOCK, wait_sleep=0.05)
    on = module_runner("ovh_mitigation", args)
    assert on["changed"] and on["active"], on
    assert APP_SECRET not in on["_stdout"] + on["_stderr"] and CONSUMER_KEY not in on["_stdout"]
    retired = module_runner("ovh_mitigation", dict(args, mode="permanent_mitigation"))
    assert retired["changed"], retired
    # The oneline callback drops warnings; run the same with the default callback to see it.
    import os
    import subprocess
    import json
    from conftest import VENV_BIN, ansible_env
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "ddos.scrubbing.ovh_mitigation",
                           "-a", json.dumps(dict(args, mode="permanent_mitigation"))],
                          capture_output=True, text=True, env=ansible_env(), timeout=120, check=False)
    assert "retired permanent mitigation on 2025-09-08" in proc.stdout + proc.stderr


# -- the IP block is discovered (issue 10 defect 2) ----------------------------------------------------
def blocks_scenario(*blocks):
    """The default OVH scenario with other IP blocks (each with no firewall object)."""
    from ddos_sandbox.providers.ovh import DEFAULT_SCENARIO

    scenario = json.loads(json.dumps(DEFAULT_SCENARIO))
    scenario["blocks"] = {b: {"firewall": {}, "mitigation": {}} for b in blocks}
    return scenario


def test_block_is_discovered_from_the_account(sandbox):
    on = converge(ovh(sandbox, ip_block=None), "active")
    assert on["changed"] and on["snapshot"]["ip_block"] == IP_BLOCK
    discovery = [r for r in sandbox.requests() if r["path"] == "/ip"]
    assert [r["query"] for r in discovery] == [{"ip": IP}]
    assert firewall(sandbox)["enabled"]
    writes = [(w["method"], w["raw_path"].split("/ovh/1.0")[1]) for w in sandbox.requests(writes_only=True)]
    assert writes == [("POST", "/ip/203.0.113.0%2F24/firewall"), ("PUT", "/ip/203.0.113.0%2F24/firewall/" + IP)]


def test_the_most_specific_block_is_used_and_named(sandbox):
    sandbox.simulators["ovh"].reset(blocks_scenario("203.0.113.0/24", "203.0.113.8/29", "198.51.100.0/24"))
    provider = ovh(sandbox, ip_block=None)
    on = converge(provider, "active")
    assert on["snapshot"]["ip_block"] == "203.0.113.8/29"
    assert any("203.0.113.0/24, 203.0.113.8/29" in w and "most specific, 203.0.113.8/29" in w
               for w in provider.warnings), provider.warnings
    assert sandbox.state()["ovh"]["203.0.113.8/29"]["firewall"][IP]["enabled"]


def test_an_ip_in_no_block_lists_what_the_account_has(sandbox):
    sandbox.simulators["ovh"].reset(blocks_scenario("203.0.113.0/24", "198.51.100.0/24"))
    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, ip="192.0.2.5", ip_block=None), "active")
    text = str(err.value)
    assert "ip 192.0.2.5 is in no IP block of this OVH account" in text
    assert "The account's IP blocks are: 198.51.100.0/24, 203.0.113.0/24" in text
    assert sandbox.requests(writes_only=True) == []


def test_a_given_block_absent_from_the_account_lists_what_it_has(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, ip="198.51.100.7", ip_block="198.51.100.0/24"), "active")
    assert "The account's IP blocks are: 203.0.113.0/24" in str(err.value)


def test_test_button_checks_the_discovery_rule(sandbox):
    from ddos_sandbox.providers.ovh import DEFAULT_SCENARIO

    scenario = json.loads(json.dumps(DEFAULT_SCENARIO))
    scenario["consumer_keys"]["no-list"] = {"application": APP_KEY, "rules": [
        r for r in scenario["consumer_keys"][CONSUMER_KEY]["rules"] if r["path"] != "/ip"]}
    sandbox.simulators["ovh"].reset(scenario)
    report = build_test_report(ovh(sandbox, ip_block=None, consumer_key="no-list"))
    assert not report["ok"] and "lacks the access rule(s) GET /ip;" in report["msg"], report["msg"]
    assert not any(r["path"] == "/ip" for r in sandbox.requests()), "the rule is checked before the call"
    good = build_test_report(ovh(sandbox, ip_block=None))
    assert good["ok"] and "in the account's IP block 203.0.113.0/24 (discovered" in " ".join(
        f["detail"] for f in good["findings"])
    pinned = build_test_report(ovh(sandbox, consumer_key="no-list"))
    assert pinned["ok"], "with ip_block given, GET /ip is not needed"


# -- errors name the call that failed and the attempts (issue 9 item 6) ---------------------------------
def test_a_failing_auth_time_is_named_with_its_attempts(sandbox):
    sandbox.add_fault(provider="ovh", path="^/auth/time$", status=503, count=10)
    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, retries=2), "active")
    text = str(err.value)
    assert "GET /auth/time failed with HTTP 503" in text and "after 3 attempts" in text, text
    assert "firewall" not in text.split("failed", maxsplit=1)[0]
    assert [r["path"] for r in sandbox.requests()] == ["/auth/time"] * 3


def test_an_unreachable_api_names_the_call_and_the_attempts(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, api_url="http://127.0.0.1:9/1.0", retries=1, timeout=2), "active")
    assert "GET /auth/time failed" in str(err.value) and "after 2 attempts" in str(err.value), str(err.value)


def test_a_firewall_error_names_its_own_call_and_attempts(sandbox):
    sandbox.add_fault(provider="ovh", method="PUT", status=500, count=10)
    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, retries=1), "active")
    assert "PUT /ip/203.0.113.0%2F24/firewall/203.0.113.10 failed with HTTP 500" in str(err.value)
    assert "after 2 attempts" in str(err.value)


# -- identifiers checked before any call (issue 10 defect 4) ---------------------------------------------
@pytest.mark.parametrize("option,bad", [("ip", ["203.0.113.10", "203.0.113.11"]), ("ip", ""),
                                        ("ip", "server-1"), ("ip_block", "203.0.113.0/33")])
def test_bad_ip_is_refused_by_the_module_before_any_call(sandbox, module_runner, option, bad):
    args = dict(api_url=sandbox.api_url("ovh"), application_key=APP_KEY, application_secret=APP_SECRET,
                consumer_key=CONSUMER_KEY, ip=IP)
    args[option] = bad
    result = module_runner("ovh_mitigation", args)
    assert result["_rc"] != 0
    assert "ovh_mitigation" in result["msg"] and "option %s must be" % option in result["msg"], result["msg"]
    assert sandbox.requests() == []


# -- simulator fidelity (sandbox/FIDELITY.md) ------------------------------------------------------------
def test_errors_carry_the_query_id_and_the_auth_error_shape(sandbox):
    import urllib.error
    import urllib.request

    with pytest.raises(ProviderError) as err:
        converge(ovh(sandbox, application_secret="not-the-secret"), "active")
    assert "OVH-Query-ID: EU.sandbox." in str(err.value), "REFERENCE 2.5: log the X-Ovh-Queryid"
    request = urllib.request.Request(sandbox.api_url("ovh") + "/ip", headers={"X-Ovh-Application": "unknown-app"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert json.loads(answer.value.read()) == {"errorCode": "INVALID_KEY", "httpCode": "403 Forbidden",
                                               "message": "This application key is invalid"}
    assert answer.value.headers["X-Ovh-Queryid"].startswith("EU.sandbox.")
