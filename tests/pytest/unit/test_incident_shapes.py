"""The incident's shape (plugins/module_utils/_incident.py), the check every entry point shares: the
playbook, the rulebook's listener and the FastNetMon adapter's events. A target is one spelling of
one address or one block we could own; an unknown field is refused, naming the closest known one.
(Through the real playbook with gobgpd and BIRD: tests/pytest/bgp/test_bgp_incident.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import validate_incident
from conftest import ROOT
from eda.eda_helpers import event_source_module


def started(**fields):
    return dict({"id": "A1", "status": "started"}, **fields)


@pytest.mark.parametrize("written, canonical", [
    ("203.0.113.11", "203.0.113.11"),
    ("203.0.113.11/32", "203.0.113.11"),          # a /32 is its address: per-target routes can take it
    ("2001:DB8:0::1", "2001:db8::1"),
    ("2001:db8::1/128", "2001:db8::1"),
    ("::ffff:203.0.113.11", "203.0.113.11"),       # an IPv4 address written as IPv6 is that address
    ("203.0.113.0/28", "203.0.113.0/28"),
    ("10.0.0.0/8", "10.0.0.0/8"),
    ("2001:DB8::/32", "2001:db8::/32"),
])
def test_a_target_has_one_spelling(written, canonical):
    assert validate_incident(started(target=written))["target"] == canonical


@pytest.mark.parametrize("target, message", [
    ("2001:db8::1%z destination 2a00:1450::1", "without spaces or an IPv6 zone id"),
    ("fe80::1%eth0", "without spaces or an IPv6 zone id"),
    (" 203.0.113.11", "without spaces"),
    ("203.0.113.11\n", "without spaces"),
    ("203.0.113.11 then accept", "without spaces"),
    ("0.0.0.0/0", "wider than /8"),
    ("::/0", "wider than /32"),
    ("128.0.0.0/1", "wider than /8"),
    ("2000::/3", "wider than /32"),
    ("203.0.113.7/24", "host bits set: write 203.0.113.7 for the address or 203.0.113.0/24 for the block"),
    ("203.0.113.300", "not an IP address or CIDR block"),
    ("example.com", "not one IP address"),
    (3405803787, "must be a string"),
    (["203.0.113.11"], "must be a string"),
])
def test_a_target_that_is_not_one_of_our_addresses_is_refused(target, message):
    with pytest.raises(InputError) as caught:
        validate_incident(started(target=target))
    text = str(caught.value)
    assert "refused: incident.target" in text and message in text and "Nothing was recorded" in text, text


@pytest.mark.parametrize("key, suggestion", [("traget", "target"), ("stauts", "status"), ("severity", None)])
def test_an_unknown_field_is_refused_with_the_closest_known_one(key, suggestion):
    incident = started(target="203.0.113.11")
    incident[key] = "203.0.113.12"
    with pytest.raises(InputError) as caught:
        validate_incident(incident)
    text = str(caught.value)
    assert "incident.%s is not an incident field" % key in text and "belongs in incident.details" in text, text
    if suggestion:
        assert "(did you mean %s?)" % suggestion in text
    else:
        assert "did you mean" not in text


def test_extra_data_in_details_is_kept():
    incident = validate_incident(started(target="203.0.113.11", details={"severity": "high", "traget": "x"}))
    assert incident["details"] == {"severity": "high", "traget": "x"} and incident["target"] == "203.0.113.11"


# -- the detectors' events, as their mapping builds them, still pass ------------------------------------------
def test_a_flowtriq_webhook_maps_to_an_incident_that_passes():
    source = event_source_module()
    intake = source.Intake(queue=None, window=300)
    body = {"event_type": "attack_start", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "incident": {"id": 4711, "uuid": "6a1f", "title": "UDP flood", "severity": "high", "peak_pps": 120000,
                         "peak_bps": 9.1e8, "attack_family": "udp_flood", "ai_summary": "volumetric",
                         "dashboard_url": "https://flowtriq.example/i/4711", "unknown_field": 1},
            "node": {"name": "edge-1", "ip_address": "203.0.113.7"}}
    routed = source.route(intake, "flowtriq", "flowtriq/prod", body, "sha256=" + "0" * 64, time.time())
    incident = validate_incident(routed)
    assert incident["target"] == "203.0.113.7" and incident["id"] == "flowtriq-4711"
    assert incident["details"]["severity"] == "high" and incident["details"]["node"] == "edge-1"


def test_a_generic_incident_with_an_unknown_field_is_refused_by_the_listener_rules():
    source = event_source_module()
    intake = source.Intake(queue=None, window=300)
    event = source.route(intake, "internal", "incident", {"incident": started(target="203.0.113.7", traget="x")},
                         None, time.time())
    with pytest.raises(InputError, match=r"incident\.traget is not an incident field \(did you mean target\?\)"):
        validate_incident(event)


def test_the_fastnetmon_adapter_event_passes(tmp_path):
    """The adapter as FastNetMon runs it (mode playbook, a stand-in ansible-playbook that keeps its
    argv): the incident it hands over passes the playbook's check, its report lines in details."""
    called = tmp_path / "called.json"
    fake = tmp_path / "fake-ansible-playbook"
    fake.write_text("#!%s\nimport json, sys\njson.dump(sys.argv[1:], open(%r, 'w'))\n" % (sys.executable, str(called)))
    fake.chmod(0o755)
    env = dict(os.environ, DDOS_SCRUBBING_MODE="playbook", DDOS_SCRUBBING_ANSIBLE_PLAYBOOK=str(fake),
               DDOS_SCRUBBING_WORKSPACE="prod", DDOS_SCRUBBING_STATE_DIR=str(tmp_path / "state"),
               DDOS_SCRUBBING_LOG_FILE=str(tmp_path / "notify.log"),
               DDOS_SCRUBBING_NOTIFY_CONFIG=str(tmp_path / "none.ini"), DDOS_SCRUBBING_INVENTORY="inv.yml")
    report = "IP: 203.0.113.7\nAttack type: syn_flood\nAttack protocol: tcp\nInitial attack power: 29754 pps\n"
    adapter = os.path.join(ROOT, "extensions", "fastnetmon", "ddos_scrubbing_notify.py")
    proc = subprocess.run([sys.executable, adapter, "203.0.113.7", "incoming", "29754", "ban"], input=report.encode(),
                          capture_output=True, env=env, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    deadline = time.time() + 10
    while not called.exists() and time.time() < deadline:
        time.sleep(0.05)
    argv = json.loads(called.read_text())
    incident = validate_incident(json.loads(argv[argv.index("-e") + 1])["incident"])
    assert incident["target"] == "203.0.113.7" and incident["source"] == "fastnetmon"
    assert incident["details"]["fastnetmon_action"] == "ban" and incident["details"]["pps"]
