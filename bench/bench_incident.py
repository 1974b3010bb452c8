"""Benchmark: what an incident costs, against baselines measured in the same run.

Prints medians of N runs (default 5) of:
- ``ddos.scrubbing.incident`` (started) with 1 and 8 Magic Transit integrations, beside a
  playbook with one no-op task run the same way (the goal: 8 integrations <= 1.5x that);
- the same HTTP calls made by a plain Python script (requests), for the provider-side cost;
- 200 integrations with 50 ms of sandbox latency per call (the goal: <= 5 s wall);
- the API calls of an activation and of a no-op (already active) run.

Everything talks to an in-process sandbox on 127.0.0.1. Usage:
    .venv/bin/python bench/bench_incident.py [--runs 5] [--skip-200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
ACCOUNT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TOKEN = "sandbox-cf-token-rw"


def prefix_ids(i):
    return "%032x" % (0xA000 + i), "%032x" % (0xB000 + i)


def scenario(count):
    from ddos_sandbox.providers.cloudflare import DEFAULT_SCENARIO

    prefixes = []
    for i in range(count):
        pid, bid = prefix_ids(i)
        cidr = "10.%d.%d.0/24" % (i // 256, i % 256)
        prefixes.append({"id": pid, "cidr": cidr, "advertised": False, "bgp_prefixes": [{"id": bid, "cidr": cidr}]})
    return dict(DEFAULT_SCENARIO, accounts={ACCOUNT: {"prefixes": prefixes}})


def inventory(path, api_url, count):
    hosts = {}
    for i in range(count):
        pid, _bid = prefix_ids(i)
        hosts["mt-%03d" % i] = {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_url": api_url, "api_token": TOKEN, "account_id": ACCOUNT, "prefix_id": pid, "wait_sleep": 0.05}}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}, handle)


def env(collections):
    e = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
             ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
             PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    return e


def timed(cmd, environment):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=environment, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("command failed: %s\n%s\n%s" % (" ".join(cmd), proc.stdout[-3000:], proc.stderr[-2000:]))
    return elapsed


def plain_python_activation(api_url, count):
    """The same HTTP calls an activation makes (read, write, re-read per prefix), in one script."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + TOKEN
    start = time.perf_counter()
    for i in range(count):
        pid, bid = prefix_ids(i)
        base = "%s/accounts/%s/addressing/prefixes/%s/bgp/prefixes" % (api_url, ACCOUNT, pid)
        session.get(base).raise_for_status()
        session.patch("%s/%s" % (base, bid), json={"on_demand": {"advertised": True}}).raise_for_status()
        session.get(base).raise_for_status()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-200", action="store_true")
    args = parser.parse_args()

    collections = subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-collection.sh")], check=True,
                                 capture_output=True, text=True,
                                 env=dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])).stdout.strip()
    sys.path.insert(0, collections)
    from ddos_sandbox.core import Sandbox
    from ddos_sandbox.registry import build

    sandbox = Sandbox(build(["cloudflare"])).start()
    api_url = sandbox.api_url("cloudflare")
    environment = env(collections)
    work = tempfile.mkdtemp(prefix="ddos-bench-")
    noop = os.path.join(work, "noop.yml")
    with open(noop, "w", encoding="utf-8") as handle:
        handle.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                     "    - ansible.builtin.debug:\n        msg: noop\n")
    playbook = os.path.join(VENV_BIN, "ansible-playbook")
    started = json.dumps({"incident": {"id": "bench", "status": "started"}})

    def one_incident(count, latency, tag):
        """One activation run and one no-op run; returns (seconds, activation calls, no-op calls)."""
        inv = os.path.join(work, "inv-%d.json" % count)
        if not os.path.exists(inv):
            inventory(inv, api_url, count)
        sandbox.reset({"cloudflare": scenario(count)})
        sandbox.latency = latency
        ledger = os.path.join(work, "ledger-%d-%s.json" % (count, tag))
        cmd = [playbook, "ddos.scrubbing.incident", "-i", inv, "-e", started, "-e", "scrubbing_state_file=" + ledger]
        seconds = timed(cmd, environment)
        activation = sandbox.requests()
        sandbox.log.clear()
        timed(cmd, environment)
        return seconds, activation, sandbox.requests()

    # Interleaved, so that whatever else the machine does weighs on baseline and incident alike.
    noop_times, one_times, eight_times, plain = [], [], [], []
    for r in range(args.runs):
        noop_times.append(timed([playbook, "-i", "localhost,", noop], environment))
        seconds, act1, noop1 = one_incident(1, 0.0, r)
        one_times.append(seconds)
        seconds, act8, noop8 = one_incident(8, 0.0, r)
        eight_times.append(seconds)
        sandbox.reset({"cloudflare": scenario(8)})
        plain.append(plain_python_activation(api_url, 8))
    noop_median = statistics.median(noop_times)
    one, eight, plain_median = statistics.median(one_times), statistics.median(eight_times), statistics.median(plain)

    def count(entries):
        writes = sum(1 for e in entries if e["write"])
        return "%d reads, %d writes" % (len(entries) - writes, writes)

    print("ddos.scrubbing incident benchmark (medians of %d runs, sandbox on 127.0.0.1)" % args.runs)
    print("%-62s %8.3f s" % ("playbook with one no-op task (baseline)", noop_median))
    print("%-62s %8.3f s  (%.2fx baseline)" % ("incident started, 1 integration", one, one / noop_median))
    print("%-62s %8.3f s  (%.2fx baseline; goal <= 1.50x)"
          % ("incident started, 8 integrations", eight, eight / noop_median))
    print("%-62s %8.3f s" % ("plain Python script, same HTTP calls for 8 prefixes", plain_median))
    print("%-62s %s" % ("API calls, activation of 1 integration", count(act1)))
    print("%-62s %s" % ("API calls, no-op run (already active), 1 integration", count(noop1)))
    print("%-62s %s" % ("API calls, activation of 8 integrations", count(act8)))
    print("%-62s %s" % ("API calls, no-op run, 8 integrations", count(noop8)))
    if not args.skip_200:
        big_runs = [one_incident(200, 0.05, "big%d" % r) for r in range(max(1, min(args.runs, 3)))]
        big = statistics.median(run[0] for run in big_runs)
        act200 = big_runs[-1][1]
        serial = 200 * 3 * 0.05
        print("%-62s %8.3f s  (goal <= 5 s; serial calls would take %.0f s)" % (
            "incident started, 200 integrations, 50 ms per call", big, serial))
        print("%-62s %s" % ("API calls, activation of 200 integrations", count(act200)))
    sandbox.stop()


if __name__ == "__main__":
    main()
