# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A withdrawal is decided again just before it is written: an incident that starts while a
resolution's run is on its way to the provider must not see its protection withdrawn, not even
for a moment (a withdrawn BGP announcement takes minutes to come back).

The sandbox holds the resolution run's provider read (after the run decided to withdraw and
claimed the integration, before any write); a second incident starts meanwhile; then the read
is released. What the user sees: no withdrawal request reaches the provider, both runs succeed,
the prefix stays advertised."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import VENV_BIN, ansible_env
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from test_ledger_safety import advertised, cf_inventory, incident, wait_until
from processes import kill_tree

PREFIX_PATH = "^/accounts/%s/addressing/prefixes/%s/" % (ACCOUNT, PREFIX)


def _start(sandbox, ledger, inv, body):
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i", inv,
           "-e", "scrubbing_state_file=%s" % ledger, "-e", json.dumps(body)]
    return subprocess.Popen(cmd, env=ansible_env({"DDOS_SANDBOX_URL": sandbox.url}), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _finish(proc, timeout=240):
    try:
        out = proc.communicate(timeout=timeout)[0]
    finally:
        kill_tree(proc.pid)
    return proc.returncode, out


def test_incident_started_during_a_withdrawal_stops_it_before_the_write(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}})
    ledger = tmp_path / "ledger.json"
    assert incident(sandbox, ledger, inv, "A", "started").returncode == 0
    assert advertised(sandbox)

    sandbox.add_fault(provider="cloudflare", method="GET", path=PREFIX_PATH, hold=True, name="read", count=1)
    resolving = _start(sandbox, ledger, inv, {"incident": {"id": "A", "status": "resolved"}})
    starting = None
    try:
        assert sandbox.wait_held("read", 120), "the resolution run never read the provider"
        starting = _start(sandbox, ledger, inv, {"incident": {"id": "wave-B-redecide", "status": "started"}})
        wait_until(lambda: "wave-B-redecide" in ledger.read_text(), "incident B in the ledger")
        sandbox.release("read")
        resolved_rc, resolved_out = _finish(resolving)
        started_rc, started_out = _finish(starting)
    finally:
        sandbox.release("read")
        for proc in (resolving, starting):
            if proc is not None and proc.poll() is None:
                kill_tree(proc.pid)
                proc.wait()
    assert resolved_rc == 0, resolved_out
    assert started_rc == 0, started_out
    withdrawals = [e for e in sandbox.requests("cloudflare", writes_only=True)
                   if e["method"] == "PATCH" and e["body"] == {"on_demand": {"advertised": False}}]
    assert withdrawals == [], "a withdrawal was written after incident B had started"
    assert advertised(sandbox)
