"""The playbooks on the PostgreSQL ledger, and one hung provider through the real sandbox."""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import run_playbook
from services import PostgresServer


@pytest.fixture(scope="module")
def pg():
    reason = PostgresServer.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


def writes(sandbox, provider=None):
    return sandbox.requests(provider=provider, writes_only=True)


def test_incident_on_the_postgresql_ledger(sandbox, tmp_path, pg):
    unused = tmp_path / "no-file-ledger.json"
    dsn = {"scrubbing_ledger_dsn": pg.dsn}
    started = run_playbook("incident", sandbox, unused, dict(dsn, incident={"id": "PG-1", "status": "started"}))
    assert started.returncode == 0, started.output
    assert writes(sandbox), "the incident activated the integrations"
    assert not unused.exists(), "the file ledger is not used when a DSN is set"
    doc = json.loads(pg.psql_value("SELECT doc FROM ddos_scrubbing_ledger"))
    assert doc["workspaces"]["default"]["incidents"]["PG-1"]["status"] == "active"
    assert all(rec["claim"] is None for rec in doc["integrations"].values())
    status = run_playbook("status", sandbox, unused, dsn)
    assert status.returncode == 0 and "PG-1" in status.output, status.output
    resolved = run_playbook("incident", sandbox, unused, dict(dsn, incident={"id": "PG-1", "status": "resolved"}))
    assert resolved.returncode == 0, resolved.output
    doc = json.loads(pg.psql_value("SELECT doc FROM ddos_scrubbing_ledger"))
    assert not any(rec["active"] for rec in doc["integrations"].values())


def test_dsn_from_the_environment(sandbox, tmp_path, pg):
    run = run_playbook("incident", sandbox, tmp_path / "unused.json", {"incident": {"id": "ENV-1", "status": "started"}},
                       env={"SCRUBBING_LEDGER_DSN": pg.dsn})
    assert run.returncode == 0, run.output
    assert "ENV-1" in pg.psql_value("SELECT doc FROM ddos_scrubbing_ledger")


def test_unreachable_database_fails_the_run_and_writes_nothing(sandbox, tmp_path):
    dsn = "host=127.0.0.1 port=9 dbname=ddos user=ddos password=Sup3rSecretPw connect_timeout=2"
    # as AWX injects it (ansible-playbook itself echoes a DSN given with -e at -vvvv)
    run = run_playbook("incident", sandbox, tmp_path / "unused.json", {"incident": {"id": "X", "status": "started"}},
                       env={"SCRUBBING_LEDGER_DSN": dsn, "ANSIBLE_VERBOSITY": "4"})
    assert run.returncode != 0
    assert "PostgreSQL 127.0.0.1 port 9 database ddos" in run.output, run.output
    assert "Sup3rSecretPw" not in run.output
    assert writes(sandbox) == [], "no provider write without a ledger"


def test_a_hung_provider_holds_back_nobody_through_the_sandbox(sandbox, tmp_path):
    """Every Hetzner Robot request is parked by the sandbox; the other providers are written while
    it is still parked, the run ends at its deadline with Robot pending, reconcile finishes it."""
    ledger = tmp_path / "ledger.json"
    sandbox.add_fault(provider="hetzner", hold=True, count=-1, name="robot-hangs")
    run = run_playbook("incident", sandbox, ledger, {"scrubbing_deadline": 15,
                                                     "incident": {"id": "H", "status": "started"}})
    still_parked_at = time.time()
    assert run.returncode != 0, "a pending integration fails the run loudly"
    assert "hetzner-robot: PENDING" in run.output and "reconcile" in run.output, run.output
    healthy = {e["provider"] for e in writes(sandbox)}
    assert {"cloudflare", "ovh", "digitalocean", "vultr", "linode"} <= healthy, healthy
    assert all(e["time"] < still_parked_at for e in writes(sandbox))
    assert not writes(sandbox, "hetzner")
    sandbox.release("robot-hangs", drop=True)
    sandbox.faults.clear()  # the held requests were released (dropped) above
    again = run_playbook("reconcile", sandbox, ledger)
    assert again.returncode == 0, again.output
    assert writes(sandbox, "hetzner"), "reconcile activated Robot"


def test_retry_after_beyond_the_deadline_fails_at_once(sandbox, tmp_path):
    ledger = tmp_path / "ledger.json"
    sandbox.add_fault(provider="vultr", status=429, headers={"Retry-After": "3600"}, count=-1)
    run = run_playbook("incident", sandbox, ledger, {"scrubbing_deadline": 60,
                                                     "incident": {"id": "V", "status": "started"}})
    assert run.returncode != 0
    assert "retry after 3600 s" in run.output and "Retry after 20" in run.output, run.output
    assert {"cloudflare", "linode"} <= {e["provider"] for e in writes(sandbox)}
