# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``--check`` writes nothing, for every playbook that can write, in situations where the real
run does write: every provider of the demo inventory, a ledger that already holds incidents.

Each check run is followed by the same run without ``--check``, which must write: a check run
that writes nothing only because there was nothing to do would prove nothing. What is asserted
is what the user can see: the sandbox's request log and state, the ledger's bytes, the exit
status. Both ledger backends: the file (its bytes, no temporary file left) and PostgreSQL
(``pg_dump`` of the database).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import in_ci, run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from services import PG_BIN, PostgresServer


class FileLedger:
    def __init__(self, path):
        self.path = path
        self.extra = {}

    def content(self):
        """The ledger's bytes, and any temporary ledger file left beside it."""
        if not self.path.exists():
            return None
        return self.path.read_bytes(), sorted(p.name for p in self.path.parent.iterdir() if p.name.startswith("."))


class PostgresLedger:
    def __init__(self, tmp_path, server):
        self.path = tmp_path / "unused-file-ledger.json"
        self.server = server
        self.extra = {"scrubbing_ledger_dsn": server.dsn}

    def content(self):
        """Every row of the database, as pg_dump writes it (a rolled-back write leaves it as it was)."""
        dump = subprocess.run([os.path.join(PG_BIN, "pg_dump"), "--data-only", "--no-owner", "-d", self.server.dsn],
                              capture_output=True, check=True)
        assert not self.path.exists(), "the file ledger was used although a DSN is set"
        # pg_dump brackets its output with a random \restrict key (PostgreSQL 15.14+): not data.
        return [line for line in dump.stdout.splitlines() if not line.startswith((b"\\restrict", b"\\unrestrict"))]


@pytest.fixture(params=["file", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "file":
        yield FileLedger(tmp_path / "ledger.json")
        return
    reason = PostgresServer.missing()
    if reason:
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    try:
        yield PostgresLedger(tmp_path, server)
    finally:
        server.stop()


def _seq(sandbox):
    entries = sandbox.requests()
    return entries[-1]["seq"] if entries else 0


def _writes_since(sandbox, mark):
    return ["%s %s %s" % (e["provider"], e["method"], e["path"])
            for e in sandbox.requests(writes_only=True) if e["seq"] > mark]


def check_writes_nothing(sandbox, ledger, playbook, extra=None, limit=None):
    """Run ``playbook`` with --check: it succeeds, reads the providers, and writes to neither
    a provider nor the ledger."""
    before_ledger = ledger.content()
    before_state = sandbox.state()
    mark = _seq(sandbox)
    proc = run_playbook(playbook, sandbox, ledger.path, dict(ledger.extra, **(extra or {})), limit=limit,
                        check=True)
    assert proc.returncode == 0, proc.output
    assert [e for e in sandbox.requests() if e["seq"] > mark], "%s --check must read the providers" % playbook
    assert (_writes_since(sandbox, mark), sandbox.state() == before_state) == ([], True), \
        "%s --check wrote to a provider (the requests, whether the providers are unchanged)" % playbook
    assert ledger.content() == before_ledger, "%s --check changed the ledger" % playbook
    return proc


def real_run_writes(sandbox, ledger, playbook, extra=None, limit=None):
    """The same run without --check: it writes (so the check run above had something to do)."""
    mark = _seq(sandbox)
    before_ledger = ledger.content()
    proc = run_playbook(playbook, sandbox, ledger.path, dict(ledger.extra, **(extra or {})), limit=limit)
    assert proc.returncode == 0, proc.output
    assert _writes_since(sandbox, mark), "%s should have written: the check run above proved nothing" % playbook
    assert ledger.content() != before_ledger
    return proc


def test_check_mode_writes_nothing_where_the_real_run_writes(sandbox, ledger):
    started_a = {"incident": {"id": "A", "status": "started", "target": "203.0.113.7"}}
    resolved_a = {"incident": {"id": "A", "status": "resolved"}}
    real_run_writes(sandbox, ledger, "incident", started_a)  # the ledger now holds incident A

    # incident: resolving the incident the ledger holds would withdraw every integration
    check_writes_nothing(sandbox, ledger, "incident", resolved_a)
    # withdraw: forced, as an active incident needs every integration
    check_writes_nothing(sandbox, ledger, "withdraw", {"force": True})
    # reconcile: someone withdrew the Magic Transit prefix in the panel; reconcile would re-advertise it
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][PREFIX]["advertised"] = False
    check_writes_nothing(sandbox, ledger, "reconcile")
    real_run_writes(sandbox, ledger, "reconcile")

    real_run_writes(sandbox, ledger, "incident", resolved_a)  # everything withdrawn; A stays in the ledger
    # incident: a new incident on a ledger that holds a resolved one would activate everything
    check_writes_nothing(sandbox, ledger, "incident", {"incident": {"id": "B", "status": "started"}})
    # activate: the manual button on every integration
    check_writes_nothing(sandbox, ledger, "activate")
    real_run_writes(sandbox, ledger, "activate")
    # withdraw: the pinned integrations, no incident active
    check_writes_nothing(sandbox, ledger, "withdraw")
    real_run_writes(sandbox, ledger, "withdraw")


def test_the_test_button_in_check_mode_sends_no_write(sandbox, tmp_path):
    """The Test button checks write permission with a change that changes nothing (DigitalOcean,
    Linode); ``--check`` promises no write request at all, so there it must not send one."""
    ledger = FileLedger(tmp_path / "ledger.json")
    real_run_writes(sandbox, ledger, "incident", {"incident": {"id": "A", "status": "started"}})
    check_writes_nothing(sandbox, ledger, "test")
