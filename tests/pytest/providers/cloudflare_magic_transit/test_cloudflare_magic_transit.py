"""Cloudflare Magic Transit against the sandbox: idempotency, check mode, always-on, errors,
the legacy call, waiting, and the Test button."""

from __future__ import annotations

import json

import pytest

from conftest import converge, make_provider, run_playbook
from ddos_sandbox.providers.cloudflare import (ACCOUNT, ALWAYS_ON_BGP, ALWAYS_ON_PREFIX, BGP_PREFIX, PREFIX,
                                               STATIC_BGP, STATIC_PREFIX, ZONE)

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_magic_transit import (
    CloudflareMagicTransit)


def mt(sandbox, **params):
    base = dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", account_id=ACCOUNT,
                prefix_id=PREFIX, retries=2)
    base.update(params)
    return make_provider(CloudflareMagicTransit, sleep=lambda s: None, **base)


def advertised(sandbox, prefix=PREFIX):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][prefix]["advertised"]


def test_activate_then_rerun_makes_no_write(sandbox):
    result = converge(mt(sandbox), "active")
    assert result["changed"] and result["active"]
    assert result["snapshot"]["advertised"] is False
    assert result["diff"]["before"]["advertised"] is False and result["diff"]["after"]["advertised"] is True
    assert advertised(sandbox)
    writes = sandbox.requests(writes_only=True)
    assert [(w["method"], w["body"]) for w in writes] == [("PATCH", {"on_demand": {"advertised": True}})]
    assert writes[0]["path"].endswith("/bgp/prefixes/%s" % BGP_PREFIX)

    again = converge(mt(sandbox), "active", snapshot=result["snapshot"])
    assert not again["changed"]
    assert again["snapshot"] == result["snapshot"], "a re-run must keep the real pre-incident snapshot"
    assert len(sandbox.requests(writes_only=True)) == 1


def test_check_mode_makes_no_write(sandbox):
    result = converge(mt(sandbox), "active", check_mode=True)
    assert result["changed"] and result["after"]["advertised"] is True
    assert sandbox.requests(writes_only=True) == []
    assert not advertised(sandbox)


def test_withdraw_with_snapshot_restores(sandbox):
    snap = converge(mt(sandbox), "active")["snapshot"]
    result = converge(mt(sandbox), "inactive", snapshot=snap)
    assert result["changed"] and not result["active"]
    assert not advertised(sandbox)


def test_always_on_prefix_is_never_withdrawn_with_its_snapshot(sandbox):
    provider = mt(sandbox, prefix_id=ALWAYS_ON_PREFIX)
    activation = converge(provider, "active")
    assert not activation["changed"] and activation["snapshot"]["advertised"] is True
    withdrawal = converge(mt(sandbox, prefix_id=ALWAYS_ON_PREFIX), "inactive", snapshot=activation["snapshot"])
    assert not withdrawal["changed"] and withdrawal["active"]
    assert advertised(sandbox, ALWAYS_ON_PREFIX)
    assert sandbox.requests(writes_only=True) == []


def test_given_bgp_prefix_id_is_read_directly(sandbox):
    converge(mt(sandbox, prefix_id=ALWAYS_ON_PREFIX, bgp_prefix_id=ALWAYS_ON_BGP), "active")
    assert sandbox.requests()[0]["path"].endswith("/bgp/prefixes/%s" % ALWAYS_ON_BGP)


def test_legacy_bgp_status_call(sandbox):
    result = converge(mt(sandbox, advertisement_api="bgp_status"), "active")
    assert result["changed"]
    writes = sandbox.requests(writes_only=True)
    assert [(w["path"].rsplit("/", 2)[-2:], w["body"]) for w in writes] == [(["bgp", "status"], {"advertised": True})]
    assert advertised(sandbox)


@pytest.mark.parametrize("api", ["bgp_prefixes", "bgp_status"])
def test_an_answer_that_reports_the_advertisement_is_not_read_again(sandbox, api):
    """``advertised`` is the intended state in every answer (REFERENCE §1: no in-progress field,
    "don't verify by re-reading"): the change's own answer is what ``wait`` waits for, so an
    activation costs one read and one write against Cloudflare's rate limit, not two reads."""
    sandbox.simulators["cloudflare"].apply_delay = 60  # reads would still show the old state
    result = converge(mt(sandbox, advertisement_api=api), "active", wait=True, wait_timeout=0)
    assert result["changed"] and result["after"]["advertised"] is True and result["active"] is True
    assert [r["method"] for r in sandbox.requests()] == ["GET", "PATCH"]


@pytest.mark.parametrize("api", ["bgp_prefixes", "bgp_status"])
def test_wait_polls_when_the_answer_does_not_say(sandbox, api):
    """An answer without the advertisement (the spec makes every member optional): ``wait`` reads
    until a read reports the asked state."""
    sim = sandbox.simulators["cloudflare"]
    sim.bare_answers, sim.apply_delay = True, 0.3
    result = converge(mt(sandbox, advertisement_api=api), "active", wait=True, wait_timeout=10)
    assert result["after"]["advertised"] is True
    assert len([r for r in sandbox.requests() if r["method"] == "GET"]) >= 3  # before, then until it shows


def test_wait_fails_on_timeout(sandbox):
    sim = sandbox.simulators["cloudflare"]
    sim.bare_answers, sim.apply_delay = True, 60
    with pytest.raises(ProviderError, match="did not report it applied within wait_timeout=0"):
        converge(mt(sandbox), "active", wait=True, wait_timeout=0)


def test_unknown_prefix_lists_the_accounts_prefixes(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(mt(sandbox, prefix_id="ffffffffffffffffffffffffffffffff"), "active")
    text = str(err.value)
    assert "was not found" in text and PREFIX in text and "203.0.113.0/24" in text and "198.51.100.0/24" in text
    assert sandbox.requests(writes_only=True) == []


def test_zone_id_instead_of_account_id(sandbox):
    with pytest.raises(ProviderError, match="must be the Account ID .* not a Zone ID"):
        converge(mt(sandbox, account_id=ZONE), "active")


def test_read_only_token_names_the_permission(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(mt(sandbox, api_token="sandbox-cf-token-ro"), "active")
    assert "HTTP 403" in str(err.value) and "Magic Transit Write" in str(err.value)
    assert "sandbox-cf-token-ro" not in str(err.value)


def test_invalid_token_is_not_retried_and_not_echoed(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(mt(sandbox, api_token="not-a-real-token"), "active")
    assert "HTTP 401" in str(err.value) and "API Token" in str(err.value)
    assert "not-a-real-token" not in str(err.value)
    assert len(sandbox.requests()) == 1


def test_retry_after_429_then_success(sandbox):
    sandbox.add_fault(provider="cloudflare", method="PATCH", status=429, headers={"Retry-After": "1"}, count=1)
    result = converge(mt(sandbox), "active")
    assert result["changed"]
    patches = [r for r in sandbox.requests() if r["method"] == "PATCH"]
    assert [p["status"] for p in patches] == [429, 200]


def test_five_500s_fail_bounded_with_a_clear_message(sandbox):
    sandbox.add_fault(provider="cloudflare", method="GET", status=500, count=5)
    with pytest.raises(ProviderError) as err:
        converge(mt(sandbox, retries=4), "active")
    assert "HTTP 500" in str(err.value) and "after 5 attempts" in str(err.value)
    assert len(sandbox.requests()) == 5
    assert sandbox.requests(writes_only=True) == []


def test_connection_reset_is_retried(sandbox):
    sandbox.add_fault(provider="cloudflare", method="GET", reset=True, count=1)
    assert converge(mt(sandbox), "active")["changed"]


def test_locked_prefix_is_refused_without_a_write(sandbox):
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][PREFIX]["on_demand_locked"] = True
    with pytest.raises(ProviderError, match="locked"):
        converge(mt(sandbox), "active")
    assert sandbox.requests(writes_only=True) == []


def test_test_button_lists_prefixes(sandbox):
    report = build_test_report(mt(sandbox, api_token="sandbox-cf-token-ro"))
    assert report["ok"], report
    details = " ".join(f["detail"] for f in report["findings"])
    assert "3 prefix(es)" in details and PREFIX in details and "203.0.113.0/24" in details
    assert "on-demand advertisement is enabled" in details
    assert report["active"] is False
    assert sandbox.requests(writes_only=True) == []


def test_test_button_reports_wrong_prefix(sandbox):
    report = build_test_report(mt(sandbox, prefix_id="ffffffffffffffffffffffffffffffff"))
    assert not report["ok"] and "is not one of them" in report["msg"]


def test_module_end_to_end_with_diff_and_check(sandbox, module_runner):
    args = dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", account_id=ACCOUNT,
                prefix_id=PREFIX, wait_sleep=0.05)
    checked = module_runner("cloudflare_magic_transit", args, check=True)
    assert checked["changed"] and sandbox.requests(writes_only=True) == []
    done = module_runner("cloudflare_magic_transit", args, diff=True)
    assert done["changed"] and done["active"] and done["after"]["advertised"] is True
    again = module_runner("cloudflare_magic_transit", dict(args, snapshot=done["snapshot"]))
    assert not again["changed"]
    assert len(sandbox.requests(writes_only=True)) == 1
    failed = module_runner("cloudflare_magic_transit", dict(args, api_token="sandbox-cf-token-XXXX"))
    assert failed["_rc"] != 0 and "sandbox-cf-token-XXXX" not in failed["_stdout"] + failed["_stderr"]


# -- always-on prefixes (issue 10 defect 1), auto_advertise_withdraw (defect 7) -------------------------
def test_sandbox_answers_null_advertisement_for_an_always_on_prefix(sandbox):
    """REFERENCE §1: advertised and advertised_modified_at are only non-null with on-demand."""
    http = mt(sandbox, prefix_id=STATIC_PREFIX).http
    prefix = http.request("GET", "/accounts/%s/addressing/prefixes/%s" % (ACCOUNT, STATIC_PREFIX))["result"]
    assert prefix["on_demand_enabled"] is False
    assert prefix["advertised"] is None and prefix["advertised_modified_at"] is None
    bgp = http.request("GET", "/accounts/%s/addressing/prefixes/%s/bgp/prefixes/%s"
                       % (ACCOUNT, STATIC_PREFIX, STATIC_BGP))["result"]
    assert bgp["on_demand"]["advertised"] is None and bgp["on_demand"]["advertised_modified_at"] is None


@pytest.mark.parametrize("api", ["bgp_prefixes", "bgp_status"])
def test_always_on_prefix_is_active_and_never_written(sandbox, api):
    provider = mt(sandbox, prefix_id=STATIC_PREFIX, advertisement_api=api)
    on = converge(provider, "active")
    assert not on["changed"] and on["active"], on
    assert on["before"]["always_on"] and on["snapshot"]["always_on"]
    assert any("always-on" in w and "nothing to advertise" in w for w in provider.warnings), provider.warnings
    withdrawer = mt(sandbox, prefix_id=STATIC_PREFIX, advertisement_api=api)
    off = converge(withdrawer, "inactive", snapshot=on["snapshot"])
    assert not off["changed"] and off["active"], "withdrawal never touches an always-on prefix"
    assert any("nothing to withdraw" in w for w in withdrawer.warnings)
    released = converge(mt(sandbox, prefix_id=STATIC_PREFIX, advertisement_api=api), "inactive")
    assert not released["changed"]
    assert sandbox.requests(writes_only=True) == []


def test_test_button_and_state_say_always_on(sandbox):
    provider = mt(sandbox, prefix_id=STATIC_PREFIX)
    report = build_test_report(provider)
    assert report["ok"], report
    assert report["active"] is True and report["state"]["always_on"] is True
    details = " ".join(f["detail"] for f in report["findings"])
    assert "always-on" in details and "NOT enabled" not in details
    assert provider.describe(report["state"]) == "always-on"
    assert provider.describe(mt(sandbox).read()) == "withdrawn"


def test_pending_always_on_prefix_is_not_reported_protected(sandbox):
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][STATIC_PREFIX]["approved"] = "P"
    report = build_test_report(mt(sandbox, prefix_id=STATIC_PREFIX, advertisement_api="bgp_status"))
    assert report["ok"] and report["active"] is False
    assert "PENDING approval" in report["msg"]


def test_auto_advertise_withdraw_is_read_shown_and_explained(sandbox):
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][PREFIX]["bgp_prefixes"][0]["auto_advertise_withdraw"] = True
    provider = mt(sandbox)
    report = build_test_report(provider)
    assert report["state"]["auto_advertise_withdraw"] is True
    assert "auto_advertise_withdraw is ON" in report["msg"]
    assert "auto advertise/withdraw" in provider.describe(report["state"])
    activator = mt(sandbox)
    result = converge(activator, "active")
    assert result["changed"] and result["before"]["auto_advertise_withdraw"] is True
    assert any("Magic routing table has a matching route" in w for w in activator.warnings), activator.warnings
    off = mt(sandbox)
    assert off.read()["auto_advertise_withdraw"] is True
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][PREFIX]["bgp_prefixes"][0]["auto_advertise_withdraw"] = False
    quiet = mt(sandbox)
    converge(quiet, "active")
    assert not any("auto_advertise_withdraw" in w for w in quiet.warnings)


def test_incident_and_status_with_an_always_on_prefix(sandbox, tmp_path):
    """The whole incident runs through: the on-demand prefix is advertised and withdrawn, the
    always-on one is reported active with its note, never written, and the status row says so."""
    inventory = tmp_path / "inventory.yml"
    options = dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", account_id=ACCOUNT,
                   wait_sleep=0.05)
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {"ansible_connection": "local"}}},
                                     "scrubbing_integrations": {"hosts": {
                                         "cf-on-demand": {"scrubbing_provider": "cloudflare_magic_transit",
                                                          "scrubbing_options": dict(options, prefix_id=PREFIX)},
                                         "cf-static": {"scrubbing_provider": "cloudflare_magic_transit",
                                                       "scrubbing_options": dict(options, prefix_id=STATIC_PREFIX)},
                                     }, "vars": {"ansible_connection": "local"}}}))
    ledger = tmp_path / "ledger.json"
    started = run_playbook("incident", sandbox, ledger, {"incident": {"id": "AO-1", "status": "started"}},
                           inventory=str(inventory))
    assert started.returncode == 0, started.output
    assert advertised(sandbox) is True
    assert "is always-on" in started.output
    status = run_playbook("status", sandbox, ledger, inventory=str(inventory))
    assert status.returncode == 0, status.output
    row = [line for line in status.stdout.splitlines() if "cf-static" in line and "cloudflare_magic_transit" in line]
    assert row and "always-on" in row[0], status.stdout
    resolved = run_playbook("incident", sandbox, ledger, {"incident": {"id": "AO-1", "status": "resolved"}},
                            inventory=str(inventory))
    assert resolved.returncode == 0, resolved.output
    assert advertised(sandbox) is False and advertised(sandbox, STATIC_PREFIX) is None
    touched = [w["path"] for w in sandbox.requests(writes_only=True)]
    assert len(touched) == 2 and not any(STATIC_PREFIX in p for p in touched), touched


# -- identifiers checked before any call (issue 10 defect 4) -------------------------------------------
@pytest.mark.parametrize("bad", [["1f2e3d4c5b6a79880716253443526170", "2a3b4c5d6e7f80910a1b2c3d4e5f6071"], "",
                                 "203.0.113.0/24"])
def test_bad_prefix_id_is_refused_by_the_module_before_any_call(sandbox, module_runner, bad):
    args = dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", account_id=ACCOUNT,
                prefix_id=bad)
    result = module_runner("cloudflare_magic_transit", args)
    assert result["_rc"] != 0
    assert "cloudflare_magic_transit" in result["msg"] and "prefix_id" in result["msg"], result["msg"]
    assert "32-character hexadecimal" in result["msg"]
    assert sandbox.requests() == []


# -- simulator fidelity (sandbox/FIDELITY.md) -------------------------------------------------------------
def raw(sandbox, method, path, body=None, token="sandbox-cf-token-rw"):
    """One request to the Cloudflare simulator, its status and envelope (no client logic)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(sandbox.api_url("cloudflare") + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_simulator_error_envelopes(sandbox):
    status, body = raw(sandbox, "GET", "/accounts/not-hex/addressing/prefixes")
    assert status == 400 and body["errors"][0]["code"] == 7003 and body["success"] is False and body["result"] is None
    status, body = raw(sandbox, "GET", "/accounts/%s/addressing/prefixes" % ("e" * 32))
    assert status == 403 and body["errors"][0]["code"] == 9109
    status, body = raw(sandbox, "GET", "/accounts/%s/addressing/prefixes/%s" % (ACCOUNT, "e" * 32))
    assert status == 404
    status, body = raw(sandbox, "PATCH", "/accounts/%s/addressing/prefixes/%s/bgp/status" % (ACCOUNT, STATIC_PREFIX),
                       {"advertised": True})
    assert status == 400 and body["errors"][0]["code"] == 1004, "an always-on prefix cannot be toggled"
    status, body = raw(sandbox, "PATCH", "/accounts/%s/addressing/prefixes/%s/bgp/status" % (ACCOUNT, PREFIX),
                       {"advertised": True}, token="sandbox-cf-token-ro")
    assert status == 403 and body["errors"][0]["code"] == 10000
    status, body = raw(sandbox, "GET", "/accounts/%s/addressing/prefixes" % ACCOUNT, token="nope")
    assert status == 401
    assert sandbox.requests(writes_only=True) and all(w["status"] >= 400 for w in sandbox.requests(writes_only=True))


def test_bgp_signal_prefix_is_refused_without_a_write(sandbox):
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][PREFIX]["bgp_signal"] = True
    with pytest.raises(ProviderError, match="controlled by BGP signal"):
        converge(mt(sandbox), "active")
    assert sandbox.requests(writes_only=True) == []
    status, body = raw(sandbox, "PATCH", "/accounts/%s/addressing/prefixes/%s/bgp/prefixes/%s"
                       % (ACCOUNT, PREFIX, BGP_PREFIX), {"on_demand": {"advertised": True}})
    assert status == 400 and body["errors"][0]["code"] == 1006


def test_patch_answers_the_intent_before_reads_show_it(sandbox):
    sandbox.simulators["cloudflare"].apply_delay = 60
    status, body = raw(sandbox, "PATCH", "/accounts/%s/addressing/prefixes/%s/bgp/prefixes/%s"
                       % (ACCOUNT, PREFIX, BGP_PREFIX), {"on_demand": {"advertised": True}})
    assert status == 200 and body["result"]["on_demand"]["advertised"] is True
    status, body = raw(sandbox, "GET", "/accounts/%s/addressing/prefixes/%s/bgp/prefixes/%s"
                       % (ACCOUNT, PREFIX, BGP_PREFIX))
    assert body["result"]["on_demand"]["advertised"] is False


def test_zone_setting_not_editable_is_refused_by_the_simulator(sandbox):
    sandbox.simulators["cloudflare"].zones[ZONE]["editable"] = False
    status, body = raw(sandbox, "PATCH", "/zones/%s/settings/security_level" % ZONE,
                       {"id": "security_level", "value": "under_attack"})  # the spec requires id (zones_base)
    assert status == 400 and body["errors"][0]["code"] == 1008
    status, body = raw(sandbox, "GET", "/zones/%s/settings/security_level" % ZONE)
    assert body["result"] == {"id": "security_level", "value": "medium", "editable": False, "modified_on": None}
