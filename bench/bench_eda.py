"""Benchmark: detector event to provider write, through ansible-rulebook.

Medians of N runs (default 5), same run, everything on 127.0.0.1:
- webhook POST (signed Flowtriq attack_start) -> first provider write at the sandbox, and -> all
  writes done, for 1 and 8 integrations;
- baseline: the same POST for a workspace with no integration -> the ledger records it (the
  rulebook + playbook cost without any provider call);
Goal (issue 18), printed as ``GOAL ...: PASS|MISS`` (bench/_goals.py): POST -> first provider
write at most 0.1 s more than the baseline, for 1 and for 8 integrations.
Flood start -> first write with a real FastNetMon is printed by the end-to-end test
(tests/pytest/eda/test_fastnetmon_e2e.py, run it with -s), which needs root and namespaces.

    .venv/bin/python bench/bench_eda.py [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from _goals import Goals
from _processes import children

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
ACCOUNT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SECRET = "sandbox-flowtriq-secret"
GOAL_ONE = "POST -> first provider write, 1 integration, vs POST -> ledger written, no integration"
GOAL_EIGHT = "POST -> first provider write, 8 integrations, vs POST -> ledger written, no integration"


def signed_post(url, event_type, incident_id):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps({"event_type": event_type, "timestamp": stamp, "incident": {"id": incident_id},
                       "node": {"ip_address": "203.0.113.7"}}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-Flowtriq-Signature": sig})
    urllib.request.urlopen(req, timeout=10).read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-feed", action="store_true", help="the rulebook's feed off (docs/detectors.md)")
    args = parser.parse_args()
    goals = Goals("eda", [GOAL_ONE, GOAL_EIGHT])
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    collections = subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-collection.sh")], check=True,
                                 capture_output=True, text=True, env=env).stdout.strip()
    from ddos_sandbox.core import Sandbox
    from ddos_sandbox.net import free_port, wait_port
    from ddos_sandbox.providers.cloudflare import DEFAULT_SCENARIO
    from ddos_sandbox.registry import build

    sandbox = Sandbox(build(["cloudflare"])).start()
    api = sandbox.api_url("cloudflare")
    prefixes = [("%032x" % (0xE000 + i), "%032x" % (0xF000 + i)) for i in range(9)]
    scenario = dict(DEFAULT_SCENARIO, accounts={ACCOUNT: {"prefixes": [
        {"id": p, "cidr": "10.7.%d.0/24" % i, "advertised": False, "bgp_prefixes": [{"id": b, "cidr": "10.7.%d.0/24" % i}]}
        for i, (p, b) in enumerate(prefixes)]}})
    work = tempfile.mkdtemp(prefix="ddos-bench-eda-")
    hosts = {}
    for i, (pid, _b) in enumerate(prefixes):
        # workspace "one" drives one integration, "eight" the other eight
        hosts["mt-%d" % i] = {"scrubbing_provider": "cloudflare_magic_transit",
                              "scrubbing_workspace": "one" if i == 0 else "eight",
                              "scrubbing_options": {"api_url": api, "api_token": "sandbox-cf-token-rw",
                                                    "account_id": ACCOUNT, "prefix_id": pid, "wait_sleep": 0.05}}
    inventory = os.path.join(work, "inventory.json")
    ledger = os.path.join(work, "ledger.json")
    with open(inventory, "w") as handle:
        json.dump({"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}},
                           "vars": {"scrubbing_state_file": ledger}},
                   "scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}, handle)
    webhook, internal = free_port(), free_port()
    with open(os.path.join(work, "vars.json"), "w") as handle:
        json.dump({"flowtriq_secret": SECRET, "internal_token": "sandbox-internal-token",
                   "webhook_port": webhook, "internal_port": internal, "feed": not args.no_feed}, handle)
    rb_env = dict(env, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                  ANSIBLE_LOCALHOST_WARNING="false")
    rulebook = subprocess.Popen([os.path.join(VENV_BIN, "ansible-rulebook"), "-r", "ddos.scrubbing.incident_webhook",
                                 "-i", inventory, "--vars", os.path.join(work, "vars.json")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=rb_env)
    try:
        if not wait_port(webhook):
            raise SystemExit("ansible-rulebook did not start")
        url = "http://127.0.0.1:%d/flowtriq/" % webhook

        def ledger_events():
            try:
                with open(ledger) as handle:
                    return json.load(handle).get("updated_at")
            except (OSError, ValueError):
                return None

        def measure(workspace, expected_writes, tag):
            first, done = [], []
            for run in range(args.runs):
                sandbox.reset({"cloudflare": scenario})
                before = ledger_events()
                start = time.perf_counter()
                signed_post(url + workspace, "attack_start", "%s-%d" % (tag, run))
                t_first = t_done = None
                deadline = start + 60
                while time.perf_counter() < deadline:
                    writes = len(sandbox.requests(writes_only=True))
                    if expected_writes == 0:
                        if ledger_events() != before:
                            t_first = t_done = time.perf_counter() - start
                            break
                    else:
                        if writes and t_first is None:
                            t_first = time.perf_counter() - start
                        if writes >= expected_writes:
                            t_done = time.perf_counter() - start
                            break
                    time.sleep(0.005)
                first.append(t_first)
                done.append(t_done)
                signed_post(url + workspace, "attack_end", "%s-%d" % (tag, run))
                # Let the withdrawal finish before the next run, the next event come after batch_window (an idle
                # workspace's event goes at once), and the run end: the run that records the start takes the end
                # in too (the feed), and ends a second after it.
                time.sleep(2.5)
                settled = time.perf_counter() + 60
                while children(rulebook.pid) and time.perf_counter() < settled:
                    time.sleep(0.05)
            if None in first or None in done:
                raise SystemExit("%s: a run saw no %s within 60 s: the benchmark measured nothing" % (
                    tag, "ledger change" if expected_writes == 0 else "provider write"))
            return statistics.median(first), statistics.median(done)

        base = measure("empty", 0, "base")
        one = measure("one", 1, "one")
        eight = measure("eight", 8, "eight")
        print("ddos.scrubbing EDA benchmark (medians of %d runs; ansible-rulebook -> playbook -> sandbox)" % args.runs)
        print("%-60s %7.3f s" % ("baseline: POST -> ledger written, workspace with no integration", base[0]))
        print("%-60s %7.3f s" % ("POST -> first provider write, 1 integration", one[0]))
        print("%-60s %7.3f s" % ("POST -> all writes done, 1 integration", one[1]))
        print("%-60s %7.3f s" % ("POST -> first provider write, 8 integrations", eight[0]))
        print("%-60s %7.3f s" % ("POST -> all writes done, 8 integrations", eight[1]))
        goals.extra(GOAL_ONE, one[0], base[0], 0.1)
        goals.extra(GOAL_EIGHT, eight[0], base[0], 0.1)
        goals.finish()
    finally:
        rulebook.terminate()
        rulebook.wait(timeout=20)
        sandbox.stop()


if __name__ == "__main__":
    main()
