"""Benchmark: one incident, three layers. From ``ansible-playbook ddos.scrubbing.incident`` start to
- the Magic Transit prefix advertised on the sandbox (its write's time in the sandbox log),
- the blackhole route on BIRD (gobgpd -> BIRD, polled with birdc),
- the server's own nftables table present (polled with nft inside the server's namespace),
and, beside them, a one-task playbook on the same inventory (Ansible's floor). Medians of N runs.

The server is a network namespace this bench creates (10.214.2.1 on a veth), reached by Ansible
over a real sshd inside it. Nothing leaves the machine. Usage (as root, like the tests):
    .venv/bin/python bench/bench_three_layers.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
NS, SERVER, PEER = "ddos-bench-three", "10.214.2.1", "10.214.2.2"


def build():
    out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-collection.sh")], check=True,
                         capture_output=True, text=True,
                         env=dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])).stdout.strip()
    for path in (out, os.path.join(ROOT, "tests", "pytest"), os.path.join(ROOT, "tests", "pytest", "bgp"),
                 os.path.join(ROOT, "sandbox")):
        sys.path.insert(0, path)
    return out


def first_time(done, stop, period=0.01):
    """A thread that records when ``done()`` first holds (time.time()), until ``stop`` is set."""
    seen = {}

    def poll():
        while not stop.is_set() and "at" not in seen:
            if done():
                seen["at"] = time.time()
            time.sleep(period)
    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return seen, thread


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    collections = build()
    from bgp_lab import BgpLab
    from ddos_sandbox.core import Sandbox
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
    from ddos_sandbox.registry import build as sandbox_providers
    from providers.local_firewall.netns import make_server, remove_server, sh
    from sshd import SshServer

    make_server(NS, "bench3", SERVER, PEER)
    work = tempfile.mkdtemp(prefix="bench-three-")
    sandbox = Sandbox(sandbox_providers()).start()
    lab = BgpLab().start()
    ssh = SshServer(os.path.join(work, "sshd"), address=SERVER, netns=NS)
    os.makedirs(ssh.dir, exist_ok=True)
    ssh.start()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_HOST_KEY_CHECKING="false",
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    inventory = os.path.join(work, "inventory.json")
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump({
            "all": {"hosts": {"localhost": {"ansible_connection": "local",
                                            "ansible_python_interpreter": sys.executable}}},
            "scrubbing_servers": {"hosts": {"web-1": dict(ssh.inventory_vars(sys.executable), scrubbing_local_firewall={
                "drop": [{"protocol": "udp"}]})}},
            "scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
                "rtbh": {"scrubbing_provider": "bgp_blackhole", "scrubbing_options": {
                    "speaker_address": lab.speaker_address, "owned_prefixes": ["10.214.2.0/24"], "timeout": 10}},
                "mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
                    "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
                    "prefix_id": PREFIX, "wait_sleep": 0.05}}}}}, handle)
    noop = os.path.join(work, "noop.yml")
    with open(noop, "w", encoding="utf-8") as handle:
        handle.write("- hosts: all:localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n")
    figures = {"one-task playbook on the same inventory (ping on every host)": [],
               "playbook start -> Magic Transit advertised (sandbox write)": [],
               "playbook start -> blackhole route on BIRD": [],
               "playbook start -> table on the server (nft)": [],
               "incident playbook, whole run": []}
    ledger = os.path.join(work, "ledger.json")
    try:
        for n in range(args.runs):
            start = time.time()
            subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), noop, "-i", inventory], env=env, check=True,
                           capture_output=True)
            figures["one-task playbook on the same inventory (ping on every host)"].append(time.time() - start)
            stop = threading.Event()
            table, t1 = first_time(lambda: "ddos_scrubbing" in sh("nft", "list", "tables", ns=NS).stdout, stop)
            route, t2 = first_time(lambda: SERVER + "/32" in lab.routes("master4"), stop)
            since = len(sandbox.requests())
            start = time.time()
            proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i",
                                   inventory, "-e", "scrubbing_state_file=%s" % ledger, "-e", json.dumps(
                                       {"incident": {"id": "B%d" % n, "status": "started", "target": SERVER}})],
                                  env=env, capture_output=True, text=True, check=False)
            figures["incident playbook, whole run"].append(time.time() - start)
            time.sleep(0.5)
            stop.set()
            t1.join()
            t2.join()
            if proc.returncode != 0:
                sys.exit("the incident run failed:\n" + proc.stdout[-3000:])
            writes = [e for e in sandbox.requests()[since:] if e.get("write")]
            if not writes or "at" not in table or "at" not in route:
                sys.exit("a layer did not show up: writes=%d table=%s route=%s" % (len(writes), table, route))
            figures["playbook start -> Magic Transit advertised (sandbox write)"].append(writes[0]["time"] - start)
            figures["playbook start -> blackhole route on BIRD"].append(route["at"] - start)
            figures["playbook start -> table on the server (nft)"].append(table["at"] - start)
            subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i", inventory,
                            "-e", "scrubbing_state_file=%s" % ledger, "-e", json.dumps(
                                {"incident": {"id": "B%d" % n, "status": "resolved", "target": SERVER}})],
                           env=env, capture_output=True, check=True)
    finally:
        ssh.stop()
        lab.stop()
        sandbox.stop()
        remove_server(NS, "bench3")
    print("One incident, three layers: medians of %d runs" % args.runs)
    for name, values in figures.items():
        print("  %-66s %6.2f s" % (name, statistics.median(values)))


if __name__ == "__main__":
    main()
