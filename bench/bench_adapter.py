"""Benchmark: how long the FastNetMon notify adapter keeps FastNetMon waiting.

Medians of N runs (default 5), same run, on 127.0.0.1:
- baseline: ``python3 -c pass`` (the interpreter's start, which the adapter cannot beat);
- unban with stdin left open and empty (FastNetMon may do that), nothing listening: the adapter
  must not wait for EOF (0.5 s grace, then its delivery budget);
- ban when nothing listens, timeout 1 s and budget 1.5 s: it gives up within its budget.

    .venv/bin/python bench/bench_adapter.py [--runs 5]

Timed checks (bench, not tests): each case under 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAPTER = os.path.join(ROOT, "extensions", "fastnetmon", "ddos_scrubbing_notify.py")
REPORT = ("IP: 10.213.0.1\nAttack type: udp_flood\nInitial attack power: 29754 packets per second\n" * 2000).encode()


def timed(cmd, env, stdin_data=None, keep_stdin_open=False):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, env=env)
    if keep_stdin_open:
        proc.wait(timeout=30)
        proc.stdin.close()
    else:
        proc.communicate(stdin_data or b"", timeout=30)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ddos-bench-adapter-")
    env = dict(os.environ, DDOS_SCRUBBING_WEBHOOK_URL="http://127.0.0.1:9", DDOS_SCRUBBING_TOKEN="t",
               DDOS_SCRUBBING_STATE_DIR=os.path.join(work, "state"), DDOS_SCRUBBING_LOG_FILE=os.path.join(work, "log"),
               DDOS_SCRUBBING_NOTIFY_CONFIG=os.path.join(work, "none.ini"), DDOS_SCRUBBING_TIMEOUT="1",
               DDOS_SCRUBBING_BUDGET="1.5")
    cases = {
        "baseline: python3 -c pass": lambda: timed([sys.executable, "-c", "pass"], env),
        "unban, stdin open and empty (nothing listens)": lambda: timed(
            [sys.executable, ADAPTER, "10.213.0.1", "incoming", "0", "unban"], env, keep_stdin_open=True),
        "ban, nothing listens (timeout 1 s, budget 1.5 s)": lambda: timed(
            [sys.executable, ADAPTER, "10.213.0.1", "incoming", "29754", "ban"], env, REPORT),
    }
    print("ddos.scrubbing FastNetMon adapter benchmark (medians of %d runs)" % args.runs)
    slow = []
    for name, case in cases.items():
        seconds = statistics.median(case() for _run in range(args.runs))
        print("%-52s %7.3f s" % (name, seconds))
        if seconds >= 5:
            slow.append(name)
    if slow:
        raise SystemExit("the adapter kept FastNetMon waiting 5 s or more: %s" % ", ".join(slow))


if __name__ == "__main__":
    main()
