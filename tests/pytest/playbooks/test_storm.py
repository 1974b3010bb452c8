"""Storm: 200 incident events (start and resolve of 50 incidents over 3 workspaces, every
event delivered twice at the same moment) run as up to 12 concurrent processes of the public
operation against one ledger, starts and resolves interleaved within and across workspaces.

Checked over time from the sandbox's request log, not from the ledger's counters: while an
incident of a workspace is open (from the end of its start run to the beginning of its
resolve run) every prefix of that workspace is advertised and no withdrawal reaches it, every
expected activation write happened, and at the end everything is withdrawn. The same storm
with the ledger lock removed (a copy of the product broken on purpose, in the worker
processes only) must be caught by the same check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import COLLECTIONS, read_ledger
from ddos_sandbox.providers.cloudflare import ACCOUNT, DEFAULT_SCENARIO

WORKSPACES = ("red", "green", "blue")
INCIDENTS = 50
CONCURRENCY = 12
OVERLAP = 3  # incident n resolves only after incident n + OVERLAP (same workspace) has started
REPLAY_REFUSED = "a replayed event. Nothing was recorded or called"
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "storm_worker.py")


def prefix_ids():
    return ["%032x" % (0xC000 + i) for i in range(len(WORKSPACES) * 2)]


def workspace_of(index):
    return WORKSPACES[index % len(WORKSPACES)]


def storm(sandbox, tmp_path, break_lock=False):
    """Run the storm; return (runs, configs, ledger path): runs = [(incident, status, start, end, rc, output)]."""
    ids = prefix_ids()
    scenario = dict(DEFAULT_SCENARIO, accounts={ACCOUNT: {"prefixes": [
        {"id": pid, "cidr": "10.9.%d.0/24" % i, "advertised": False,
         "bgp_prefixes": [{"id": "%032x" % (0xD000 + i), "cidr": "10.9.%d.0/24" % i}]} for i, pid in enumerate(ids)]}})
    sandbox.reset({"cloudflare": scenario})
    configs = {"mt-%d" % i: {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_workspace": workspace_of(i),
                             "scrubbing_options": {"api_url": sandbox.api_url("cloudflare"),
                                                   "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
                                                   "prefix_id": pid, "wait_sleep": 0.02}}
               for i, pid in enumerate(ids)}
    events = []
    for n in range(INCIDENTS + OVERLAP):
        if n < INCIDENTS:  # two deliveries of the same start, in parallel
            events += [event(n, "started", [])] * 2
        if n >= OVERLAP:  # resolve n - OVERLAP once both its starts have finished
            done = n - OVERLAP
            firsts = [i for i, e in enumerate(events) if e["incident"]["id"] == "I%02d" % done]
            events += [event(done, "resolved", firsts)] * 2
    plan = tmp_path / "plan.json"
    common = {"operation": "incident", "integration_configs": configs, "state_file": str(tmp_path / "ledger.json")}
    if break_lock:
        # Without the lock, claims are lost and runs wait for holders that never finish: up to
        # scrubbing_deadline each (120 s by default, two minutes of the suite), then fail pending.
        common["deadline"] = 10
    plan.write_text(json.dumps({"concurrency": CONCURRENCY, "events": events, "common": common}))
    cmd = [sys.executable, WORKER, str(plan)] + (["--break-lock"] if break_lock else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=COLLECTIONS),
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = []
    for line in proc.stdout.splitlines():
        done = json.loads(line)
        incident = events[done["event"]]["incident"]
        runs.append((int(incident["id"][1:]), incident["status"], done["start"], done["end"], done["rc"],
                     done["output"]))
    return runs, configs, tmp_path / "ledger.json"


def event(n, status, after):
    # Both copies of a delivery carry the same delivery id, as a detector's retry would.
    return {"after": after, "incident": {"id": "I%02d" % n, "status": status, "workspace": workspace_of(n),
                                         "delivery": "I%02d-%s" % (n, status)}}


def advertised_over_time(sandbox, prefix):
    """[(time, advertised)] of every successful write to ``prefix``, from the request log."""
    path = "/accounts/%s/addressing/prefixes/%s/bgp/prefixes/" % (ACCOUNT, prefix)
    return [(e["time"], e["body"]["on_demand"]["advertised"]) for e in sandbox.requests(provider="cloudflare")
            if e["write"] and e["path"].startswith(path) and e["status"] == 200]


def violations(sandbox, runs, configs, ledger):
    """Everything the request log shows going wrong; empty when the storm was handled."""
    found = []
    for n, status, _s, _e, rc, output in runs:
        # The second copy of a delivery may be refused as a replay (and then calls nothing).
        if rc != 0 and REPLAY_REFUSED not in output:
            found.append("run %s I%02d exited %s: %s" % (status, n, rc, output))
    for n in range(INCIDENTS):
        for status in ("started", "resolved"):
            if not any(rc == 0 for i, s, _b, _e, rc, _o in runs if i == n and s == status):
                found.append("no delivery of I%02d %s was accepted" % (n, status))
    for name, config in configs.items():
        prefix = config["scrubbing_options"]["prefix_id"]
        writes = advertised_over_time(sandbox, prefix)
        ws = config["scrubbing_workspace"]
        if not any(on for _t, on in writes):
            found.append("%s: no activation write at all" % name)
        for n in (i for i in range(INCIDENTS) if workspace_of(i) == ws):
            opened = max(e for i, s, _b, e, _rc, _o in runs if i == n and s == "started")
            closing = min(b for i, s, b, _e, _rc, _o in runs if i == n and s == "resolved")
            state_at_open = [on for t, on in writes if t <= opened]
            if not state_at_open or not state_at_open[-1]:
                found.append("%s: not advertised when I%02d was open (activation lost)" % (name, n))
            withdrawn = [t for t, on in writes if opened < t < closing and not on]
            if withdrawn:
                found.append("%s: withdrawn at %.3f while I%02d was open (%.3f-%.3f)" % (
                    name, withdrawn[0], n, opened, closing))
        if writes and writes[-1][1]:
            found.append("%s: still advertised after every incident resolved" % name)
    state = sandbox.state()["cloudflare"]["accounts"][ACCOUNT]
    found += ["%s advertised at the end" % p for p, rec in state.items() if rec["advertised"]]
    doc = read_ledger(ledger)
    for n in range(INCIDENTS):
        rec = doc["workspaces"].get(workspace_of(n), {}).get("incidents", {}).get("I%02d" % n)
        if not rec or rec.get("status") != "resolved":
            found.append("ledger: I%02d is %s (lost update)" % (n, rec and rec.get("status")))
    return found


def test_storm_of_concurrent_events(sandbox, tmp_path):
    runs, configs, ledger = storm(sandbox, tmp_path)
    assert len(runs) == 4 * INCIDENTS == 200
    found = violations(sandbox, runs, configs, ledger)
    assert not found, "\n".join(found[:20])
    assert sandbox.spec_violations() == []


def test_storm_check_catches_a_ledger_without_its_lock(sandbox, tmp_path):
    """The same storm against a copy of the product whose ledger lock was removed: the check
    above must see the lost updates (a withdrawal while an incident is open, a lost activation,
    or a run refused) -- otherwise it could not see them in the real product either."""
    runs, configs, ledger = storm(sandbox, tmp_path, break_lock=True)
    found = violations(sandbox, runs, configs, ledger)
    print("\n".join(found))  # shown with -s: what the broken lock did
    assert found, "the storm check did not notice the missing lock"
