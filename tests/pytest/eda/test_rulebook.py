"""The rulebook for real: ansible-rulebook with ddos.scrubbing.incident_webhook, driving the
incident playbook against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys

from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from eda_helpers import (ADAPTER, INTERNAL_TOKEN, flowtriq, post, rulebook, wait_for)  # noqa: F401


def advertised(sandbox):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"]


def test_flowtriq_start_and_end(sandbox, rulebook):  # noqa: F811
    body, signature = flowtriq("attack_start", 7001)
    assert post(rulebook.flowtriq_url + "/prod", body, {"X-Flowtriq-Signature": signature}) == 200
    assert wait_for(lambda: advertised(sandbox), timeout=90), rulebook.output()[-3000:]
    body, signature = flowtriq("attack_end", 7001)
    assert post(rulebook.flowtriq_url + "/prod", body, {"X-Flowtriq-Signature": signature}) == 200
    assert wait_for(lambda: not advertised(sandbox), timeout=90), rulebook.output()[-3000:]
    assert "flowtriq-7001" in rulebook.output()


def test_unsigned_or_badly_signed_flowtriq_is_refused(sandbox, rulebook):  # noqa: F811
    body, signature = flowtriq("attack_start", 7002)
    assert post(rulebook.flowtriq_url + "/prod", body) in (400, 401)
    assert post(rulebook.flowtriq_url + "/prod", body, {"X-Flowtriq-Signature": "sha256=" + "0" * 64}) == 401
    tampered = body.replace(b"203.0.113.7", b"198.51.100.1")
    assert post(rulebook.flowtriq_url + "/prod", tampered, {"X-Flowtriq-Signature": signature}) == 401
    assert post(rulebook.internal_url + "/incident", {"incident": {"id": "x", "status": "started"}}) in (400, 401)
    assert sandbox.requests() == [], "a refused event runs nothing"


def test_malformed_events_are_logged_and_dropped(sandbox, rulebook):  # noqa: F811
    auth = {"Authorization": "Bearer " + INTERNAL_TOKEN}
    assert post(rulebook.internal_url + "/incident", {"incident": {"id": "x", "status": "exploded"}}, auth) == 200
    assert post(rulebook.internal_url + "/fastnetmon/prod", {"nothing": "useful"}, auth) == 200
    body, signature = flowtriq("attack_started_typo", 7003)
    assert post(rulebook.flowtriq_url + "/prod", body, {"X-Flowtriq-Signature": signature}) == 200
    assert wait_for(lambda: rulebook.output().count("dropped a malformed") >= 3, timeout=30), rulebook.output()[-3000:]
    assert sandbox.requests() == [] and "PLAY [" not in rulebook.output()


def test_generic_incident_and_fastnetmon_adapter(sandbox, rulebook, tmp_path):  # noqa: F811
    auth = {"Authorization": "Bearer " + INTERNAL_TOKEN}
    assert post(rulebook.internal_url + "/incident",
                {"incident": {"id": "G1", "status": "started", "workspace": "prod"}}, auth) == 200
    assert wait_for(lambda: advertised(sandbox), timeout=90), rulebook.output()[-3000:]
    env = dict(os.environ, DDOS_SCRUBBING_WEBHOOK_URL=rulebook.internal_url, DDOS_SCRUBBING_TOKEN=INTERNAL_TOKEN,
               DDOS_SCRUBBING_WORKSPACE="prod", DDOS_SCRUBBING_STATE_DIR=str(tmp_path / "state"),
               DDOS_SCRUBBING_LOG_FILE=str(tmp_path / "notify.log"),
               DDOS_SCRUBBING_NOTIFY_CONFIG=str(tmp_path / "none.ini"))
    subprocess.run([sys.executable, ADAPTER, "203.0.113.7", "incoming", "29754", "ban"], input=b"Attack type: syn\n",
                   env=env, check=True, timeout=30)
    assert wait_for(lambda: "fastnetmon-203.0.113.7-" in rulebook.output(), timeout=60)
    assert post(rulebook.internal_url + "/incident",
                {"incident": {"id": "G1", "status": "resolved", "workspace": "prod"}}, auth) == 200
    assert wait_for(lambda: rulebook.output().count("PLAY RECAP") >= 3, timeout=90)
    assert advertised(sandbox), "the FastNetMon incident of the workspace is still active"
    subprocess.run([sys.executable, ADAPTER, "203.0.113.7", "incoming", "0", "unban"], env=env, check=True,
                   stdin=subprocess.DEVNULL, timeout=30)
    assert wait_for(lambda: not advertised(sandbox), timeout=90), rulebook.output()[-3000:]
