"""local_firewall with real packets: two network namespaces this test creates (a server holding the
attacked address, a sender on the other end of a veth), the module run by ``ansible`` inside the
server's namespace, and traffic counted by the server's own sockets.

Only addresses of 10.214.0.0/16 on these test interfaces are used; nothing leaves the namespaces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import VENV_BIN, ansible_env, require

SERVER_NS, SENDER_NS = "ddos-lfw-server", "ddos-lfw-sender"
SERVER, SENDER, OTHER = "10.214.0.1", "10.214.0.2", "10.214.0.3"  # OTHER: a second address of the server


def sh(*argv, check=True, ns=None, **kw):
    if ns:
        argv = ("ip", "netns", "exec", ns) + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def hosts():
    require({"root": os.geteuid() == 0, "nft": os.path.exists("/usr/sbin/nft"), "ip": os.path.exists("/usr/sbin/ip")},
            "run as root on Debian with nftables and iproute2: scripts/ensure-debian.sh")
    for ns in (SERVER_NS, SENDER_NS):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    try:
        sh("ip", "link", "add", "lfw-srv", "netns", SERVER_NS, "type", "veth", "peer", "name", "lfw-snd",
           "netns", SENDER_NS)
        sh("ip", "addr", "add", SERVER + "/24", "dev", "lfw-srv", ns=SERVER_NS)
        sh("ip", "addr", "add", OTHER + "/24", "dev", "lfw-srv", ns=SERVER_NS)
        sh("ip", "link", "set", "lfw-srv", "up", ns=SERVER_NS)
        sh("ip", "addr", "add", SENDER + "/24", "dev", "lfw-snd", ns=SENDER_NS)
        sh("ip", "link", "set", "lfw-snd", "up", ns=SENDER_NS)
        yield
    finally:
        for ns in (SERVER_NS, SENDER_NS):
            sh("ip", "netns", "del", ns, check=False)


def module(name, args, check=False, diff=False):
    """Run a module inside the server's namespace, as ``ansible -m`` does on a server, and return its result."""
    cmd = ["ip", "netns", "exec", SERVER_NS, os.path.join(VENV_BIN, "ansible"), "localhost", "-m",
           "ddos.scrubbing." + name, "-a", json.dumps(args), "-o"]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), timeout=120, check=False)
    marker = proc.stdout.find("=>")
    if marker < 0:
        raise AssertionError("no module result:\n%s\n%s" % (proc.stdout, proc.stderr))
    result = json.loads(proc.stdout[marker + 2:].strip())
    result["failed"] = proc.returncode != 0
    return result


@pytest.fixture(autouse=True)
def no_table_left(hosts):
    yield
    sh("nft", "delete", "table", "inet", "ddos_scrubbing", ns=SERVER_NS, check=False)
    sh("nft", "delete", "table", "inet", "site", ns=SERVER_NS, check=False)


def ruleset():
    return sh("nft", "list", "ruleset", ns=SERVER_NS).stdout


# The server's side: listeners that count what arrives, for a few seconds.
LISTEN = textwrap.dedent("""
    import json, socket, sys, time
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("0.0.0.0", 9999)); udp.settimeout(0.05)
    tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", int(sys.argv[1]))); tcp.listen(16); tcp.settimeout(0.05)
    counts = {"udp": 0, "tcp": 0}
    end = time.time() + float(sys.argv[2])
    print("ready", flush=True)
    while time.time() < end:
        try:
            while True:
                udp.recvfrom(2048); counts["udp"] += 1
        except OSError:
            pass
        try:
            conn, _ = tcp.accept(); conn.sendall(b"hello"); conn.close(); counts["tcp"] += 1
        except OSError:
            pass
    print(json.dumps(counts), flush=True)
""")

# The sender's side: a bounded UDP flood to one address, then one TCP connection to each port.
SEND = textwrap.dedent("""
    import json, socket, sys, time
    address, packets, ports = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3].split(",")]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(packets):
        udp.sendto(b"x" * 64, (address, 9999))
    answered = {}
    for port in ports:
        try:
            with socket.create_connection((address, port), timeout=2) as conn:
                answered[port] = conn.recv(5).decode()
        except OSError as exc:
            answered[port] = type(exc).__name__
    print(json.dumps(answered), flush=True)
""")


def exchange(address, tcp_port=22, packets=500):
    """Flood ``address`` with UDP and connect to ``tcp_port``: (UDP datagrams received, TCP answers)."""
    listener = subprocess.Popen(["ip", "netns", "exec", SERVER_NS, sys.executable, "-c", LISTEN, str(tcp_port), "4"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        sent = sh(sys.executable, "-c", SEND, address, str(packets), str(tcp_port), ns=SENDER_NS, timeout=30)
        counts = json.loads(listener.stdout.readline())
    finally:
        listener.kill()
        listener.wait()
    return counts["udp"], json.loads(sent.stdout)[str(tcp_port)]


def test_a_udp_flood_stops_ssh_and_other_traffic_flow_and_withdrawal_restores_the_ruleset(hosts):
    # The server's own firewall, which must survive us byte for byte.
    sh("nft", "add", "table", "inet", "site", ns=SERVER_NS)
    sh("nft", "add", "chain", "inet", "site", "input", "{ type filter hook input priority 0 ; policy accept ; }",
       ns=SERVER_NS)
    sh("nft", "add", "rule", "inet", "site", "input", "tcp", "dport", "2222", "drop", ns=SERVER_NS)
    before = ruleset()
    received, answer = exchange(SERVER)
    assert received > 100 and answer == "hello"  # the path works before we do anything

    # Every TCP port dropped too: SSH survives only because allow is accepted before any drop.
    args = {"targets": [SERVER], "drop": [{"protocol": "udp"}, {"protocol": "tcp", "ports": ["1-65535"]}]}
    result = module("local_firewall", args)
    assert result["changed"] and result["active"] and not result["failed"]
    assert result["before"]["present"] is False and result["after"]["rules"]

    received, answer = exchange(SERVER)
    assert received == 0, "the UDP flood still arrives"
    assert answer == "hello", "SSH (TCP 22) must still flow: %s" % answer
    other_udp, _other_tcp = exchange(OTHER)
    assert other_udp > 100, "traffic to an address that is not attacked must still flow"

    again = module("local_firewall", args)
    assert again["changed"] is False and again["api_calls"] == 1  # one read, no write

    gone = module("local_firewall", {"state": "inactive"})
    assert gone["changed"] and not gone["active"]
    assert ruleset() == before, "the ruleset after withdrawal must be byte-identical to before"
    received, _tcp = exchange(SERVER)
    assert received > 100


def test_check_mode_writes_nothing_and_shows_the_rules(hosts):
    before = ruleset()
    result = module("local_firewall", {"targets": [SERVER], "drop": [{"protocol": "udp"}]}, check=True)
    assert result["changed"] is True
    assert any("udp" in rule for rule in result["after"]["rules"])
    assert ruleset() == before


def test_a_table_that_is_not_ours_is_refused_and_kept(hosts):
    sh("nft", "add", "table", "inet", "theirs", ns=SERVER_NS)
    sh("nft", "add", "chain", "inet", "theirs", "c", ns=SERVER_NS)
    sh("nft", "add", "rule", "inet", "theirs", "c", "counter", ns=SERVER_NS)
    try:
        before = ruleset()
        result = module("local_firewall", {"table": "inet theirs", "targets": [SERVER], "drop": [{"protocol": "udp"}]})
        assert result.get("failed") and "not ours" in result["msg"] and "table" in result["msg"]
        withdraw = module("local_firewall", {"table": "inet theirs", "state": "inactive"})
        assert withdraw.get("failed")
        assert ruleset() == before
    finally:
        sh("nft", "delete", "table", "inet", "theirs", ns=SERVER_NS, check=False)


@pytest.mark.parametrize("args, words", [
    ({"targets": ["10.214.0.1 tcp dport 22"], "drop": [{"protocol": "udp"}]}, "not an IP address"),
    ({"targets": [SERVER], "drop": [{"protocol": "udp", "ports": ["53; flush ruleset"]}]}, "port"),
    ({"targets": [SERVER], "drop": [{"sources": ["0.0.0.0/0 accept"]}]}, "not an IP address or CIDR"),
    ({"targets": [SERVER], "allow": [{"protocol": "tcp", "ports": ["22"], "sources": []}]}, "for anywhere"),
    ({"targets": [SERVER], "table": "inet x; flush ruleset"}, "table must be"),
    ({"targets": [SERVER], "rate_limit": [{"protocol": "udp", "pps": 0}]}, "pps"),
])
def test_bad_values_are_refused_before_nft_runs(hosts, args, words):
    before = ruleset()
    result = module("local_firewall", args)
    assert result["failed"] and words in result["msg"], result.get("msg")
    assert "Traceback" not in json.dumps(result) and "Module failed" not in result["msg"]
    assert ruleset() == before


def test_match_from_incident_drops_the_attack_sources_only(hosts):
    attacks = {SERVER: {"protocol": "udp", "ports": [9999], "sources": ["10.214.0.0/24"]}}
    try:
        result = module("local_firewall", {"targets": [SERVER], "match_from_incident": True,
                                           "target_attacks": attacks})
        assert result["changed"]
        received, answer = exchange(SERVER)
        assert received == 0 and answer == "hello"
    finally:
        module("local_firewall", {"state": "inactive"})


def test_the_test_button_reports_a_foreign_table_and_an_accepted_rule_set(hosts):
    ok = module("local_firewall_info", {"targets": [SERVER], "drop": [{"protocol": "udp"}]})
    assert ok["ok"] and "nft accepts" in json.dumps(ok["findings"])
    assert ruleset().count("ddos_scrubbing") == 0  # --check only: nothing applied
    sh("nft", "add", "table", "inet", "ddos_scrubbing", ns=SERVER_NS)
    sh("nft", "add", "chain", "inet", "ddos_scrubbing", "c", ns=SERVER_NS)
    sh("nft", "add", "rule", "inet", "ddos_scrubbing", "c", "counter", ns=SERVER_NS)
    try:
        bad = module("local_firewall_info", {"targets": [SERVER], "drop": [{"protocol": "udp"}]})
        assert bad.get("failed") and "not ours" in bad["msg"]
    finally:
        sh("nft", "delete", "table", "inet", "ddos_scrubbing", ns=SERVER_NS, check=False)
