"""Benchmark: one slow provider must not delay the others; the PostgreSQL ledger's cost.

Prints medians of N runs (default 3), every figure beside its baseline measured in the same run:
- time from ``ansible-playbook ddos.scrubbing.incident`` start until every healthy provider of
  the demo inventory (8 mechanisms) has received its first write: with no fault (baseline),
  with every Hetzner Robot request parked by the sandbox (a hung API), and with Vultr answering
  429 + ``Retry-After: 3600`` (goal: the healthy providers' writes start within 1 s of the baseline);
- the whole ``incident`` run on the file ledger and on a real PostgreSQL ledger (ratio).

Everything talks to an in-process sandbox and a throwaway PostgreSQL on this machine. Usage:
    .venv/bin/python bench/bench_ledger.py [--runs 3] [--deadline 20]
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
HEALTHY = ("cloudflare", "ovh", "digitalocean", "vultr", "linode", "hetzner", "aws_shield")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deadline", type=int, default=20)
    args = parser.parse_args()
    path = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    collections = subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-collection.sh")], check=True,
                                 capture_output=True, text=True, env=path).stdout.strip()
    sys.path[:0] = [collections, os.path.join(ROOT, "tests", "pytest")]
    from ddos_sandbox.core import Sandbox
    from ddos_sandbox.registry import build
    from services import PostgresServer

    sandbox = Sandbox(build()).start()
    pg = PostgresServer().start()
    work = tempfile.mkdtemp(prefix="ddos-bench-ledger-")
    environment = dict(path, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                       ANSIBLE_LOCALHOST_WARNING="false", DDOS_SANDBOX_URL=sandbox.url)
    counter = [0]

    def run(extra, fault=None):
        """One incident run; returns (wall seconds, seconds until every healthy provider had a write)."""
        counter[0] += 1
        sandbox.reset()
        if fault:
            sandbox.add_fault(**fault)
        ledger = os.path.join(work, "ledger-%d.json" % counter[0])
        body = dict(extra, incident={"id": "bench-%d" % counter[0], "status": "started"})
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i",
               os.path.join(ROOT, "demo", "inventory"), "-e", json.dumps(body), "-e", "scrubbing_state_file=" + ledger]
        start = time.time()
        subprocess.run(cmd, capture_output=True, text=True, env=environment, check=False)
        wall = time.time() - start
        first = {}
        for entry in sandbox.requests(writes_only=True):
            first.setdefault(entry["provider"], entry["time"])
        if fault:
            sandbox.release(fault.get("name", "hold"), drop=True)
        skip = fault["provider"] if fault else None
        wanted = [p for p in HEALTHY if p != skip]
        missing = [p for p in wanted if p not in first]
        if missing:
            raise SystemExit("no write reached %s in run %d" % (", ".join(missing), counter[0]))
        return wall, max(first[p] for p in wanted) - start

    deadline = {"scrubbing_deadline": args.deadline}
    hung = {"provider": "hetzner", "hold": True, "count": -1, "name": "bench-hung"}
    limited = {"provider": "vultr", "status": 429, "headers": {"Retry-After": "3600"}, "count": -1}
    base, held, rate, file_runs, pg_runs = [], [], [], [], []
    for _run in range(args.runs):  # interleaved, so machine load weighs on every case alike
        base.append(run(deadline))
        held.append(run(deadline, hung))
        rate.append(run(deadline, limited))
        file_runs.append(run({}))
        pg_runs.append(run({"scrubbing_ledger_dsn": pg.dsn}))
    median = statistics.median

    print("ddos.scrubbing ledger and isolation benchmark (medians of %d runs, 8 mechanisms, 127.0.0.1)" % args.runs)
    b = median(r[1] for r in base)
    print("%-66s %7.3f s" % ("all healthy providers written, no fault (baseline)", b))
    h = median(r[1] for r in held)
    print("%-66s %7.3f s  (+%.3f s; goal <= +1 s)" % ("... with every Hetzner Robot request hung", h, h - b))
    r = median(x[1] for x in rate)
    print("%-66s %7.3f s  (+%.3f s; goal <= +1 s)" % ("... with Vultr answering 429, Retry-After 3600", r, r - b))
    print("%-66s %7.3f s  (run ends at scrubbing_deadline=%d)" % ("whole run with Robot hung", median(
        x[0] for x in held), args.deadline))
    print("%-66s %7.3f s" % ("whole run with Vultr rate-limited", median(x[0] for x in rate)))
    f, p = median(x[0] for x in file_runs), median(x[0] for x in pg_runs)
    print("%-66s %7.3f s" % ("incident started, 8 integrations, file ledger", f))
    print("%-66s %7.3f s  (%.2fx the file ledger)" % ("incident started, 8 integrations, PostgreSQL ledger", p, p / f))
    sandbox.stop()
    pg.stop()


if __name__ == "__main__":
    main()
