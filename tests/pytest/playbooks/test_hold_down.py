"""A hold-down announced at resolution is a promise the ledger keeps: a later reconcile run without
-e scrubbing_hold_down leaves the protection on until the announced time, then withdraws it.
On both ledger backends (the deadline is part of the one JSON document both keep)."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from conftest import hold_down_for, read_ledger, run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from services import PostgresServer


@pytest.fixture(scope="module")
def postgres():
    reason = PostgresServer.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["file", "postgresql"])
def ledger(request, tmp_path):
    """(extra vars selecting the ledger, a function returning its document)."""
    if request.param == "file":
        path = tmp_path / "ledger.json"
        return {"scrubbing_state_file": str(path)}, lambda: read_ledger(path)
    server = request.getfixturevalue("postgres")
    server.psql("DROP DATABASE IF EXISTS hold_down")
    server.psql("CREATE DATABASE hold_down")
    dsn = server.dsn.replace("dbname=postgres", "dbname=hold_down")
    return {"scrubbing_ledger_dsn": dsn}, lambda: json.loads(
        server.psql_value("SELECT doc FROM ddos_scrubbing_ledger", dbname="hold_down"))


def advertised(sandbox):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"]


def test_a_promised_hold_down_outlives_the_run_that_announced_it(sandbox, tmp_path, ledger):
    where, document = ledger
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps({"scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
        "edge-mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
            "prefix_id": PREFIX, "wait_sleep": 0.05}}}}}))

    def play(name, extra=None):
        proc = run_playbook(name, sandbox, tmp_path / "unused.json", dict(where, **(extra or {})),
                            inventory=str(inv))
        assert proc.returncode == 0, proc.output[-4000:]
        return proc

    began = time.time()
    play("incident", {"incident": {"id": "H1", "status": "started"}})
    hold = hold_down_for(time.time() - began, runs=3)  # the resolution, a reconcile, a status
    assert advertised(sandbox) is True
    resolved = play("incident", {"incident": {"id": "H1", "status": "resolved"}, "scrubbing_hold_down": hold})
    announced = re.search(r"hold-down until (\S+Z)", resolved.stdout)
    assert announced and advertised(sandbox) is True, resolved.stdout
    # The scheduled reconcile does not know the hold-down the detector's run was given.
    kept = play("reconcile")
    assert advertised(sandbox) is True, "reconcile withdrew before the promised time:\n" + kept.stdout
    until = document()["workspaces"]["default"]["held_until"]
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)) == announced.group(1)
    assert time.time() < until, "the machine is too slow for this test's %d s hold-down" % hold
    assert "hold-down until %s" % announced.group(1) in kept.stdout
    status = play("status")
    row = next(line for line in status.stdout.splitlines() if "edge-mt" in line and "cloudflare" in line)
    assert announced.group(1) in row, "status shows until when it is held:\n" + status.stdout

    time.sleep(max(0.0, until - time.time()) + 1)
    play("reconcile")
    assert advertised(sandbox) is False, "the hold-down passed: reconcile withdraws"
    assert document()["integrations"]["edge-mt"]["active"] is False
