"""The ledger under the conditions of a real attack: waves within a hold-down, a run killed
mid-write, a provider failing while others succeed, drift, target scoping, pins."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import VENV_BIN, ansible_env, read_ledger, run_playbook
from processes import kill_tree
from ddos_sandbox.providers.cloudflare import ACCOUNT, ALWAYS_ON_PREFIX, PREFIX


def cf_inventory(path, sandbox, hosts):
    """Write an inventory of Magic Transit integrations on the sandbox: {name: overrides}."""
    inv = {}
    for name, extra in hosts.items():
        extra = dict(extra)
        options = {"api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw",
                   "account_id": ACCOUNT, "prefix_id": PREFIX, "wait_sleep": 0.05, "retries": 1}
        options.update(extra.pop("options", {}))
        inv[name] = dict({"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": options}, **extra)
    path.write_text(json.dumps({"scrubbing_integrations": {"hosts": inv, "vars": {"ansible_connection": "local"}}}))
    return str(path)


def advertised(sandbox, prefix=PREFIX):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][prefix]["advertised"]


def incident(sandbox, ledger, inventory, incident_id, status, **extra):
    fields = {k: v for k, v in extra.items() if k in ("workspace", "target")}
    body = {"incident": dict({"id": incident_id, "status": status}, **fields)}
    for k in ("scrubbing_hold_down",):
        if k in extra:
            body[k] = extra[k]
    proc = run_playbook("incident", sandbox, ledger, body, inventory=inventory)
    return proc


def test_multi_wave_within_hold_down_never_withdraws(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}})
    ledger = tmp_path / "ledger.json"
    assert incident(sandbox, ledger, inv, "A", "started", scrubbing_hold_down=3600).returncode == 0
    resolved = incident(sandbox, ledger, inv, "A", "resolved", scrubbing_hold_down=3600)
    assert resolved.returncode == 0 and "hold-down until" in resolved.stdout
    assert incident(sandbox, ledger, inv, "B", "started", scrubbing_hold_down=3600).returncode == 0
    patches = [e["body"] for e in sandbox.requests(writes_only=True)]
    assert patches == [{"on_demand": {"advertised": True}}], "no withdrawal may ever be sent between waves"
    assert advertised(sandbox)


def test_hold_down_expiry_is_withdrawn_by_reconcile(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}})
    ledger = tmp_path / "ledger.json"
    incident(sandbox, ledger, inv, "A", "started", scrubbing_hold_down=2)
    incident(sandbox, ledger, inv, "A", "resolved", scrubbing_hold_down=2)
    assert advertised(sandbox)
    time.sleep(2.2)
    proc = run_playbook("reconcile", sandbox, ledger, {"scrubbing_hold_down": 2}, inventory=inv)
    assert proc.returncode == 0, proc.output
    assert not advertised(sandbox)
    again = run_playbook("reconcile", sandbox, ledger, {"scrubbing_hold_down": 2}, inventory=inv)
    assert again.returncode == 0 and len(sandbox.requests(writes_only=True)) == 2, "reconcile is a no-op when in order"


CRASHPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crashpoint")
PATCH = "/accounts/%s/addressing/prefixes/%s/bgp/prefixes/" % (ACCOUNT, PREFIX)


def wait_until(condition, what, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


@pytest.mark.parametrize("point", ["after the intent", "during the provider write", "before the outcome",
                                   "during the ledger rename"])
def test_run_killed_at_a_crash_point_is_finished_by_reconcile_with_the_real_snapshot(sandbox, tmp_path, point):
    """kill -9 of the incident run at a point the test chooses (the sandbox holds the write,
    or a test-only sitecustomize holds the ledger rename), then reconcile converges: the prefix
    is advertised, the ledger says so with the real pre-incident snapshot, and the incident
    can still be resolved."""
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}})
    ledger = tmp_path / "ledger.json"
    env = ansible_env()
    arrived, release = tmp_path / "arrived", tmp_path / "release"
    if point == "during the ledger rename":
        env.update(PYTHONPATH=CRASHPOINT + os.pathsep + env.get("PYTHONPATH", ""), DDOS_CRASH_LEDGER=str(ledger),
                   DDOS_CRASH_INTEGRATION="edge", DDOS_CRASH_ARRIVED=str(arrived), DDOS_CRASH_RELEASE=str(release))
    else:
        sandbox.add_fault(provider="cloudflare", method="PATCH", path="^" + PATCH, name="write", count=1,
                          hold=point != "before the outcome", hold_response=point == "before the outcome")
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i", inv,
           "-e", "scrubbing_state_file=%s" % ledger, "-e", json.dumps({"incident": {"id": "A", "status": "started"}})]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if point == "during the ledger rename":
            wait_until(arrived.exists, "the outcome's ledger rename")
        else:
            assert sandbox.wait_held("write", 120), "the provider write never arrived"
        pending = read_ledger(ledger)["integrations"]["edge"]
        assert (pending["pending"] or {}).get("action") == "activate" and not pending["active"], pending
    finally:
        kill_tree(proc.pid)
        proc.wait()
    # What reached the provider: nothing (after the intent), the write (during it, before the
    # outcome, during the rename).
    sandbox.release("write", drop=point == "after the intent")
    wait_until(lambda: any(e["method"] == "PATCH" for e in sandbox.requests()) or point == "after the intent",
               "the held write to finish")
    assert advertised(sandbox) is (point != "after the intent")
    rec = read_ledger(ledger)["integrations"]["edge"]
    assert (rec["pending"] or {}).get("action") == "activate" and rec["pending"]["snapshot"]["advertised"] is False, rec
    assert not rec["active"]

    fixed = run_playbook("reconcile", sandbox, ledger, inventory=inv)
    assert fixed.returncode == 0, fixed.output
    assert advertised(sandbox)
    rec = read_ledger(ledger)["integrations"]["edge"]
    assert rec["active"] and rec["pending"] is None, rec
    assert rec["snapshot"]["advertised"] is False, "the real pre-incident snapshot survives the crash"
    assert incident(sandbox, ledger, inv, "A", "resolved").returncode == 0
    assert not advertised(sandbox)


def test_one_provider_failing_does_not_stop_the_others(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {
        "good": {}, "broken": {"options": {"prefix_id": ALWAYS_ON_PREFIX, "api_token": "sandbox-cf-token-ro"}}})
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][ALWAYS_ON_PREFIX]["advertised"] = False
    ledger = tmp_path / "ledger.json"
    proc = incident(sandbox, ledger, inv, "A", "started")
    assert proc.returncode != 0, "the play ends failed"
    assert advertised(sandbox), "the healthy integration was activated anyway"
    doc = read_ledger(ledger)
    assert "HTTP 403" in doc["integrations"]["broken"]["last_error"]
    assert doc["integrations"]["good"]["active"]
    # The operator fixes the token; reconcile retries what failed.
    sandbox.simulators["cloudflare"].tokens["sandbox-cf-token-ro"]["permissions"].append("Magic Transit Write")
    fixed = run_playbook("reconcile", sandbox, ledger, inventory=inv)
    assert fixed.returncode == 0, fixed.output
    assert advertised(sandbox, ALWAYS_ON_PREFIX)
    assert read_ledger(ledger)["integrations"]["broken"]["last_error"] is None


def test_reconcile_reapplies_drift(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}})
    ledger = tmp_path / "ledger.json"
    incident(sandbox, ledger, inv, "A", "started")
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][PREFIX]["advertised"] = False  # withdrawn in the panel
    proc = run_playbook("reconcile", sandbox, ledger, inventory=inv)
    assert proc.returncode == 0 and advertised(sandbox)
    assert read_ledger(ledger)["integrations"]["edge"]["snapshot"]["advertised"] is False


def test_targets_scope_activation_and_workspaces_are_separate(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {
        "edge": {"scrubbing_targets": ["203.0.113.0/24"]},
        "other": {"scrubbing_workspace": "staging", "options": {"prefix_id": ALWAYS_ON_PREFIX}}})
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][ALWAYS_ON_PREFIX]["advertised"] = False
    ledger = tmp_path / "ledger.json"
    assert incident(sandbox, ledger, inv, "X", "started", target="198.51.100.9").returncode == 0
    assert not advertised(sandbox) and not advertised(sandbox, ALWAYS_ON_PREFIX)
    assert incident(sandbox, ledger, inv, "Y", "started", target="203.0.113.9").returncode == 0
    assert advertised(sandbox) and not advertised(sandbox, ALWAYS_ON_PREFIX), "staging is another workspace"
    # X (not this integration's target) still active in the workspace: Y resolving keeps it on.
    assert incident(sandbox, ledger, inv, "Y", "resolved").returncode == 0
    assert advertised(sandbox)
    assert incident(sandbox, ledger, inv, "X", "resolved").returncode == 0
    assert not advertised(sandbox)


def test_unknown_resolved_is_a_warning_not_a_withdrawal(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}})
    ledger = tmp_path / "ledger.json"
    incident(sandbox, ledger, inv, "A", "started")
    proc = incident(sandbox, ledger, inv, "nope", "resolved")
    assert proc.returncode == 0 and "unknown in workspace default" in proc.output
    assert advertised(sandbox) and len(sandbox.requests(writes_only=True)) == 1


def test_manual_activation_is_pinned_and_force_withdraw(sandbox, tmp_path):
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {"edge": {}, "spare": {
        "options": {"prefix_id": ALWAYS_ON_PREFIX}, "scrubbing_auto": False}})
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][ALWAYS_ON_PREFIX]["advertised"] = False
    ledger = tmp_path / "ledger.json"
    assert run_playbook("activate", sandbox, ledger, limit="spare", inventory=inv).returncode == 0
    assert advertised(sandbox, ALWAYS_ON_PREFIX) and not advertised(sandbox)
    incident(sandbox, ledger, inv, "A", "started")
    incident(sandbox, ledger, inv, "A", "resolved")
    assert advertised(sandbox, ALWAYS_ON_PREFIX), "auto-withdraw leaves a pinned integration alone"
    assert not advertised(sandbox)
    incident(sandbox, ledger, inv, "B", "started")
    refused = run_playbook("withdraw", sandbox, ledger, limit="edge", inventory=inv)
    assert refused.returncode != 0 and "force=true" in refused.output and advertised(sandbox)
    forced = run_playbook("withdraw", sandbox, ledger, {"force": True}, limit="edge", inventory=inv)
    assert forced.returncode == 0 and not advertised(sandbox)
    assert run_playbook("withdraw", sandbox, ledger, limit="spare", inventory=inv).returncode == 0
    assert not advertised(sandbox, ALWAYS_ON_PREFIX)


def test_secrets_never_appear_at_any_verbosity(sandbox, tmp_path):
    secret = "sandbox-cf-SECRET-never-print-me"
    sandbox.simulators["cloudflare"].tokens[secret] = {"permissions": ["Magic Transit Read"]}
    inv = cf_inventory(tmp_path / "inv.json", sandbox, {
        "ok": {}, "readonly": {"options": {"api_token": secret, "prefix_id": ALWAYS_ON_PREFIX}},
        # its own prefix: two integrations on one prefix are refused before any call
        "rejected": {"options": {"api_token": secret + "-wrong", "prefix_id": "e" * 32}}})
    sandbox.simulators["cloudflare"].accounts[ACCOUNT][ALWAYS_ON_PREFIX]["advertised"] = False
    ledger = tmp_path / "ledger.json"
    for playbook in ("incident", "test", "status", "activate", "withdraw", "reconcile"):
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-vvvv", "ddos.scrubbing." + playbook, "-i", inv,
               "-e", "scrubbing_state_file=%s" % ledger,
               "-e", json.dumps({"incident": {"id": "S", "status": "started"}, "force": True})]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
        output = proc.stdout + proc.stderr
        assert secret not in output and "sandbox-cf-token-rw" not in output, playbook
        assert "HTTP 40" in output or playbook in ("status", "reconcile"), playbook  # failures reported
    assert secret not in ledger.read_text()


def test_remote_state_host_module_runs_the_same_operation(sandbox, tmp_path):
    """With a remote state host the action runs ddos.scrubbing.orchestrate as a module there;
    drive that module directly (as AnsiballZ would) and check it converges like the action."""
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.ddos.scrubbing.plugins.modules import orchestrate

    configs = {"edge": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
        "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
        "prefix_id": PREFIX, "wait_sleep": 0.01}}}
    args = {"operation": "incident", "incident": {"id": "R", "status": "started"}, "integration_configs": configs,
            "state_file": str(tmp_path / "ledger.json")}
    with patch_module_args(args), pytest.raises(SystemExit) as done:
        orchestrate.main()
    assert done.value.code == 0
    assert advertised(sandbox)
    assert read_ledger(tmp_path / "ledger.json")["integrations"]["edge"]["active"]
