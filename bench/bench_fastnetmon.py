# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: time to mitigate with a real FastNetMon, stage by stage (needs root).

Runs tests/pytest/eda/test_fastnetmon_e2e.py N times (FastNetMon 1.2.4 on a namespace veth,
the notify adapter, ansible-rulebook, the incident playbook, the sandbox and gobgpd + BIRD) and
prints, for the attack and for its end, the median of every stage of the test's timeline (from
the flood's first packet, and from the flood's end) and of the time since the stage before.
Beside the playbook stages, the floor Ansible sets: a one-task playbook run on this machine, now.

    .venv/bin/python bench/bench_fastnetmon.py [--runs 5] [--fastnetmon average_calculation_time=5 ...]

It prints only what it measured: the stages are read by name from the test's TIMELINE-JSON line,
and a run without that line, or without a stage, stops the benchmark with what was missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
TEST = "eda/test_fastnetmon_e2e.py"
HEADLINES = (("onset", "first provider write sent", "flood start -> first provider write"),
             ("onset", "blackhole route on BIRD", "flood start -> blackhole route on BIRD"),
             ("resolution", "first provider write sent", "flood stop  -> withdrawal write"),
             ("resolution", "blackhole route gone from BIRD", "flood stop  -> blackhole route gone"))


def one_run(env, expected):
    """One run of the end-to-end test: its timeline (TIMELINE-JSON), or SystemExit saying why not.
    ``expected``: {leg: stages} every run must have (the headlines', then the first run's)."""
    proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", TEST], check=False,
                          cwd=os.path.join(ROOT, "tests", "pytest"), env=env, capture_output=True, text=True,
                          timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("TIMELINE-JSON ")]
    if proc.returncode != 0 or len(lines) != 1:
        raise SystemExit("the end-to-end test did not print one timeline (exit %d):\n%s" % (
            proc.returncode, (proc.stdout + proc.stderr)[-4000:]))
    timeline = json.loads(lines[0][len("TIMELINE-JSON "):])
    for leg, stages in expected.items():
        missing = [stage for stage in stages if stage not in timeline.get(leg, {})]
        if missing:
            raise SystemExit("the timeline's %s lacks %s:\n%s" % (leg, ", ".join(missing), lines[0]))
    return timeline


def one_task_playbook(runs, env):
    """Seconds from exec to exit of ansible-playbook running one debug task on localhost."""
    work = tempfile.mkdtemp(prefix="ddos-bench-floor-")
    playbook = os.path.join(work, "one.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: {msg: one}\n")
    times = []
    for _run in range(runs):
        start = time.time()
        subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                        playbook], env=env, check=True, capture_output=True)
        times.append(time.time() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fastnetmon", action="append", default=[], metavar="KEY=VALUE",
                        help="a FastNetMon setting instead of the test's (e.g. average_calculation_time=5)")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.fastnetmon)
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces and FastNetMon's capture)")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "ensure-debian.sh")], check=True)
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-collection.sh")], check=True,
                   stdout=subprocess.DEVNULL)  # the test runs the built collection
    env = dict(os.environ, DDOS_SKIP_BUILD="1", DDOS_BENCH_FASTNETMON=json.dumps(settings))
    runs = []
    expected = {"onset": [], "resolution": []}
    for leg, stage, _label in HEADLINES:
        expected[leg].append(stage)
    for number in range(args.runs):
        runs.append(one_run(env, expected))
        expected = {leg: list(runs[0][leg]) for leg in expected}  # in the test's order
        figures = ["%s %.2f s" % (label, runs[-1][leg][stage]) for leg, stage, label in HEADLINES]
        print("run %d: %s" % (number + 1, "; ".join(figures)), flush=True)
    floor = one_task_playbook(args.runs, dict(os.environ, ANSIBLE_NOCOLOR="1"))
    print("\nFastNetMon end to end, medians of %d runs (detection: %s)" % (
        len(runs), ", ".join("%s=%s" % item for item in sorted(runs[0]["detection"].items()))))
    for leg, title in (("onset", "attack (from the flood's first packet)"),
                       ("resolution", "end of attack (from the flood's end)")):
        stages = expected[leg]
        print("  %s%s" % (title, " " * (36 - len(title))) + "     at   since the stage before")
        for number, stage in enumerate(stages):
            at = statistics.median(run[leg][stage] for run in runs)
            since = statistics.median(run[leg][stage] - run[leg][stages[number - 1]] for run in runs) if number else 0
            print("    %-36s %7.3f s  %+7.3f s" % (stage, at, since))
    for leg, stage, label in HEADLINES:
        print("  %-38s %7.3f s" % (label, statistics.median(run[leg][stage] for run in runs)))
    loaded = statistics.median(run["onset"]["orchestrate started"] - run["onset"]["ansible-playbook started"]
                               for run in runs)
    print("  %-38s %7.3f s  (exec to exit)" % ("Ansible's floor: a one-task playbook", floor))
    print("  %-38s %7.3f s  (ansible-playbook started -> orchestrate started)" % (
        "the incident playbook up to its engine", loaded))


if __name__ == "__main__":
    main()
