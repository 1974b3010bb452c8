"""Three layers on one incident, through the incident playbook as users run it:

- the attacked server's own nftables table, written over Ansible's own SSH connection to the
  server (a real sshd inside a network namespace this test creates, holding the attacked address);
- a BGP blackhole route announced by gobgpd and seen on BIRD (the border router);
- Cloudflare Magic Transit on the provider sandbox.

A UDP flood to the attacked address stops arriving while SSH (Ansible's own connection) keeps
working; after the incident resolves, the server's ruleset is byte-identical to before, the route
is gone and the prefix is withdrawn. A server that cannot be reached fails only its own line.
Only addresses of 10.214.1.0/24 on this test's veth are used; nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from bgp.bgp_lab import bgp_lab, lab  # noqa: F401  # pylint: disable=unused-import
from conftest import read_ledger, require, run_playbook
from providers.local_firewall.netns import make_server, remove_server, sh
from sshd import SshServer

NS = "ddos-lfw-three"
SERVER, PEER = "10.214.1.1", "10.214.1.2"  # the server's address in its namespace, and ours on the veth
UNREACHABLE = "10.214.1.9"  # on the veth's subnet, nobody answers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require({"root": os.geteuid() == 0, "nft": os.path.exists("/usr/sbin/nft"),
             "sshd": os.path.exists("/usr/sbin/sshd")},
            "run as root with nftables and openssh-server: scripts/ensure-debian.sh")
    ssh = None
    try:
        make_server(NS, "lfw3", SERVER, PEER)
        # The server's own firewall, which must come back byte for byte.
        sh("nft", "add", "table", "inet", "site", ns=NS)
        sh("nft", "add", "chain", "inet", "site", "input", "{ type filter hook input priority 0 ; }", ns=NS)
        sh("nft", "add", "rule", "inet", "site", "input", "tcp", "dport", "2222", "drop", ns=NS)
        ssh = SshServer(tmp_path_factory.mktemp("server-sshd"), address=SERVER, netns=NS).start()
        yield ssh
    finally:
        if ssh is not None:
            ssh.stop()
        remove_server(NS, "lfw3")


def inventory(tmp_path, sandbox, lab, ssh, unreachable=False, hung=None, interpreter=None):
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    server_vars = dict(ssh.inventory_vars(sys.executable), scrubbing_workspace="default",
                       scrubbing_local_firewall={"drop": [{"protocol": "udp"}]})
    servers = {"web-1": dict(server_vars, ansible_python_interpreter=interpreter) if interpreter else server_vars}
    if unreachable:
        # an anycast twin of web-1's address that cannot be reached
        servers["web-2"] = dict(server_vars, ansible_host=UNREACHABLE, scrubbing_addresses=[SERVER],
                                ansible_ssh_common_args=(
            server_vars["ansible_ssh_common_args"] + " -o ConnectTimeout=3"))
    if hung:
        # a twin of web-1 whose module never answers: its interpreter waits forever
        servers["web-2"] = dict(server_vars, scrubbing_addresses=[SERVER], ansible_python_interpreter=hung)
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}},
        "scrubbing_servers": {"hosts": servers},
        "scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
            "rtbh": {"scrubbing_provider": "bgp_blackhole", "scrubbing_options": {
                "speaker_address": lab.speaker_address, "owned_prefixes": ["10.214.1.0/24"], "timeout": 10}},
            "mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
                "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
                "prefix_id": PREFIX, "wait_sleep": 0.05}}}},
    }))
    return str(path)


def incident(ident, status, target=SERVER):
    return {"incident": {"id": ident, "status": status, "workspace": "default", "target": target}}


FLOOD_COUNT = textwrap.dedent("""
    import socket, sys, time
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.bind((sys.argv[1], 9999)); rx.settimeout(1.0)
    print("ready", flush=True)
    got = 0
    try:
        while True:
            rx.recvfrom(2048); got += 1
    except OSError:
        pass
    print(got, flush=True)
""")


def udp_arriving(packets=300):
    """How many of ``packets`` UDP datagrams sent to the attacked address reach the server."""
    listener = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, "-c", FLOOD_COUNT, SERVER],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _packet in range(packets):
                tx.sendto(b"x" * 64, (SERVER, 9999))
        return int(listener.stdout.readline())
    finally:
        listener.kill()
        listener.wait()


def ruleset():
    return sh("nft", "list", "ruleset", ns=NS).stdout


def recap(output, host):
    line = next((l for l in output.splitlines() if l.startswith(host + " ") and "ok=" in l), "")
    return dict(part.split("=") for part in line.split()[2:]) if line else {}


def test_one_incident_three_layers_and_back(sandbox, lab, server, tmp_path):
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    inv, ledger = inventory(tmp_path, sandbox, lab, server), tmp_path / "ledger.json"
    before = ruleset()
    assert udp_arriving() > 50

    proc = run_playbook("incident", sandbox, ledger, incident("L3", "started"), inventory=inv)
    assert proc.returncode == 0, proc.output[-4000:]
    # layer 1: the server's own table, and the flood stops while SSH (this very connection) works
    assert "ddos_scrubbing" in ruleset()
    assert udp_arriving() == 0, "the UDP flood still reaches the attacked address"
    assert recap(proc.output, "web-1").get("changed") == "1", proc.output[-3000:]
    # layer 2: the blackhole route on the border router
    lab.wait_routes("master4", lambda routes: SERVER + "/32" in routes, "the blackhole route")
    # layer 3: upstream scrubbing
    assert sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"] is True
    rec = read_ledger(ledger)["integrations"]["web-1"]
    assert rec["active"] and rec["targets"] == [SERVER] and rec["incidents"] == ["L3"] and rec["pending"] is None

    # one status table for the three layers
    status = run_playbook("status", sandbox, ledger, inventory=inv)
    assert status.returncode == 0, status.output[-3000:]
    for name in ("web-1", "rtbh", "mt"):
        assert any(line.strip().strip('",').startswith(name + " ") and " yes " in line
                   for line in status.output.splitlines()), \
            (name, status.output[-3000:])

    # a reboot loses nftables tables: reconcile puts it back
    sh("nft", "delete", "table", "inet", "ddos_scrubbing", ns=NS)
    again = run_playbook("reconcile", sandbox, ledger, inventory=inv)
    assert again.returncode == 0, again.output[-3000:]
    assert udp_arriving() == 0

    done = run_playbook("incident", sandbox, ledger, incident("L3", "resolved"), inventory=inv)
    assert done.returncode == 0, done.output[-4000:]
    assert ruleset() == before, "the server's ruleset after withdrawal must be byte-identical to before"
    assert udp_arriving() > 50
    lab.wait_routes("master4", lambda routes: SERVER + "/32" not in routes, "the route's withdrawal")
    assert sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"] is False
    assert read_ledger(ledger)["integrations"]["web-1"]["active"] is False


def test_check_mode_touches_no_server(sandbox, lab, server, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox, lab, server), tmp_path / "ledger.json"
    before = ruleset()
    proc = run_playbook("incident", sandbox, ledger, incident("C1", "started"), inventory=inv, check=True)
    assert proc.returncode == 0, proc.output[-3000:]
    assert ruleset() == before
    assert not os.path.exists(ledger) or not read_ledger(ledger)["integrations"].get("web-1", {}).get("active")


def test_an_unreachable_server_fails_only_its_own_line(sandbox, lab, server, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox, lab, server, unreachable=True), tmp_path / "ledger.json"
    before = ruleset()
    proc = run_playbook("incident", sandbox, ledger, incident("U1", "started"), inventory=inv)
    try:
        assert recap(proc.output, "web-2").get("unreachable") == "1", proc.output[-3000:]
        assert recap(proc.output, "web-1").get("changed") == "1", proc.output[-3000:]
        assert "ddos_scrubbing" in ruleset()
        doc = read_ledger(ledger)["integrations"]
        assert doc["web-1"]["active"] and not doc["web-2"]["active"]
        assert doc["web-2"]["last_error"].startswith("unreachable"), doc["web-2"]
    finally:
        run_playbook("incident", sandbox, ledger, incident("U1", "resolved"), inventory=inv)
    assert ruleset() == before


def test_a_hung_server_fails_only_its_own_line_within_the_deadline(sandbox, lab, server, tmp_path):
    hang = tmp_path / "hung-python"
    hang.write_text("#!/bin/sh\nexec sleep 600\n")
    hang.chmod(0o755)
    inv, ledger = inventory(tmp_path, sandbox, lab, server, hung=str(hang)), tmp_path / "ledger.json"
    before = ruleset()
    # Without a bound the run would wait for the sleep (600 s): run_playbook's own timeout fails the test.
    proc = run_playbook("incident", sandbox, ledger, dict(incident("H1", "started"), scrubbing_deadline=8),
                        inventory=inv, timeout=150)
    try:
        assert recap(proc.output, "web-2").get("failed") == "1", proc.output[-3000:]
        assert recap(proc.output, "web-1").get("changed") == "1", proc.output[-3000:]
        assert "web-2: its firewall was not written within scrubbing_deadline (8 s)" in proc.output, proc.output[-3000:]
        doc = read_ledger(ledger)["integrations"]
        assert doc["web-1"]["active"] and not doc["web-2"]["active"]
        assert "within scrubbing_deadline (8 s)" in doc["web-2"]["last_error"], doc["web-2"]
    finally:
        run_playbook("incident", sandbox, ledger, dict(incident("H1", "resolved"), scrubbing_deadline=8), inventory=inv)
    assert ruleset() == before


def test_a_ledger_that_cannot_take_the_servers_results_fails_the_run_naming_why(sandbox, lab, server, tmp_path):
    """The server's firewall is written, then the ledger breaks before its outcome is recorded: the
    run fails, and its verdict says that the servers' firewalls were not recorded, and why."""
    ledger = tmp_path / "ledger.json"
    # web-1's module runs through this interpreter, which first breaks the controller's ledger (the
    # namespace shares this machine's files), keeping a copy to put back afterwards.
    breaker = tmp_path / "ledger-breaking-python"
    breaker.write_text("#!/bin/sh\ncp %s %s.kept 2>/dev/null && echo 'not json' > %s\nexec %s \"$@\"\n" % (
        ledger, ledger, ledger, sys.executable))
    breaker.chmod(0o755)
    before = ruleset()
    proc = run_playbook("incident", sandbox, ledger, incident("R1", "started"),
                        inventory=inventory(tmp_path, sandbox, lab, server, interpreter=str(breaker)))
    try:
        assert proc.returncode != 0, proc.output[-3000:]
        assert recap(proc.output, "web-1").get("changed") == "1", proc.output[-3000:]
        assert "the protected servers' firewalls were not recorded in the ledger" in proc.output, proc.output[-3000:]
        assert recap(proc.output, "localhost").get("failed") == "1", proc.output[-3000:]
    finally:
        os.replace(str(ledger) + ".kept", ledger)
        run_playbook("incident", sandbox, ledger, incident("R1", "resolved"),
                     inventory=inventory(tmp_path, sandbox, lab, server))
    assert ruleset() == before
