"""The FastNetMon notify adapter on its own: argv/stdin mapping, stable incident ids, fast
exit whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eda_helpers import ADAPTER

REPORT = "IP: 10.213.0.1\nAttack type: udp_flood\nInitial attack power: 29754 packets per second\n" * 40


class Collector:
    def __init__(self):
        self.events = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.events.append((self.path, self.headers.get("Authorization"), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]


def run(args, stdin_text, env):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, ADAPTER] + args, input=stdin_text.encode(), capture_output=True,
                          env=env, timeout=30)
    return proc, time.monotonic() - start


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
    proc, _ = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT, env)
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
    collector.server.shutdown()


def test_unban_without_stdin_does_not_block(tmp_path):
    collector = Collector()
    env = adapter_env(tmp_path, collector.url)
    # FastNetMon may leave stdin open and empty on unban: the adapter must not wait for EOF.
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, ADAPTER, "10.213.0.1", "incoming", "0", "unban"],
                            stdin=subprocess.PIPE, env=env)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - start < 5
    proc.stdin.close()
    assert collector.events[0][2]["incident"] == {
        "id": "fastnetmon-10.213.0.1", "status": "resolved", "target": "10.213.0.1", "source": "fastnetmon",
        "details": {"direction": "incoming", "pps": "0", "fastnetmon_action": "unban"}}
    collector.server.shutdown()


def test_exits_quickly_and_cleanly_when_nothing_listens(tmp_path):
    env = adapter_env(tmp_path, "http://127.0.0.1:9", DDOS_SCRUBBING_TIMEOUT="1")
    proc, elapsed = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT * 50, env)
    assert proc.returncode == 0 and elapsed < 5
    assert "could not deliver" in (tmp_path / "notify.log").read_text()


def test_bad_arguments_are_logged_not_fatal(tmp_path):
    env = adapter_env(tmp_path, "http://127.0.0.1:9")
    for args in ([], ["not-an-ip", "incoming", "1", "ban"], ["10.0.0.1", "incoming", "1", "explode"]):
        proc, _ = run(args, "x", env)
        assert proc.returncode == 0
    assert (tmp_path / "notify.log").read_text().count("ignored") == 3


def test_playbook_mode_starts_the_playbook_detached(tmp_path):
    marker = tmp_path / "called.json"
    fake = tmp_path / "fake-ansible-playbook"
    fake.write_text("#!%s\nimport json, sys\njson.dump(sys.argv[1:], open(%r, 'w'))\n" % (sys.executable, str(marker)))
    fake.chmod(0o755)
    env = adapter_env(tmp_path, "http://127.0.0.1:9", DDOS_SCRUBBING_MODE="playbook",
                      DDOS_SCRUBBING_ANSIBLE_PLAYBOOK=str(fake), DDOS_SCRUBBING_INVENTORY="/etc/ansible/scrubbing.yml")
    proc, _ = run(["10.213.0.1", "incoming", "29754", "ban"], REPORT, env)
    assert proc.returncode == 0
    deadline = time.time() + 10
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    argv = json.loads(marker.read_text())
    assert argv[:4] == ["ddos.scrubbing.incident", "-i", "/etc/ansible/scrubbing.yml", "-e"]
    assert json.loads(argv[4])["incident"]["workspace"] == "prod"
