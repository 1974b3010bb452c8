"""The incident story as real playbook runs on the demo inventory (every provider's demo
integration) against the sandbox:

A started -> everything activated; B started -> no write; A resolved -> still active, no
write; B resolved -> everything withdrawn and every provider back exactly as it was; the
always-on Magic Transit prefix untouched throughout.
"""

from __future__ import annotations

import json

from conftest import read_ledger, run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, ALWAYS_ON_PREFIX, PREFIX

VOLATILE = ("id", "ids", "version", "fingerprint", "created", "updated", "date_created", "date_modified",
            "modified_on", "modified_at", "created_at", "advertised_modified_at", "status_changed_at")


def restorable(value, unordered=False):
    """A provider state without what legitimately changes on a round trip (ids, timestamps).
    Vultr rules carry no order (all accepts, listed by id, and ids change on re-create)."""
    if isinstance(value, dict):
        return {k: restorable(v, unordered or k == "vultr") for k, v in value.items()
                if k not in VOLATILE and not str(k).endswith("_at")}
    if isinstance(value, list):
        items = [restorable(v, unordered) for v in value]
        return sorted(items, key=repr) if unordered else items
    return value


def writes(sandbox, since=0):
    return [e for e in sandbox.requests(writes_only=True) if e["seq"] > since]


def last_seq(sandbox):
    entries = sandbox.requests()
    return entries[-1]["seq"] if entries else 0


def mt_advertised(sandbox, prefix):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][prefix]["advertised"]


def test_two_overlapping_incidents(sandbox, tmp_path):
    ledger = tmp_path / "ledger.json"
    initial = restorable(sandbox.state())

    a = run_playbook("incident", sandbox, ledger, {"incident": {"id": "A", "status": "started",
                                                                "target": "203.0.113.7"}})
    assert a.returncode == 0, a.output
    assert mt_advertised(sandbox, PREFIX) and mt_advertised(sandbox, ALWAYS_ON_PREFIX)
    doc = read_ledger(ledger)
    assert doc["integrations"], doc
    for name, rec in doc["integrations"].items():
        assert rec["active"] and rec["incidents"] == ["A"] and rec["snapshot"] is not None, (name, rec)
    assert not any(e["path"].endswith(ALWAYS_ON_PREFIX) for e in writes(sandbox))

    mark = last_seq(sandbox)
    b = run_playbook("incident", sandbox, ledger, {"incident": {"id": "B", "status": "started"}})
    assert b.returncode == 0, b.output
    assert writes(sandbox, mark) == [], "an already active integration must get no write"

    mark = last_seq(sandbox)
    a_res = run_playbook("incident", sandbox, ledger, {"incident": {"id": "A", "status": "resolved"}})
    assert a_res.returncode == 0, a_res.output
    assert writes(sandbox, mark) == [], "B is still active: nothing may be withdrawn"
    assert mt_advertised(sandbox, PREFIX)
    assert "needed by incident B" in a_res.stdout

    b_res = run_playbook("incident", sandbox, ledger, {"incident": {"id": "B", "status": "resolved"}})
    assert b_res.returncode == 0, b_res.output
    assert not mt_advertised(sandbox, PREFIX)
    assert mt_advertised(sandbox, ALWAYS_ON_PREFIX), "the always-on prefix must stay advertised"
    assert restorable(sandbox.state()) == initial, "every provider must be back exactly as it was"
    doc = read_ledger(ledger)
    assert not any(rec["active"] for rec in doc["integrations"].values())
    assert not any(e["path"].startswith("/accounts/%s/addressing/prefixes/%s" % (ACCOUNT, ALWAYS_ON_PREFIX))
                   for e in sandbox.requests(writes_only=True))


def test_second_run_and_check_mode_make_no_write(sandbox, tmp_path):
    ledger = tmp_path / "ledger.json"
    started = {"incident": {"id": "A", "status": "started"}}
    check = run_playbook("incident", sandbox, ledger, started, check=True)
    assert check.returncode == 0, check.output
    assert writes(sandbox) == [] and not ledger.exists(), "check mode writes neither providers nor the ledger"
    assert run_playbook("incident", sandbox, ledger, started).returncode == 0
    mark = last_seq(sandbox)
    again = run_playbook("incident", sandbox, ledger, started)
    assert again.returncode == 0 and writes(sandbox, mark) == []
    assert "duplicate event" in again.output


def test_status_table_and_json(sandbox, tmp_path):
    ledger = tmp_path / "ledger.json"
    run_playbook("incident", sandbox, ledger, {"incident": {"id": "A", "status": "started"}})
    table = run_playbook("status", sandbox, ledger)
    assert table.returncode == 0, table.output
    assert "INTEGRATION" in table.stdout and "cf-magic-transit" in table.stdout
    as_json = run_playbook("status", sandbox, ledger, {"scrubbing_status_format": "json"})
    assert as_json.returncode == 0 and '"provider_active": true' in as_json.stdout
    # status reads the providers (to show what each says) and never writes to them.
    mark = last_seq(sandbox)
    again = run_playbook("status", sandbox, ledger)
    assert again.returncode == 0, again.output
    after = [e for e in sandbox.requests() if e["seq"] > mark]
    assert after, "status must ask the providers what they say"
    assert [e for e in after if e["write"]] == [], "status must not write to any provider"


def test_bad_inventory_fails_before_any_call(sandbox, tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"scrubbing_integrations": {"hosts": {
        "good": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw",
            "account_id": ACCOUNT, "prefix_id": PREFIX}},
        "typo": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_token": "sandbox-cf-token-rw", "acount_id": ACCOUNT, "prefix_id": PREFIX}},
        "unknown": {"scrubbing_provider": "akamai_prolexic", "scrubbing_options": {}},
        "badtype": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT, "prefix_id": PREFIX, "timeout": "soon"}},
    }}}))
    proc = run_playbook("incident", sandbox, tmp_path / "ledger.json",
                        {"incident": {"id": "A", "status": "started"}}, inventory=str(inventory))
    assert proc.returncode != 0
    assert "integration typo (cloudflare_magic_transit)" in proc.output and "acount_id" in proc.output
    assert "integration unknown" in proc.output and "akamai_prolexic" in proc.output
    assert "integration badtype" in proc.output and "timeout" in proc.output
    assert sandbox.requests() == [], "a bad inventory must cause no API call at all"
    assert "sandbox-cf-token-rw" not in proc.output


def test_bad_incident_is_refused(sandbox, tmp_path):
    proc = run_playbook("incident", sandbox, tmp_path / "ledger.json",
                        {"incident": {"id": "A", "status": "begun"}})
    assert proc.returncode != 0 and "status" in proc.output
    bad_ip = run_playbook("incident", sandbox, tmp_path / "ledger.json",
                          {"incident": {"id": "A", "status": "started", "target": "300.1.2.3"}})
    assert bad_ip.returncode != 0 and "300.1.2.3" in bad_ip.output
    assert sandbox.requests() == []
