"""Cloudflare Under Attack Mode against the sandbox: exact restore of the previous level,
zone by name, errors that say how to fix them, idempotency and check mode."""

from __future__ import annotations

import json

import pytest

from conftest import converge, make_provider, run_playbook
from ddos_sandbox.providers.cloudflare import ZONE

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_under_attack import (
    CloudflareUnderAttack)


def uam(sandbox, **params):
    base = dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", retries=1)
    if "zone_name" not in params:
        base["zone_id"] = ZONE
    base.update(params)
    return make_provider(CloudflareUnderAttack, sleep=lambda s: None, **base)


def level(sandbox):
    return sandbox.state()["cloudflare"]["zones"][ZONE]["security_level"]


def set_level(sandbox, value, editable=True):
    zone = sandbox.simulators["cloudflare"].zones[ZONE]
    zone.update(security_level=value, editable=editable)


@pytest.mark.parametrize("previous", ["high", "essentially_off", "low"])
def test_restores_exactly_the_previous_level(sandbox, previous):
    set_level(sandbox, previous)
    on = converge(uam(sandbox), "active")
    assert on["changed"] and on["active"] and level(sandbox) == "under_attack"
    assert on["snapshot"]["security_level"] == previous
    off = converge(uam(sandbox), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and not off["active"] and level(sandbox) == previous
    bodies = [w["body"] for w in sandbox.requests(writes_only=True)]
    assert bodies == [{"id": "security_level", "value": "under_attack"}, {"id": "security_level", "value": previous}]


def test_a_zone_already_under_attack_stays_so(sandbox):
    set_level(sandbox, "under_attack")
    on = converge(uam(sandbox), "active")
    assert not on["changed"] and on["snapshot"]["security_level"] == "under_attack"
    off = converge(uam(sandbox), "inactive", snapshot=on["snapshot"])
    assert not off["changed"] and level(sandbox) == "under_attack"
    assert sandbox.requests(writes_only=True) == []


def test_rerun_and_check_mode_make_no_write(sandbox):
    checked = converge(uam(sandbox), "active", check_mode=True)
    assert checked["changed"] and checked["after"]["security_level"] == "under_attack"
    assert sandbox.requests(writes_only=True) == [] and level(sandbox) == "medium"
    on = converge(uam(sandbox), "active")
    again = converge(uam(sandbox), "active", snapshot=on["snapshot"])
    assert not again["changed"] and again["snapshot"] == on["snapshot"]
    assert len(sandbox.requests(writes_only=True)) == 1


def test_zone_by_name(sandbox):
    on = converge(uam(sandbox, zone_name="example.test"), "active")
    assert on["snapshot"]["zone_id"] == ZONE and level(sandbox) == "under_attack"


def test_unknown_zone_name_says_how_to_fix(sandbox):
    with pytest.raises(ProviderError, match="no zone named example.invalid is visible to this API token"):
        converge(uam(sandbox, zone_name="example.invalid"), "active")


def test_wrong_zone_id_says_where_to_find_it(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(uam(sandbox, zone_id="0" * 32), "active")
    assert "HTTP 404" in str(err.value) and "Zone ID from the zone's Overview page" in str(err.value)
    with pytest.raises(ProviderError, match="Zone ID from the zone's Overview page"):
        converge(uam(sandbox, zone_id="example.com"), "active")


def test_read_only_token_names_the_permission(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(uam(sandbox, api_token="sandbox-cf-token-ro"), "active")
    assert "HTTP 403" in str(err.value) and "Zone Settings Write" in str(err.value)
    assert "sandbox-cf-token-ro" not in str(err.value)


def test_not_editable_fails_before_any_write(sandbox):
    set_level(sandbox, "medium", editable=False)
    with pytest.raises(ProviderError, match="cannot be changed"):
        converge(uam(sandbox), "active")
    assert sandbox.requests(writes_only=True) == []


def test_withdraw_without_snapshot_needs_restore_level(sandbox):
    set_level(sandbox, "under_attack")
    with pytest.raises(ProviderError, match="set restore_level"):
        converge(uam(sandbox), "inactive")
    assert sandbox.requests(writes_only=True) == []
    off = converge(uam(sandbox, restore_level="high"), "inactive")
    assert off["changed"] and level(sandbox) == "high"


def test_rate_limit_is_retried(sandbox):
    sandbox.add_fault(provider="cloudflare", method="PATCH", status=429, headers={"Retry-After": "1"}, count=1)
    assert converge(uam(sandbox), "active")["changed"]
    assert [r["status"] for r in sandbox.requests() if r["method"] == "PATCH"] == [429, 200]


def test_test_button(sandbox):
    report = build_test_report(uam(sandbox, api_token="sandbox-cf-token-ro", zone_name="example.test"))
    assert report["ok"] and report["active"] is False
    assert any("the security level is medium now" in f["detail"] for f in report["findings"])
    set_level(sandbox, "medium", editable=False)
    report = build_test_report(uam(sandbox))
    assert not report["ok"] and "NOT editable" in report["msg"]


def test_module_end_to_end(sandbox, module_runner):
    args = dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", zone_name="example.test")
    on = module_runner("cloudflare_under_attack", args)
    assert on["changed"] and on["active"], on
    off = module_runner("cloudflare_under_attack", dict(args, state="inactive", snapshot=on["snapshot"]))
    assert off["changed"] and level(sandbox) == "medium"
    info = module_runner("cloudflare_under_attack_info", args)
    assert info["ok"] and not info["changed"]


def test_a_snapshot_of_another_zone_is_refused_before_any_write(sandbox):
    set_level(sandbox, "under_attack")
    with pytest.raises(ProviderError, match="snapshot was taken on zone f+, not on zone %s" % ZONE):
        converge(uam(sandbox), "inactive", snapshot={"zone_id": "f" * 32, "security_level": "low"})
    assert sandbox.requests(writes_only=True) == [] and level(sandbox) == "under_attack"


def test_a_rejected_token_is_never_retried_nor_shown(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(uam(sandbox, api_token="sandbox-cf-token-revoked", retries=4), "active")
    text = str(err.value)
    assert "HTTP 401" in text and "My Profile > API Tokens" in text and "sandbox-cf-token-revoked" not in text
    assert len(sandbox.requests()) == 1


# -- identifiers checked before any call (issue 10 defect 4) ----------------------------------------------
@pytest.mark.parametrize("option,bad", [("zone_id", [ZONE, ZONE]), ("zone_id", ""), ("zone_id", "example.test"),
                                        ("zone_name", "not a domain")])
def test_bad_zone_is_refused_by_the_module_before_any_call(sandbox, module_runner, option, bad):
    args = {"api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", option: bad}
    result = module_runner("cloudflare_under_attack", args)
    assert result["_rc"] != 0
    assert "cloudflare_under_attack" in result["msg"] and "option %s must be" % option in result["msg"], result["msg"]
    assert sandbox.requests() == []


def test_bad_identifiers_of_the_cloud_providers_are_refused_by_the_inventory(sandbox, tmp_path):
    """One inventory, one bad identifier per cloud integration: the run names each host and
    option, and no request reaches any provider."""
    from ddos_sandbox.providers.aws_shield import ACCESS_KEY, CLOUDFRONT, SECRET_KEY
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
    from ddos_sandbox.providers.ovh import APP_KEY, APP_SECRET, CONSUMER_KEY

    cf = {"api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw"}
    hosts = {
        "mt-list": ("cloudflare_magic_transit", dict(cf, account_id=ACCOUNT, prefix_id=[PREFIX, PREFIX]),
                    "prefix_id"),
        "mt-empty": ("cloudflare_magic_transit", dict(cf, account_id="", prefix_id=PREFIX), "account_id"),
        "uam-name": ("cloudflare_under_attack", dict(cf, zone_id="example.test"), "zone_id"),
        "ovh-host": ("ovh_mitigation", dict(api_url=sandbox.api_url("ovh"), application_key=APP_KEY,
                                            application_secret=APP_SECRET, consumer_key=CONSUMER_KEY,
                                            ip="server-1.example.test"), "ip"),
        "aws-id": ("aws_shield", dict(endpoint_url=sandbox.api_url("aws_shield"), aws_access_key_id=ACCESS_KEY,
                                      aws_secret_access_key=SECRET_KEY, resource_arns=[CLOUDFRONT, "eipalloc-1"]),
                   "resource_arns"),
    }
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local"}}},
        "scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
            name: {"scrubbing_provider": provider, "scrubbing_options": options}
            for name, (provider, options, _option) in hosts.items()}}}))
    proc = run_playbook("incident", sandbox, tmp_path / "ledger.json",
                        {"incident": {"id": "SHAPE-1", "status": "started"}}, inventory=str(inventory))
    assert proc.returncode != 0, proc.output
    for name, (provider, _options, option) in hosts.items():
        assert "integration %s (%s): scrubbing_options: option %s must be" % (name, provider, option) in proc.output, (
            name, proc.output)
    assert sandbox.requests() == [], "a malformed identifier must cause no request at all"
