"""Storm: 200 incident events (start and resolve of 50 incidents over 3 workspaces, every
event delivered twice) as concurrent ansible-playbook processes against one ledger.

No update may be lost (every incident is in the ledger, resolved, with both deliveries
counted) and at the end the providers must be exactly what the ledger says (all withdrawn).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

from conftest import read_ledger, run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, DEFAULT_SCENARIO

WORKSPACES = ("red", "green", "blue")
INCIDENTS = 50
CONCURRENCY = int(os.environ.get("DDOS_STORM_CONCURRENCY", "12"))


def prefixes():
    return ["%032x" % (0xC000 + i) for i in range(len(WORKSPACES) * 2)]


def test_storm_of_concurrent_events(sandbox, tmp_path):
    ids = prefixes()
    scenario = dict(DEFAULT_SCENARIO, accounts={ACCOUNT: {"prefixes": [
        {"id": pid, "cidr": "10.9.%d.0/24" % i, "advertised": False,
         "bgp_prefixes": [{"id": "%032x" % (0xD000 + i), "cidr": "10.9.%d.0/24" % i}]} for i, pid in enumerate(ids)]}})
    sandbox.reset({"cloudflare": scenario})
    hosts = {}
    for i, pid in enumerate(ids):
        hosts["mt-%d" % i] = {"scrubbing_provider": "cloudflare_magic_transit",
                              "scrubbing_workspace": WORKSPACES[i % len(WORKSPACES)],
                              "scrubbing_options": {"api_url": sandbox.api_url("cloudflare"),
                                                    "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
                                                    "prefix_id": pid, "wait_sleep": 0.05}}
    inv = tmp_path / "inv.json"
    inv.write_text(json.dumps({"scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}))
    ledger = tmp_path / "ledger.json"

    def life(n):
        """One incident's events, in order; different incidents interleave freely."""
        ws = WORKSPACES[n % len(WORKSPACES)]
        outcomes = []
        for status in ("started", "started", "resolved", "resolved"):
            proc = run_playbook("incident", sandbox, ledger, {"incident": {"id": "I%02d" % n, "status": status,
                                                                           "workspace": ws}}, inventory=str(inv))
            outcomes.append((proc.returncode, proc.output[-2000:]))
        return outcomes

    with ThreadPoolExecutor(max_workers=CONCURRENCY // 4 or 1) as pool:
        results = [o for outcomes in pool.map(life, range(INCIDENTS)) for o in outcomes]
    assert len(results) == 200
    failures = [out for rc, out in results if rc != 0]
    assert not failures, failures[0]

    doc = read_ledger(ledger)
    for n in range(INCIDENTS):
        rec = doc["workspaces"][WORKSPACES[n % len(WORKSPACES)]]["incidents"]["I%02d" % n]
        assert rec["status"] == "resolved", ("I%02d" % n, rec)
        assert rec["events"] == 2, "both deliveries of the start must be counted (no lost update)"
    # A reconcile after the storm has nothing to do: providers == ledger.
    converge = run_playbook("reconcile", sandbox, ledger, inventory=str(inv))
    assert converge.returncode == 0, converge.output
    state = sandbox.state()["cloudflare"]["accounts"][ACCOUNT]
    for name, rec in doc["integrations"].items():
        assert rec["active"] is False and rec["pending"] is None and rec["claim"] is None, (name, rec)
    assert not any(p["advertised"] for p in state.values()), state
    writes = sandbox.requests(writes_only=True)
    assert all(w["status"] == 200 for w in writes)
