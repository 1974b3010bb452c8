"""Fixtures for the detector tests: a running ansible-rulebook on ephemeral loopback ports."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import importlib.util
import json
import os
import resource
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


def event_source_module(name="incident_webhook_under_test"):
    """The event source extensions/eda/plugins/event_source/incident_webhook.py, loaded as a module of its
    own (ansible-rulebook loads it by path too), to drive its Intake and route() directly."""
    path = os.path.join(ROOT, "extensions", "eda", "plugins", "event_source", "incident_webhook.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_port(port, timeout=60):
    if not net.wait_port(port, timeout):
        raise AssertionError("nothing listens on 127.0.0.1:%d" % port)


free_port = net.free_port


def post(url, body, headers=None, answer=False):
    """POST JSON; the HTTP status (and with ``answer``, the JSON answer too)."""
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    if not answer:
        return status
    try:
        return status, json.loads(text or b"{}")
    except ValueError:
        return status, {"raw": text.decode("utf-8", "replace")}


def now_iso(offset=0.0):
    stamp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def flowtriq(event_type, incident_id, ip="203.0.113.7", timestamp=None, incident=None, node=None, **top):
    """A signed Flowtriq webhook (body, X-Flowtriq-Signature), stamped now unless ``timestamp``."""
    body = {"event_type": event_type, "timestamp": now_iso() if timestamp is None else timestamp,
            "incident": dict({"id": incident_id, "uuid": "u-%s" % incident_id, "attack_family": "udp_flood",
                              "severity": "high"}, **(incident or {})),
            "node": dict({"id": 1, "name": "web-1", "ip_address": ip}, **(node or {}))}
    body.update(top)
    if timestamp is False:
        del body["timestamp"]
    body = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(FLOWTRIQ_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, signature


def ledger_incidents(path, workspace):
    """{incident id: record} of ``workspace`` in the JSON ledger at ``path`` ({} if none yet)."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError):
        return {}
    return (doc.get("workspaces", {}).get(workspace) or {}).get("incidents", {})


def wait_for(predicate, timeout=60, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def write_inventory(path, sandbox, ledger, hosts=None, variables=None):
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    hosts = hosts or {"edge": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_workspace": "prod",
                               "scrubbing_options": {"api_url": sandbox.api_url("cloudflare"),
                                                     "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
                                                     "prefix_id": PREFIX, "wait_sleep": 0.05}}}
    # Laid out as the README shows: integrations and playbook-wide vars, no explicit localhost.
    path.write_text(json.dumps({
        "all": {"vars": dict({"scrubbing_state_file": str(ledger)}, **(variables or {}))},
        "scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}))
    return str(path)


class Rulebook:
    def __init__(self, proc, webhook_port, internal_port, log, ledger=None):
        self.proc, self.webhook_port, self.internal_port, self.log = proc, webhook_port, internal_port, log
        self.ledger = ledger

    @property
    def flowtriq_url(self):
        return "http://127.0.0.1:%d/flowtriq" % self.webhook_port

    @property
    def internal_url(self):
        return "http://127.0.0.1:%d" % self.internal_port

    def output(self):
        return open(self.log, encoding="utf-8", errors="replace").read()

    def runs_once_all_ended(self):
        """How many playbook runs the rulebook has had, once every run it started has ended (else None)."""
        text = self.output()
        ended = text.count("PLAY RECAP")
        return ended if ended and text.count("\nPLAY [") == ended else None


def _limit_open_files(count):
    def apply():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))
    return apply


def start_rulebook(tmp_path, inventory, extra_vars=None, env=None, open_files=None, verbosity="-v"):
    """ansible-rulebook running ddos.scrubbing.incident_webhook; stop it with stop_rulebook().
    ``open_files``: its soft RLIMIT_NOFILE (systemd gives a service 1024 unless told otherwise).
    ``verbosity`` "-vv" adds ansible-rulebook's debug lines (when a rule matched, a lock was taken)."""
    webhook_port, internal_port = free_port(), free_port()
    variables = tmp_path / "vars.json"
    # tick 0: no clock-driven reconcile runs unless a test asks for them (tests/pytest/guardrails)
    variables.write_text(json.dumps(dict({"flowtriq_secret": FLOWTRIQ_SECRET, "internal_token": INTERNAL_TOKEN,
                                          "webhook_port": webhook_port, "internal_port": internal_port, "tick": 0},
                                         **(extra_vars or {}))))
    log = tmp_path / "rulebook.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([os.path.join(VENV_BIN, "ansible-rulebook"), "-r", "ddos.scrubbing.incident_webhook",
                                 "-i", inventory, "--vars", str(variables), verbosity],
                                stdout=out, stderr=subprocess.STDOUT, env=ansible_env(env), start_new_session=True,
                                preexec_fn=_limit_open_files(open_files) if open_files else None)
    try:
        wait_port(webhook_port)
        wait_port(internal_port)
    except AssertionError:
        stop_rulebook(proc)
        raise AssertionError("ansible-rulebook did not listen:\n" + open(log, encoding="utf-8").read()[-3000:])
    return Rulebook(proc, webhook_port, internal_port, str(log))


def stop_rulebook(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def rulebook(sandbox, tmp_path):
    """ansible-rulebook running ddos.scrubbing.incident_webhook on the sandbox inventory (README layout)."""
    ledger = tmp_path / "ledger.json"
    book = start_rulebook(tmp_path, write_inventory(tmp_path / "inventory.json", sandbox, ledger))
    book.ledger = str(ledger)
    try:
        yield book
    finally:
        stop_rulebook(book.proc)
