# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A forced manual withdrawal lasts while the workspace is under attack, not forever: once the
incident it overrode is resolved, the next incident protects again (README: "a forced one stays
off until the workspace is quiet")."""

from __future__ import annotations

from conftest import run_playbook
from ddos_sandbox.providers.cloudflare import PREFIX
from test_ledger_safety import advertised, cf_inventory, incident


def _advertise_patches(sandbox):
    return [e["body"]["on_demand"]["advertised"] for e in sandbox.requests("cloudflare", writes_only=True)
            if e["method"] == "PATCH" and PREFIX in e["path"]]


def test_forced_withdrawal_is_cleared_once_the_workspace_is_quiet(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}})
    ledger = tmp_path / "ledger.json"
    assert incident(sandbox, ledger, inv, "B", "started").returncode == 0
    assert advertised(sandbox)
    forced = run_playbook("withdraw", sandbox, ledger, {"force": True}, limit="edge", inventory=inv)
    assert forced.returncode == 0, forced.output
    assert not advertised(sandbox)

    # While B lasts, the operator's decision holds: a new wave of B (another incident of the
    # workspace, here D) does not bring the prefix back.
    assert incident(sandbox, ledger, inv, "D", "started").returncode == 0
    assert not advertised(sandbox), "a forced withdrawal holds while the workspace is under attack"
    assert incident(sandbox, ledger, inv, "D", "resolved").returncode == 0
    assert not advertised(sandbox), "B is still active: the forced withdrawal still holds"
    assert incident(sandbox, ledger, inv, "B", "resolved").returncode == 0
    assert not advertised(sandbox)

    started = incident(sandbox, ledger, inv, "C", "started")
    assert started.returncode == 0, started.output
    assert advertised(sandbox), "incident C started after the workspace was quiet: protection must come back"
    assert _advertise_patches(sandbox) == [True, False, True]
