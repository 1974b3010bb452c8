"""Fixtures for the detector tests: a running ansible-rulebook on ephemeral loopback ports."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from ddos_sandbox import net

from conftest import ROOT, VENV_BIN, ansible_env

ADAPTER = os.path.join(ROOT, "extensions", "fastnetmon", "ddos_scrubbing_notify.py")
FLOWTRIQ_SECRET = "sandbox-flowtriq-secret"
INTERNAL_TOKEN = "sandbox-internal-token"


def wait_port(port, timeout=60):
    if not net.wait_port(port, timeout):
        raise AssertionError("nothing listens on 127.0.0.1:%d" % port)


free_port = net.free_port


def post(url, body, headers=None):
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def flowtriq(event_type, incident_id, ip="203.0.113.7"):
    body = json.dumps({"event_type": event_type, "timestamp": "2026-11-24T03:00:00Z",
                       "incident": {"id": incident_id, "uuid": "u-%s" % incident_id, "attack_family": "udp_flood",
                                    "severity": "high"},
                       "node": {"id": 1, "name": "web-1", "ip_address": ip}}).encode()
    signature = "sha256=" + hmac.new(FLOWTRIQ_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, signature


def wait_for(predicate, timeout=60, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def write_inventory(path, sandbox, ledger, hosts=None):
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    hosts = hosts or {"edge": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_workspace": "prod",
                               "scrubbing_options": {"api_url": sandbox.api_url("cloudflare"),
                                                     "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
                                                     "prefix_id": PREFIX, "wait_sleep": 0.05}}}
    path.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local"}},
                "vars": {"scrubbing_state_file": str(ledger)}},
        "scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}))
    return str(path)


class Rulebook:
    def __init__(self, proc, webhook_port, internal_port, log):
        self.proc, self.webhook_port, self.internal_port, self.log = proc, webhook_port, internal_port, log

    @property
    def flowtriq_url(self):
        return "http://127.0.0.1:%d/flowtriq" % self.webhook_port

    @property
    def internal_url(self):
        return "http://127.0.0.1:%d" % self.internal_port

    def output(self):
        return open(self.log, encoding="utf-8", errors="replace").read()


@pytest.fixture
def rulebook(sandbox, tmp_path):
    """ansible-rulebook running ddos.scrubbing.incident_webhook on the sandbox inventory."""
    webhook_port, internal_port = free_port(), free_port()
    inventory = write_inventory(tmp_path / "inventory.json", sandbox, tmp_path / "ledger.json")
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"flowtriq_secret": FLOWTRIQ_SECRET, "internal_token": INTERNAL_TOKEN,
                                     "webhook_port": webhook_port, "internal_port": internal_port}))
    log = tmp_path / "rulebook.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([os.path.join(VENV_BIN, "ansible-rulebook"), "-r", "ddos.scrubbing.incident_webhook",
                                 "-i", inventory, "--vars", str(variables), "-v"],
                                stdout=out, stderr=subprocess.STDOUT, env=ansible_env(), start_new_session=True)
    try:
        wait_port(webhook_port)
        wait_port(internal_port)
        yield Rulebook(proc, webhook_port, internal_port, str(log))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
