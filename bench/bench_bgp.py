"""Benchmark: attack -> blackhole route visible on the border router, beside a Magic Transit write.

Starts a real gobgpd + BIRD 2 pair on loopback (tests/pytest/bgp/bgp_lab.py) and the provider
sandbox, then prints medians of N runs (default 5) of:
- ``ansible localhost -m ddos.scrubbing.bgp_blackhole`` (one new target) until BIRD shows the route
  (polled with birdc every 10 ms), and the withdrawal until BIRD no longer has it;
- the same activation in-process (the provider's own cost, without Ansible's start-up);
- ``ansible localhost -m ddos.scrubbing.cloudflare_magic_transit`` advertising a prefix on the
  sandbox (the module returns once the sandbox reports the advertisement), measured the same way;
- ``ansible localhost -m ansible.builtin.ping``, the start-up cost every module run pays;
- ``ansible-playbook ddos.scrubbing.incident`` (started, a new target each run) until BIRD shows the
  route, beside the same playbook with one Magic Transit integration until the sandbox reports the
  prefix advertised (each incident is resolved afterwards, not timed).

Everything stays on 127.0.0.0/8. Usage (as root, like the tests):
    .venv/bin/python bench/bench_bgp.py [--runs 5]
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
OWNED = ["203.0.113.0/24"]


def build():
    out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-collection.sh")], check=True,
                         capture_output=True, text=True,
                         env=dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])).stdout.strip()
    sys.path.insert(0, out)
    sys.path.insert(0, os.path.join(ROOT, "tests", "pytest", "bgp"))
    return out


def ansible(collections, module, args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    cmd = [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", module, "-o"]
    if args is not None:
        cmd += ["-a", json.dumps(args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def playbook(collections, inventory, ledger, incident):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i", inventory,
           "-e", "scrubbing_state_file=%s" % ledger, "-e", json.dumps({"incident": incident})]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def write_inventory(path, name, integration):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}},
                   "scrubbing_integrations": {"vars": {"ansible_connection": "local"},
                                              "hosts": {name: integration}}}, handle)
    return path


def finish(proc):
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise SystemExit("module run failed:\n%s\n%s" % (out[-3000:], err[-2000:]))


def until(done, timeout=60):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    collections = build()

    from bgp_lab import BgpLab
    from ddos_sandbox.core import Sandbox
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
    from ddos_sandbox.registry import build as build_sandbox
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import execute, plan_change
    from ansible_collections.ddos.scrubbing.plugins.module_utils._module import argument_spec
    from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_blackhole import BgpBlackhole

    lab = BgpLab().start()
    sandbox = Sandbox(build_sandbox(["cloudflare"])).start()
    figures = {"module: announce -> route on BIRD": [], "module: withdraw -> route gone from BIRD": [],
               "in-process: announce -> route on BIRD": [], "Magic Transit module write (sandbox)": [],
               "ansible.builtin.ping (start-up baseline)": [],
               "incident playbook: started -> route on BIRD": [],
               "incident playbook: started -> Magic Transit advertised": []}
    work = tempfile.mkdtemp(prefix="ddos-bench-bgp-")
    rtbh_inventory = write_inventory(os.path.join(work, "rtbh.json"), "rtbh", {
        "scrubbing_provider": "bgp_blackhole",
        "scrubbing_options": {"speaker_address": lab.speaker_address, "owned_prefixes": OWNED}})
    mt_inventory = write_inventory(os.path.join(work, "mt.json"), "edge", {
        "scrubbing_provider": "cloudflare_magic_transit",
        "scrubbing_options": {"api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw",
                              "account_id": ACCOUNT, "prefix_id": PREFIX, "wait_sleep": 0.05}})

    def advertised():
        return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"]
    try:
        for run in range(runs):
            target = "203.0.113.%d" % (10 + run)
            prefix = target + "/32"
            args = dict(speaker_address=lab.speaker_address, owned_prefixes=OWNED, targets=[target])

            start = time.perf_counter()
            proc = ansible(collections, "ddos.scrubbing.bgp_blackhole", args)
            until(lambda: prefix in lab.routes("master4"))
            figures["module: announce -> route on BIRD"].append(time.perf_counter() - start)
            finish(proc)

            start = time.perf_counter()
            proc = ansible(collections, "ddos.scrubbing.bgp_blackhole", dict(args, state="inactive"))
            until(lambda: prefix not in lab.routes("master4"))
            figures["module: withdraw -> route gone from BIRD"].append(time.perf_counter() - start)
            finish(proc)

            params = ArgumentSpecValidator(argument_spec(BgpBlackhole)).validate(args).validated_parameters
            start = time.perf_counter()
            plan = plan_change(BgpBlackhole(params), "active")
            execute(plan, wait=False)
            until(lambda: prefix in lab.routes("master4"))
            figures["in-process: announce -> route on BIRD"].append(time.perf_counter() - start)
            execute(plan_change(BgpBlackhole(params), "inactive"), wait=False)
            until(lambda: prefix not in lab.routes("master4"))

            sandbox.reset()
            mt = dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", account_id=ACCOUNT,
                      prefix_id=PREFIX, wait_sleep=0.05)
            start = time.perf_counter()
            finish(ansible(collections, "ddos.scrubbing.cloudflare_magic_transit", mt))
            figures["Magic Transit module write (sandbox)"].append(time.perf_counter() - start)
            finish(ansible(collections, "ddos.scrubbing.cloudflare_magic_transit", dict(mt, state="inactive")))

            start = time.perf_counter()
            finish(ansible(collections, "ansible.builtin.ping", None))
            figures["ansible.builtin.ping (start-up baseline)"].append(time.perf_counter() - start)

            target = "203.0.113.%d" % (100 + run)
            ledger = os.path.join(work, "ledger-rtbh-%d.json" % run)
            start = time.perf_counter()
            proc = playbook(collections, rtbh_inventory, ledger, {"id": "bench-%d" % run, "status": "started",
                                                                  "target": target})
            until(lambda: target + "/32" in lab.routes("master4"))
            figures["incident playbook: started -> route on BIRD"].append(time.perf_counter() - start)
            finish(proc)
            finish(playbook(collections, rtbh_inventory, ledger, {"id": "bench-%d" % run, "status": "resolved",
                                                                  "target": target}))

            sandbox.reset()
            ledger = os.path.join(work, "ledger-mt-%d.json" % run)
            start = time.perf_counter()
            proc = playbook(collections, mt_inventory, ledger, {"id": "bench-%d" % run, "status": "started",
                                                                "target": target})
            until(advertised)
            figures["incident playbook: started -> Magic Transit advertised"].append(time.perf_counter() - start)
            finish(proc)
    finally:
        sandbox.stop()
        lab.stop()

    print("median of %d runs (seconds)" % runs)
    for name, values in figures.items():
        print("  %-45s %7.3f   (min %.3f, max %.3f)" % (name, statistics.median(values), min(values), max(values)))


if __name__ == "__main__":
    main()
