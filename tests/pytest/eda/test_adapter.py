"""The FastNetMon notify adapter on its own: argv/stdin mapping, stable incident ids, what it
says about each delivery, retries within its budget. (How fast it gives up: bench/bench_adapter.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eda_helpers import ADAPTER

REPORT = "IP: 10.213.0.1\nAttack type: udp_flood\nInitial attack power: 29754 packets per second\n" * 40


class Collector:
    """A stand-in for the rulebook's internal listener. ``slow_first``: the first request is taken
    but answered only after that many seconds (the rulebook had it; the answer was late);
    ``answer``: (status, JSON body) for every request. A delivery id seen before gets 409."""

    def __init__(self, slow_first=0.0, answer=(202, {"status": "queued"})):
        self.events = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = json.loads(body)
                delivery = event["incident"].get("delivery")
                seen = delivery and any(e[2]["incident"].get("delivery") == delivery for e in collector.events)
                collector.events.append((self.path, self.headers.get("Authorization"), event))
                if len(collector.events) == 1 and slow_first:
                    time.sleep(slow_first)
                status, reply = (409, {"status": "duplicate", "reason": "already received"}) if seen else answer
                data = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the adapter stopped waiting

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]


def run(args, stdin_text, env):
    return subprocess.run([sys.executable, ADAPTER] + args, input=stdin_text.encode(), capture_output=True,
                          env=env, timeout=30, check=False)


def adapter_env(tmp_path, url, **extra):
    env = dict(os.environ, DDOS_SCRUBBING_WEBHOOK_URL=url, DDOS_SCRUBBING_TOKEN="sandbox-internal-token",
               DDOS_SCRUBBING_WORKSPACE="prod", DDOS_SCRUBBING_STATE_DIR=str(tmp_path / "state"),
               DDOS_SCRUBBING_LOG_FILE=str(tmp_path / "notify.log"),
               DDOS_SCRUBBING_NOTIFY_CONFIG=str(tmp_path / "none.ini"))
    env.update(extra)
    return env


def test_ban_details_unban_map_to_one_incident(tmp_path):
    collector = Collector()
    env = adapter_env(tmp_path, collector.url)
    proc = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT, env)
    assert proc.returncode == 0
    run(["10.213.0.1", "incoming", "29754", "attack_details"], REPORT + "packet dump\n" * 100, env)
    run(["10.213.0.1", "incoming", "0", "unban"], "", env)
    paths = [e[0] for e in collector.events]
    assert paths == ["/fastnetmon/prod"] * 3
    assert all(e[1] == "Bearer sandbox-internal-token" for e in collector.events)
    incidents = [e[2]["incident"] for e in collector.events]
    assert [i["status"] for i in incidents] == ["started", "started", "resolved"]
    assert len({i["id"] for i in incidents}) == 1, "attack_details and unban belong to the ban's incident"
    assert incidents[0]["id"].startswith("fastnetmon-10.213.0.1-") and incidents[0]["target"] == "10.213.0.1"
    assert incidents[0]["details"]["attack_type"] == "udp_flood"
    assert incidents[0]["attack"] == {"family": "udp_flood", "pps": 29754}  # the pps argument: its size
    assert len({i["delivery"] for i in incidents}) == 3, "each event is its own delivery"
    assert all(abs(i["timestamp"] - time.time()) < 60 for i in incidents)
    assert (tmp_path / "notify.log").read_text().count("delivered (HTTP 202, queued) on attempt 1") == 3
    collector.server.shutdown()


def test_attack_details_from_the_ban_report(tmp_path):
    collector = Collector()
    report = ("Attack type: syn_flood\nAttack protocol: tcp\nAttack direction: incoming\n"
              "2026-12-01 21:00:00.000000 198.51.100.4:40000 > 10.213.0.1:443 protocol: tcp flags: syn size: 60\n"
              "2026-12-01 21:00:00.000001 198.51.100.5:40001 > 10.213.0.1:80 protocol: tcp flags: syn size: 60\n"
              "2026-12-01 21:00:00.000002 10.213.0.1:22 > 198.51.100.5:5000 protocol: tcp flags: ack size: 60\n")
    run(["10.213.0.1", "incoming", "29754", "ban"], report, adapter_env(tmp_path, collector.url))
    attack = collector.events[0][2]["incident"]["attack"]
    assert attack == {"family": "syn_flood", "protocol": "tcp", "ports": [80, 443], "pps": 29754}, attack
    collector.server.shutdown()


def test_the_reported_traffic_is_the_attack_size(tmp_path):
    """Issue 22: FastNetMon's totals are attack.bps / attack.pps, for scrubbing_min_bps / min_pps."""
    collector = Collector()
    report = ("Attack type: udp_flood\nTotal incoming traffic: 2400 mbps\n"
              "Total incoming pps: 310000 packets per second\n")
    run(["10.213.0.1", "incoming", "29754", "ban"], report, adapter_env(tmp_path, collector.url))
    attack = collector.events[0][2]["incident"]["attack"]
    assert attack == {"family": "udp_flood", "bps": 2400000000, "pps": 310000}, attack
    collector.server.shutdown()


def test_a_new_ban_is_a_new_incident(tmp_path):
    """A resolved id is closed for good: the next ban of the same IP, even in the same second, gets a new id."""
    collector = Collector()
    env = adapter_env(tmp_path, collector.url)
    for action in ("ban", "unban", "ban"):
        run(["10.213.0.1", "incoming", "29754", action], REPORT if action == "ban" else "", env)
    first, unban, second = [e[2]["incident"]["id"] for e in collector.events]
    assert first == unban and second != first and second.startswith("fastnetmon-10.213.0.1-")
    collector.server.shutdown()


def test_a_late_answer_is_retried_and_reported_as_delivered(tmp_path):
    """The rulebook took the event but answered after the adapter's timeout: the adapter retries
    with the same delivery id, hears "already received", and logs that it was delivered."""
    collector = Collector(slow_first=2.5)
    env = adapter_env(tmp_path, collector.url, DDOS_SCRUBBING_TIMEOUT="1", DDOS_SCRUBBING_BUDGET="8")
    proc = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT, env)
    assert proc.returncode == 0
    log = (tmp_path / "notify.log").read_text()
    assert len(collector.events) == 2, log
    assert collector.events[0][2] == collector.events[1][2], "a retry sends the same event, same delivery id"
    assert "delivered: an earlier attempt got through (HTTP 409 on attempt 2" in log, log
    assert "could not deliver" not in log and "NOT DELIVERED" not in log
    collector.server.shutdown()


def test_a_refusal_is_logged_with_its_reason_and_not_retried(tmp_path):
    collector = Collector(answer=(422, {"status": "refused", "reason": "stale event: its timestamp is old"}))
    run(["10.213.0.1", "incoming", "29754", "ban"], REPORT, adapter_env(tmp_path, collector.url))
    log = (tmp_path / "notify.log").read_text()
    assert len(collector.events) == 1
    assert "REFUSED by the rulebook (HTTP 422): stale event: its timestamp is old" in log, log
    collector.server.shutdown()


def test_unban_without_stdin_does_not_block(tmp_path):
    collector = Collector()
    env = adapter_env(tmp_path, collector.url)
    # FastNetMon may leave stdin open and empty on unban: the adapter must not wait for EOF.
    proc = subprocess.Popen([sys.executable, ADAPTER, "10.213.0.1", "incoming", "0", "unban"],
                            stdin=subprocess.PIPE, env=env)
    assert proc.wait(timeout=10) == 0  # a hang guard; how long it takes is measured in bench/bench_adapter.py
    proc.stdin.close()
    incident = collector.events[0][2]["incident"]
    assert set(incident) == {"id", "status", "target", "source", "details", "timestamp", "delivery"}
    assert {k: incident[k] for k in ("id", "status", "target", "source", "details")} == {
        "id": "fastnetmon-10.213.0.1", "status": "resolved", "target": "10.213.0.1", "source": "fastnetmon",
        "details": {"direction": "incoming", "pps": "0", "fastnetmon_action": "unban"}}
    collector.server.shutdown()


def test_exits_cleanly_and_says_so_when_nothing_listens(tmp_path):
    env = adapter_env(tmp_path, "http://127.0.0.1:9", DDOS_SCRUBBING_TIMEOUT="1", DDOS_SCRUBBING_BUDGET="1.5")
    proc = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT * 50, env)
    assert proc.returncode == 0
    log = (tmp_path / "notify.log").read_text()
    assert "NOT DELIVERED after" in log and "attempt(s)" in log and "Connection refused" in log, log


def test_bad_arguments_are_logged_not_fatal(tmp_path):
    env = adapter_env(tmp_path, "http://127.0.0.1:9")
    for args in ([], ["not-an-ip", "incoming", "1", "ban"], ["10.0.0.1", "incoming", "1", "explode"]):
        proc = run(args, "x", env)
        assert proc.returncode == 0
    assert (tmp_path / "notify.log").read_text().count("ignored") == 3


def test_playbook_mode_starts_the_playbook_detached(tmp_path):
    marker = tmp_path / "called.json"
    fake = tmp_path / "fake-ansible-playbook"
    fake.write_text("#!%s\nimport json, sys\njson.dump(sys.argv[1:], open(%r, 'w'))\n" % (sys.executable, str(marker)))
    fake.chmod(0o755)
    env = adapter_env(tmp_path, "http://127.0.0.1:9", DDOS_SCRUBBING_MODE="playbook",
                      DDOS_SCRUBBING_ANSIBLE_PLAYBOOK=str(fake), DDOS_SCRUBBING_INVENTORY="/etc/ansible/scrubbing.yml")
    proc = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT, env)
    assert proc.returncode == 0
    deadline = time.time() + 10
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    argv = json.loads(marker.read_text())
    assert argv[:4] == ["ddos.scrubbing.incident", "-i", "/etc/ansible/scrubbing.yml", "-e"]
    assert json.loads(argv[4])["incident"]["workspace"] == "prod"


class Redirector:
    """Answers every POST ``status`` with ``Location: <target><path>`` (a moved or hijacked webhook_url)."""

    def __init__(self, target, status):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_not_called_delivered(tmp_path, status):
    """A 302 used to be followed as a GET to the other host, bearer token included, and its 200
    logged as "delivered": the event never reached the rulebook."""
    from ddos_sandbox.core import OtherHost

    other = OtherHost()
    redirector = Redirector(other.url, status)
    try:
        started = time.monotonic()
        proc = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT,
                   adapter_env(tmp_path, redirector.url, http_proxy=other.url, HTTP_PROXY=other.url))
        elapsed = time.monotonic() - started
    finally:
        redirector.server.shutdown()
        other.stop()
    assert proc.returncode == 0
    log = (tmp_path / "notify.log").read_text()
    assert other.requests == [], "the token and the event went to the other host"
    assert "NOT DELIVERED: webhook_url answered HTTP %d, a redirect to %s" % (status, other.url) in log, log
    assert "delivered (" not in log and "sandbox-internal-token" not in log
    assert elapsed < 5, "a redirect is final: not retried until the budget is spent"


def test_a_2xx_that_is_not_the_rulebook_is_not_a_delivery(tmp_path):
    from ddos_sandbox.core import OtherHost

    other = OtherHost()  # answers 200 {"success": true}: a web server, not the rulebook
    try:
        run(["10.213.0.1", "incoming", "29754", "ban"], REPORT, adapter_env(tmp_path, other.url))
    finally:
        other.stop()
    log = (tmp_path / "notify.log").read_text()
    assert "NOT DELIVERED: HTTP 200 without the rulebook's answer" in log and "delivered (" not in log, log
