# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guardrails through the playbooks, on the sandbox: a tiered setup (a server firewall at once,
Magic Transit above a size, "I'm Under Attack" after a while), the safelist, expiry, the
notifications as their receivers get them (HMAC checked with our own computation) and the
audit trail as the audit playbook exports it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import sys
import time

import pytest

from conftest import read_ledger, run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receivers import Receiver  # noqa: E402

SECRET = "hmac-test-secret-7f3a"
ROUTING_KEY = "pd-routing-key-test-91b2"
ESCALATE = 15  # seconds: long enough for four playbook runs on a busy machine


def inventory(tmp_path, sandbox, fw=None, mt=None, uam=None):
    cf = {"api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "wait_sleep": 0.05}
    hosts = {
        "server-fw": dict({"scrubbing_provider": "hetzner_firewall", "scrubbing_options": {
            "api_url": sandbox.api_url("hetzner"), "robot_user": "#ws+sandbox",
            "robot_password": "sandbox-robot-password", "server_number": 321, "wait_sleep": 0.05}}, **(fw or {})),
        "scrub-mt": dict({"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": dict(
            cf, account_id=ACCOUNT, prefix_id=PREFIX)}, **(mt or {})),
        "zone-uam": dict({"scrubbing_provider": "cloudflare_under_attack", "scrubbing_options": dict(
            cf, zone_name="example.test")}, **(uam or {})),
    }
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local"}}},
        "scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": hosts}}))
    return str(path)


def on(sandbox):
    state = sandbox.state()
    return {"server-fw": state["hetzner"]["321"]["status"] != "disabled",
            "scrub-mt": state["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"] is True,
            "zone-uam": state["cloudflare"]["zones"]["5e6f708192a3b4c5d6e7f8091a2b3c4d"]["security_level"]
            == "under_attack"}


class Runner:
    def __init__(self, sandbox, tmp_path, inv, extra):
        self.sandbox, self.tmp_path, self.inv, self.extra = sandbox, tmp_path, inv, extra
        self.ledger = tmp_path / "state" / "ledger.json"

    def __call__(self, name, extra=None, ok=True):
        proc = run_playbook(name, self.sandbox, self.ledger, dict(self.extra, **(extra or {})), inventory=self.inv)
        if ok:
            assert proc.returncode == 0, proc.output[-5000:]
        for secret in (SECRET, ROUTING_KEY, "sandbox-robot-password", "sandbox-cf-token-rw"):
            assert secret not in proc.output, "a secret in the output of %s" % name
        return proc

    def incident(self, incident, **kw):
        return self("incident", {"incident": incident}, **kw)


def verified(receiver):
    """The generic receiver's bodies, each after checking its signature with our own HMAC."""
    out = []
    for req in receiver.got:
        expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
        assert req["headers"].get("X-Scrubbing-Signature") == expected, req["headers"]
        out.append(json.loads(req["body"]))
    return out


@pytest.fixture
def receivers():
    started = []

    def make(**kw):
        started.append(Receiver(**kw).start())
        return started[-1]
    yield make
    for receiver in started:
        receiver.stop()


def test_a_tiered_setup_by_size_and_time_with_a_safelist_notified_and_audited(sandbox, tmp_path, receivers):
    generic, slack = receivers(), receivers(status=200)
    inv = inventory(tmp_path, sandbox, mt={"scrubbing_min_bps": 1000000000},
                    uam={"scrubbing_escalate_after": ESCALATE})
    play = Runner(sandbox, tmp_path, inv, {
        "scrubbing_safelist": ["203.0.113.99"],
        "scrubbing_notify": [{"url": generic.url, "format": "generic", "secret": SECRET},
                             {"url": slack.url, "format": "slack", "events": ["activated"]}]})

    # a safelisted address: no integration acts, nothing is written, nobody is notified
    safe = play.incident({"id": "S1", "status": "started", "target": "203.0.113.99",
                          "attack": {"bps": 9000000000}})
    assert on(sandbox) == {"server-fw": False, "scrub-mt": False, "zone-uam": False}
    assert "203.0.113.99 is in the playbook-wide scrubbing_safelist" in safe.stdout, safe.stdout
    assert not sandbox.requests(writes_only=True) and not generic.got
    play.incident({"id": "S1", "status": "resolved"})

    # a small attack: the server's firewall at once; scrubbing is above 1 Gbps, the zone later
    started = time.time()
    small = play.incident({"id": "A1", "status": "started", "target": "203.0.113.7",
                           "attack": {"bps": 200000000, "pps": 40000}})
    assert on(sandbox) == {"server-fw": True, "scrub-mt": False, "zone-uam": False}, small.stdout
    assert "below the threshold (bps 200000000; scrubbing_min_bps=1000000000)" in small.stdout
    assert "escalates at" in small.stdout
    # the attack grows: the detector's update raises the size and the next tier comes in
    grown = play.incident({"id": "A1", "status": "updated", "target": "203.0.113.7", "attack": {"bps": 3000000000}})
    assert on(sandbox) == {"server-fw": True, "scrub-mt": True, "zone-uam": False}, grown.stdout
    # a later, smaller sample does not undo it: the ledger (a local fact) keeps the peak
    play.incident({"id": "A1", "status": "updated", "target": "203.0.113.7", "attack": {"bps": 100, "pps": 90000}})
    assert on(sandbox)["scrub-mt"] is True
    attack = read_ledger(play.ledger)["workspaces"]["default"]["incidents"]["A1"]["attack"]
    assert (attack["bps"], attack["pps"]) == (3000000000, 90000), attack
    # no detector event: the scheduled reconcile escalates once the incident is old enough
    early = play("reconcile")
    assert time.time() < started + ESCALATE, "the machine is too slow for this test's %d s escalation" % ESCALATE
    assert on(sandbox)["zone-uam"] is False, early.stdout
    time.sleep(max(0.0, started + ESCALATE + 0.5 - time.time()))
    play("reconcile")
    assert on(sandbox) == {"server-fw": True, "scrub-mt": True, "zone-uam": True}
    status = play("status")
    assert "ON 30D" in status.stdout and "GUARD" in status.stdout
    play.incident({"id": "A1", "status": "resolved"})
    assert on(sandbox) == {"server-fw": False, "scrub-mt": False, "zone-uam": False}

    # the generic receiver: one signed POST per run that changed something, with what changed
    runs = [[(e["event"], e["integration"], e["incidents"]) for e in body["events"]] for body in verified(generic)]
    assert runs == [[("activated", "server-fw", ["A1"])], [("activated", "scrub-mt", ["A1"])],
                    [("activated", "zone-uam", ["A1"])],
                    [("withdrawn", n, ["A1"]) for n in ("scrub-mt", "server-fw", "zone-uam")]], runs
    first = verified(generic)[0]["events"][0]
    assert {"event", "integration", "provider", "workspace", "incidents", "action", "result", "time"} <= set(first)
    assert first["provider"] == "hetzner_firewall" and first["workspace"] == "default" and first["result"] == "ok"
    # the slack receiver asked for activations only
    texts = [b["text"] for b in slack.bodies()]
    assert len(texts) == 3 and all("*activated*" in t for t in texts), texts

    # the audit trail, beside the ledger, 0600; exported by the audit playbook, filtered
    trail = play.ledger.parent / "ledger.audit.jsonl"
    assert stat.S_IMODE(os.stat(trail).st_mode) == 0o600
    export = tmp_path / "audit.jsonl"
    play("audit", {"scrubbing_audit_file": str(export), "scrubbing_audit_integration": "scrub-mt",
                   "scrubbing_audit_incident": "A1"})
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert lines and all(r["integration"] == "scrub-mt" and "A1" in r["incidents"] for r in lines)
    writes = [(r["action"], r["result"]) for r in lines if r["kind"] == "write"]
    assert writes == [("activate", "changed"), ("withdraw", "changed")], lines
    below = next(r for r in lines if r["kind"] == "decision")
    assert "below the threshold" in below["why"] and below["event"]["attack"]["bps"] == 200000000
    assert all(r["run"] and r["host"] and r["time"] and r["api_calls"] >= 1 for r in lines if r["kind"] == "write")
    recent = tmp_path / "recent.jsonl"
    play("audit", {"scrubbing_audit_file": str(recent), "scrubbing_audit_since": "1s"})
    assert len(recent.read_text().splitlines()) < len(open(trail).read().splitlines())
    assert stat.S_IMODE(os.stat(export).st_mode) == 0o600


def test_max_active_expires_an_open_incident_and_a_new_incident_rearms(sandbox, tmp_path, receivers):
    pager = receivers()
    inv = inventory(tmp_path, sandbox, uam={"scrubbing_max_active": 4}, mt={"scrubbing_min_pps": 100000})
    play = Runner(sandbox, tmp_path, inv, {"scrubbing_notify": [
        {"url": pager.url, "format": "pagerduty", "secret": ROUTING_KEY, "events": ["activated", "expired"]}]})
    # no size reported: Magic Transit acts anyway (protection first), with a warning
    first = play.incident({"id": "B1", "status": "started", "target": "203.0.113.7"})
    assert on(sandbox) == {"server-fw": True, "scrub-mt": True, "zone-uam": True}
    assert "scrub-mt acts for incident B1, which reports no attack size" in first.output, first.output
    time.sleep(4.5)
    expired = play("reconcile")
    assert on(sandbox) == {"server-fw": True, "scrub-mt": True, "zone-uam": False}, expired.stdout
    assert "expired" in expired.stdout
    again = play("reconcile")
    assert on(sandbox)["zone-uam"] is False, "an expired integration came back without a new incident"
    row = next(line for line in play("status").stdout.splitlines() if "zone-uam" in line and "cloudflare" in line)
    assert "expired" in row, row
    del again
    play.incident({"id": "B2", "status": "started", "target": "203.0.113.8"})
    assert on(sandbox)["zone-uam"] is True, "a new incident re-arms it"

    events = pager.bodies()
    assert all(e["routing_key"] == ROUTING_KEY for e in events)
    actions = [(e["event_action"], e["dedup_key"]) for e in events]
    assert actions == [("trigger", "ddos.scrubbing/default/B1"), ("resolve", "ddos.scrubbing/default/B1"),
                       ("trigger", "ddos.scrubbing/default/B2")], actions
    assert "zone-uam" in events[0]["payload"]["summary"] and events[0]["payload"]["source"] == "ddos.scrubbing"


def test_a_receiver_that_fails_or_redirects_is_a_warning_and_a_record(sandbox, tmp_path, receivers):
    elsewhere = receivers()
    broken = receivers(status=500)
    moved = receivers(status=302, location=elsewhere.url)
    inv = inventory(tmp_path, sandbox)
    play = Runner(sandbox, tmp_path, inv, {"scrubbing_notify": [
        {"url": broken.url, "format": "generic", "secret": SECRET},
        {"url": moved.url, "format": "generic", "secret": SECRET}]})
    run = play.incident({"id": "C1", "status": "started", "target": "203.0.113.7"})
    assert on(sandbox) == {"server-fw": True, "scrub-mt": True, "zone-uam": True}
    # one POST per receiver with the run's 3 activations, each failure an Ansible warning
    assert len(broken.got) == 1 and len(moved.got) == 1
    text = " ".join(run.output.split())  # Ansible wraps long warnings
    assert "[WARNING]: notification scrubbing_notify[0] (generic, 3 event(s)) was not delivered" in text, text
    assert "[WARNING]: notification scrubbing_notify[1] (generic, 3 event(s)) was not delivered: HTTP 302: " \
           "the answer was a " \
           "redirect to http://127.0.0.1:%d, not followed" % elsewhere.server.server_address[1] in text, text
    assert not elsewhere.got, "a redirect was followed"
    assert moved.url not in run.output
    trail = [json.loads(line) for line in (play.ledger.parent / "ledger.audit.jsonl").read_text().splitlines()]
    failed = [(r["receiver"], r["ok"]) for r in trail if r["kind"] == "notify"]
    assert failed == [("scrubbing_notify[0]", False), ("scrubbing_notify[1]", False)]


@pytest.mark.parametrize("hostvar, extra, message", [
    ({"scrubbing_min_bps": "lots"}, {}, "integration scrub-mt (cloudflare_magic_transit): scrubbing_min_bps must be "
     "a whole number of bits per second"),
    ({"scrubbing_never": ["not-an-ip"]}, {}, "integration scrub-mt (cloudflare_magic_transit): scrubbing_never: "
     "'not-an-ip' is not an IP address"),
    ({"scrubbing_escalate_afer": 60}, {}, "unknown host variable scrubbing_escalate_afer (did you mean "
     "scrubbing_escalate_after?)"),
    ({}, {"scrubbing_notify": [{"url": "http://192.0.2.1/hook", "format": "generic", "secret": SECRET}]},
     "scrubbing_notify[0]: url must be an https:// URL (plain http:// only for a loopback host"),
    ({}, {"scrubbing_notify": [{"url": "https://hooks.example.net/x", "format": "teams"}]},
     "scrubbing_notify[0]: format must be one of generic, slack, pagerduty"),
    ({}, {"scrubbing_notify": [{"url": "https://hooks.example.net/x", "events": ["resolved"]}]},
     "scrubbing_notify[0]: events must be a non-empty list of activated, withdrawn, failed, pending, expired"),
    ({}, {"scrubbing_safelist": ["10.0.0.0/33"]}, "scrubbing_safelist: '10.0.0.0/33' is not an IP address"),
])
def test_a_bad_guardrail_setting_is_refused_before_any_write(sandbox, tmp_path, hostvar, extra, message):
    inv = inventory(tmp_path, sandbox, mt=hostvar)
    run = Runner(sandbox, tmp_path, inv, extra).incident({"id": "D1", "status": "started", "target": "203.0.113.7"},
                                                         ok=False)
    assert run.returncode != 0
    assert message in run.output, run.output[-3000:]
    assert not sandbox.requests(writes_only=True)
    assert not os.path.exists(tmp_path / "state" / "ledger.json"), "a refused run recorded the incident"


def test_the_audit_trail_in_postgresql_and_the_time_on(sandbox, tmp_path):
    from services import PostgresServer

    reason = PostgresServer.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    try:
        server.psql("CREATE DATABASE guardrails")
        dsn = server.dsn.replace("dbname=postgres", "dbname=guardrails")
        play = Runner(sandbox, tmp_path, inventory(tmp_path, sandbox, uam={"scrubbing_never": ["203.0.113.0/28"]}),
                      {"scrubbing_ledger_dsn": dsn})
        play.incident({"id": "P1", "status": "started", "target": "203.0.113.7"})
        time.sleep(2)
        play.incident({"id": "P1", "status": "resolved"})
        rows = int(server.psql_value("SELECT count(*) FROM ddos_scrubbing_audit", dbname="guardrails"))
        assert rows >= 5, rows
        assert not (play.ledger.parent / "ledger.audit.jsonl").exists(), "the trail belongs with the ledger"
        export = tmp_path / "pg.jsonl"
        play("audit", {"scrubbing_audit_file": str(export), "scrubbing_audit_integration": "zone-uam"})
        lines = [json.loads(line) for line in export.read_text().splitlines()]
        assert [(r["kind"], r["result"]) for r in lines] == [("decision", "none"), ("decision", "none")], lines
        assert "203.0.113.7 is in its scrubbing_never" in lines[0]["why"]
        status = play("status")
        document = play("status", {"scrubbing_status_format": "json",
                                   "scrubbing_status_file": str(tmp_path / "s.json")})
        assert document.returncode == 0
        seconds = {r["integration"]: r["active_30d"] for r in json.loads((tmp_path / "s.json").read_text())[
            "integrations"]}
        assert 2 <= seconds["scrub-mt"] < 120 and seconds["zone-uam"] == 0, seconds
        assert "ON 30D" in status.stdout
    finally:
        server.stop()


def test_the_retention_drops_old_records_when_a_run_appends(sandbox, tmp_path):
    play = Runner(sandbox, tmp_path, inventory(tmp_path, sandbox), {"scrubbing_audit_retention": 30})
    trail = tmp_path / "state" / "ledger.audit.jsonl"
    trail.parent.mkdir()
    old, recent = time.time() - 31 * 86400, time.time() - 29 * 86400
    trail.write_text("".join(json.dumps({"at": at, "kind": "write", "integration": "scrub-mt", "action": "activate",
                                         "result": "changed", "incidents": ["OLD"]}) + "\n" for at in (old, recent)))
    play.incident({"id": "R1", "status": "started", "target": "203.0.113.7"})
    kept = [json.loads(line) for line in trail.read_text().splitlines()]
    assert [r["at"] for r in kept[:1]] == [recent], "the record older than 30 days stays, or the recent one went"
    assert len(kept) == 1 + 3 and {r["incidents"][0] for r in kept[1:]} == {"R1"}
    assert stat.S_IMODE(os.stat(trail).st_mode) == 0o600
