"""The rulebook for real: ansible-rulebook with ddos.scrubbing.incident_webhook (and its event
source), on an inventory laid out as the README shows, driving the incident playbook against
the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from eda_helpers import (ADAPTER, INTERNAL_TOKEN, flowtriq, ledger_incidents, now_iso, post, wait_for)
from eda_helpers import rulebook  # noqa: F401 pylint: disable=unused-import

AUTH = {"Authorization": "Bearer " + INTERNAL_TOKEN}


def advertised(sandbox):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"]


def signed(rulebook, body, signature, workspace="prod"):  # noqa: F811
    return post(rulebook.flowtriq_url + "/" + workspace, body, {"X-Flowtriq-Signature": signature}, answer=True)


def adapter_env(rulebook, tmp_path):  # noqa: F811
    return dict(os.environ, DDOS_SCRUBBING_WEBHOOK_URL=rulebook.internal_url, DDOS_SCRUBBING_TOKEN=INTERNAL_TOKEN,
                DDOS_SCRUBBING_WORKSPACE="prod", DDOS_SCRUBBING_STATE_DIR=str(tmp_path / "state"),
                DDOS_SCRUBBING_LOG_FILE=str(tmp_path / "notify.log"),
                DDOS_SCRUBBING_NOTIFY_CONFIG=str(tmp_path / "none.ini"))


def test_flowtriq_start_end_and_replays(sandbox, rulebook):  # noqa: F811
    """README inventory (no explicit localhost): the signed start diverts, the end withdraws; the
    captured start sent again, a stale one and one without a timestamp are refused and run nothing."""
    start, start_signature = flowtriq("attack_start", 7001)
    status, answer = signed(rulebook, start, start_signature)
    assert (status, answer["status"]) == (202, "queued"), answer
    assert wait_for(lambda: advertised(sandbox), timeout=90), rulebook.output()[-3000:]
    assert signed(rulebook, *flowtriq("attack_end", 7001))[0] == 202
    assert wait_for(lambda: not advertised(sandbox), timeout=90), rulebook.output()[-3000:]
    # One run or two: the end may reach the start's run while it goes (the feed).
    runs = wait_for(rulebook.runs_once_all_ended, timeout=60)
    assert runs in (1, 2), rulebook.output()[-3000:]
    assert "skipping: no hosts matched" not in rulebook.output()

    status, answer = signed(rulebook, start, start_signature)  # the replay of a captured start
    assert status == 409 and "already received" in answer["reason"], answer
    status, answer = signed(rulebook, *flowtriq("attack_start", 7002, timestamp=now_iso(-600)))
    assert status == 422 and "stale event" in answer["reason"] and "300 s window" in answer["reason"], answer
    status, answer = signed(rulebook, *flowtriq("attack_start", 7003, timestamp=False))
    assert status == 422 and "no timestamp" in answer["reason"], answer
    assert wait_for(lambda: rulebook.output().count("ddos.scrubbing: refused event") >= 3, timeout=30)
    time.sleep(3)
    assert not advertised(sandbox)
    assert rulebook.output().count("PLAY RECAP") == runs, "a refused event ran the playbook"
    assert set(ledger_incidents(rulebook.ledger, "prod")) == {"flowtriq-7001"}


def test_unsigned_or_badly_signed_flowtriq_is_refused(sandbox, rulebook):  # noqa: F811
    body, signature = flowtriq("attack_start", 7002)
    assert post(rulebook.flowtriq_url + "/prod", body) == 401
    assert post(rulebook.flowtriq_url + "/prod", body, {"X-Flowtriq-Signature": "sha256=" + "0" * 64}) == 401
    tampered = body.replace(b"203.0.113.7", b"198.51.100.1")
    assert post(rulebook.flowtriq_url + "/prod", tampered, {"X-Flowtriq-Signature": signature}) == 401
    assert post(rulebook.internal_url + "/incident", {"incident": {"id": "x", "status": "started"}}) == 401
    assert post(rulebook.internal_url + "/incident", {"incident": {"id": "x", "status": "started"}},
                {"Authorization": "Bearer wrong-token-wrong-token"}) == 401
    assert wait_for(lambda: "5 unauthenticated so far" in rulebook.output(), timeout=10), rulebook.output()[-2000:]
    assert sandbox.requests() == [], "a refused event runs nothing"


def test_unmatched_and_malformed_events_are_logged_counted_and_dropped(sandbox, rulebook):  # noqa: F811
    body, signature = flowtriq("attack_start", 7010)
    typo, typo_signature = flowtriq("attack_started_typo", 7011)
    cases = [  # (url, body, headers, status, what the reason says)
        (rulebook.flowtriq_url + "/default/", body, {"X-Flowtriq-Signature": signature}, 404, "no rule for /flowtriq/default/"),
        (rulebook.internal_url + "/incidents", {"incident": {"id": "x", "status": "started"}}, AUTH, 404,
         "no rule for /incidents"),
        (rulebook.flowtriq_url + "/prod", typo, {"X-Flowtriq-Signature": typo_signature}, 422,
         "unknown Flowtriq event_type 'attack_started_typo'"),
        # a Flowtriq-shaped event on the internal listener skipped the signature check: not Flowtriq
        (rulebook.internal_url + "/incident", body, AUTH, 422, "a Flowtriq event on the internal listener"),
        (rulebook.internal_url + "/incident", {"incident": {"id": "x", "status": "exploded"}}, AUTH, 422,
         "incident.status must be 'started', 'updated' or 'resolved'"),
        (rulebook.internal_url + "/fastnetmon/prod", {"nothing": "useful"}, AUTH, 422, "the body must be"),
        (rulebook.internal_url + "/incident", b"not json", AUTH, 400, "not JSON"),
    ]
    for url, payload, headers, status, reason in cases:
        got, answer = post(url, payload, headers, answer=True)
        assert got == status and reason in answer["reason"], (url, got, answer)
    assert wait_for(lambda: "refused event %d on the" % len(cases) in rulebook.output(), timeout=30), \
        rulebook.output()[-3000:]
    log = rulebook.output()
    for path in ("/flowtriq/default/", "/incidents", "/flowtriq/prod", "/incident", "/fastnetmon/prod"):
        assert path + ":" in log, path
    assert sandbox.requests() == [] and "PLAY [" not in log


def test_templates_in_every_field_are_data_from_every_source(sandbox, rulebook, tmp_path):  # noqa: F811
    """Flowtriq (signed), the generic /incident and the FastNetMon adapter, each with templates and
    lookups in the fields that take free text: the ledger holds the characters, nothing runs. An id
    with a template is refused (it is not a name), never rendered into one."""
    marker = tmp_path / "pwned"
    lookup = "{{ lookup('pipe', 'touch %s') }}" % marker
    flow = flowtriq("attack_start", 7100, incident={"title": lookup, "severity": "{{ 7*7 }}",
                                                    "ai_summary": "{{ hostvars }}", "dashboard_url": lookup},
                    node={"name": "{% for x in range(3) %}{{ x }}{% endfor %}"})
    assert signed(rulebook, *flow, workspace="quiet")[0] == 202
    generic = {"incident": {"id": "G-7", "status": "started", "workspace": "quiet", "source": "webhook",
                            "target": "198.51.100.9", "details": {"note": lookup, "n": "{{ 7*7 }}", "extra": lookup}}}
    # a field of its own outside details is refused (issue 16), so a typo never drops a field silently
    status, answer = post(rulebook.internal_url + "/incident",
                          {"incident": dict(generic["incident"], id="G-8", extra=lookup)}, AUTH, answer=True)
    assert status == 422 and "incident.extra is not an incident field" in answer["reason"], answer
    assert post(rulebook.internal_url + "/incident", generic, AUTH) == 202
    report = "Attack type: %s\nAttack protocol: {{ 7*7 }}\nIP: 203.0.113.7\n" % lookup
    env = dict(adapter_env(rulebook, tmp_path), DDOS_SCRUBBING_WORKSPACE="quiet")
    subprocess.run([sys.executable, ADAPTER, "203.0.113.7", "incoming", "29754", "ban"], input=report.encode(),
                   env=env, check=True, timeout=30)
    assert "delivered (HTTP 202, queued)" in (tmp_path / "notify.log").read_text()

    status, answer = signed(rulebook, *flowtriq("attack_start", "{{ 3*3 }}"), workspace="quiet")
    assert status == 422 and "incident.id 'flowtriq-{{ 3*3 }}'" in answer["reason"], answer
    status, answer = post(rulebook.internal_url + "/incident", {"incident": {"id": "T-{{ 7*7 }}", "status": "started"}},
                          AUTH, answer=True)
    assert status == 422 and "incident.id 'T-{{ 7*7 }}'" in answer["reason"], answer

    def recorded():
        incidents = ledger_incidents(rulebook.ledger, "quiet")
        return len(incidents) == 3 and incidents
    incidents = wait_for(recorded, timeout=120)
    assert incidents, rulebook.output()[-3000:]
    text = {name: json.dumps(record) for name, record in incidents.items()}
    fastnetmon = next(name for name in incidents if name.startswith("fastnetmon-203.0.113.7-"))
    for name, literals in (("flowtriq-7100", [lookup, "{{ 7*7 }}", "{{ hostvars }}", "{% for x in range(3) %}"]),
                           ("G-7", [lookup, "{{ 7*7 }}"]), (fastnetmon, [lookup, "{{ 7*7 }}"])):
        for literal in literals:
            assert json.dumps(literal)[1:-1] in text[name], (name, literal, text[name])
    assert not marker.exists(), "a lookup in an event ran on the controller"

    # What a rendered template would have left ("012", "49"), looked for in the event's own
    # fields once the templates sent are taken out: the ledger's epoch times (started_at) and
    # the marker's path in the lookup (pytest-494) may contain those digits by chance.
    def residue(name, sent):
        text = json.dumps({k: v for k, v in incidents[name].items() if not k.endswith("_at")})
        for literal in sent:
            text = text.replace(json.dumps(literal)[1:-1], "")
        return text
    assert "012" not in residue("flowtriq-7100", [lookup, "{% for x in range(3) %}{{ x }}{% endfor %}"])
    assert "49" not in residue("G-7", [lookup, "{{ 7*7 }}"]), residue("G-7", [lookup, "{{ 7*7 }}"])
    assert "Traceback" not in rulebook.output()


def test_events_are_acknowledged_at_once_and_kept_in_order(sandbox, rulebook):  # noqa: F811
    """Starts and ends posted back to back, in two workspaces: all answered 202 at once, and each
    workspace's events recorded in the order sent (an end overtaking its start would leave the
    incident open)."""
    sent = []
    for n in range(3):
        for workspace in ("wsa", "wsb"):
            sent.append(signed(rulebook, *flowtriq("attack_start", "%s%d" % (workspace, n)), workspace=workspace))
            if n < 2:
                sent.append(signed(rulebook, *flowtriq("attack_end", "%s%d" % (workspace, n)), workspace=workspace))
    assert [status for status, _answer in sent] == [202] * len(sent), sent

    def states():
        result = {}
        for workspace in ("wsa", "wsb"):
            for name, record in ledger_incidents(rulebook.ledger, workspace).items():
                result[name] = record.get("status")
        return len(result) == 6 and all(
            result.get("flowtriq-%s%d" % (w, n)) not in (None, "active") for w in ("wsa", "wsb") for n in (0, 1)) \
            and result
    final = wait_for(states, timeout=240)
    assert final, (ledger_incidents(rulebook.ledger, "wsa"), ledger_incidents(rulebook.ledger, "wsb"),
                   rulebook.output()[-3000:])
    assert final["flowtriq-wsa2"] == final["flowtriq-wsb2"] == "active"
    assert "unknown in workspace" not in rulebook.output(), "an end was handled before its start"


def test_generic_incident_and_fastnetmon_adapter(sandbox, rulebook, tmp_path):  # noqa: F811
    assert post(rulebook.internal_url + "/incident",
                {"incident": {"id": "G1", "status": "started", "workspace": "prod", "timestamp": now_iso()}},
                AUTH) == 202
    assert wait_for(lambda: advertised(sandbox), timeout=90), rulebook.output()[-3000:]
    env = adapter_env(rulebook, tmp_path)
    subprocess.run([sys.executable, ADAPTER, "203.0.113.7", "incoming", "29754", "ban"],
                   input=b"Attack type: syn_flood\nAttack protocol: tcp\n", env=env, check=True, timeout=30)
    assert wait_for(lambda: "fastnetmon-203.0.113.7-" in rulebook.output(), timeout=60)
    assert post(rulebook.internal_url + "/incident",
                {"incident": {"id": "G1", "status": "resolved", "workspace": "prod"}}, AUTH) == 202
    # the resolve may share a run with the FastNetMon event (a busy workspace's events are batched)
    assert wait_for(lambda: (ledger_incidents(rulebook.ledger, "prod").get("G1") or {}).get("status") == "resolved",
                    timeout=90), rulebook.output()[-3000:]
    assert advertised(sandbox), "the FastNetMon incident of the workspace is still active"
    subprocess.run([sys.executable, ADAPTER, "203.0.113.7", "incoming", "0", "unban"], env=env, check=True,
                   stdin=subprocess.DEVNULL, timeout=30)
    assert wait_for(lambda: not advertised(sandbox), timeout=90), rulebook.output()[-3000:]
    fastnetmon = [r for name, r in ledger_incidents(rulebook.ledger, "prod").items() if name.startswith("fastnetmon-")]
    assert len(fastnetmon) == 1 and "syn_flood" in json.dumps(fastnetmon[0]), fastnetmon
