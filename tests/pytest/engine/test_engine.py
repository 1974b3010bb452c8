"""The engine in-process, with providers that hang, fail or succeed on command: one slow
provider never holds back another, what lands is reported even when the ledger fails, and
refused events touch nothing."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger import file as _ledger
from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Provider
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.operations import Orchestrator
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import validate_incident
from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import Integration
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.file import FileLedger

WORLD = {}  # name -> {"on": bool, "writes": [(time, on)], "gate": Event or None}


class Switch(Provider):
    """A provider that is a switch; ``gate`` (an Event) makes its reads hang until set."""

    name = "switch"
    title = "the test switch"
    options = {"key": {"type": "str"}}

    def read(self):
        box = WORLD[self.params["key"]]
        if box.get("gate") is not None:
            box["gate"].wait(30)
        if box.get("on_read") is not None:
            box["on_read"](self.params["key"])
        return {"on": box["on"]}

    def is_active(self, state):
        return state["on"]

    def snapshot(self, state):
        return {"on": state["on"]}

    def activation(self, state, snapshot):
        return {"on": True}

    def restoration(self, state, snapshot):
        return {"on": snapshot["on"]}

    def release(self, state):
        return {"on": False}

    def apply(self, state, wanted):
        box = WORLD[self.params["key"]]
        if box.get("barrier") is not None:
            box["barrier"].wait(10)
        if box.get("before_write") is not None:
            box["before_write"](self.params["key"])
        box["on"] = wanted["on"]
        box["writes"].append((time.monotonic(), wanted["on"]))
        return {"on": box["on"]}


def switches(*names):
    WORLD.clear()
    out = []
    for name in names:
        WORLD[name] = {"on": False, "writes": [], "gate": None}
        out.append(Integration(name, Switch, {"key": name, "wait": False, "wait_timeout": 1}, "default", True, [], []))
    return out


def started(incident_id="A", **extra):
    return validate_incident(dict({"id": incident_id, "status": "started"}, **extra))


def test_a_hung_provider_holds_back_nobody(tmp_path):
    integrations = switches("healthy-1", "healthy-2", "hung")
    WORLD["hung"]["gate"] = threading.Event()
    orch = Orchestrator(integrations, FileLedger(str(tmp_path / "l.json")), deadline=2)
    report = orch.incident(started())
    released_at = time.monotonic()
    WORLD["hung"]["gate"].set()
    assert WORLD["healthy-1"]["on"] and WORLD["healthy-2"]["on"]
    # the healthy writes landed while the hung read was still blocked (it would block 30 s)
    assert all(at < released_at for box in ("healthy-1", "healthy-2") for at, _on in WORLD[box]["writes"])
    hung = report["integrations"]["hung"]
    assert hung["pending"] and "still reading switch" in hung["msg"] and "reconcile" in hung["msg"]
    assert report["failed"] == ["hung"]
    doc = FileLedger(str(tmp_path / "l.json")).read()
    assert doc["integrations"]["healthy-1"]["active"] and doc["integrations"]["healthy-1"]["claim"] is None


def test_reconcile_finishes_what_the_deadline_left_pending(tmp_path):
    integrations = switches("a", "slow")
    WORLD["slow"]["gate"] = threading.Event()
    ledger = FileLedger(str(tmp_path / "l.json"))
    Orchestrator(integrations, ledger, deadline=1).incident(started())
    WORLD["slow"]["gate"].set()
    time.sleep(0.2)  # the abandoned pipeline finishes in the background of this test process
    WORLD["slow"]["gate"] = None
    report = Orchestrator(integrations, ledger, deadline=10).reconcile()
    assert not report["failed"] and WORLD["slow"]["on"]


def test_writes_that_landed_are_reported_when_the_ledger_fails(tmp_path, monkeypatch):
    integrations = switches("a", "b")
    # both writes go out once both intents are recorded: the full disk then hits two outcomes
    # (a full disk also refuses an intent committed with them, and then nothing is written)
    WORLD["a"]["barrier"] = WORLD["b"]["barrier"] = threading.Barrier(2)
    ledger = FileLedger(str(tmp_path / "l.json"))
    real = ledger._replace
    calls = []

    def replace(doc):
        calls.append(1)
        if any(r.get("pending") is None and r.get("active") for r in doc["integrations"].values()):
            raise _ledger.ProviderError("ledger", "cannot write %s (No space left on device)" % ledger.path)
        return real(doc)
    monkeypatch.setattr(ledger, "_replace", replace)
    report = Orchestrator(integrations, ledger, deadline=5).incident(started())
    assert WORLD["a"]["on"] and WORLD["b"]["on"]
    assert report["changed"] is True
    for name in ("a", "b"):
        row = report["integrations"][name]
        assert row["failed"] and row["changed"] and "write LANDED (activated)" in row["msg"], row
        assert "No space left" in row["msg"]


def test_refused_events_write_nothing(tmp_path):
    integrations = switches("a")
    ledger = FileLedger(str(tmp_path / "l.json"))
    orch = Orchestrator(integrations, ledger, event_window=300)
    now = time.time()
    orch.incident(started("A", delivery="sig-1", timestamp=now))
    WORLD["a"]["writes"].clear()
    with pytest.raises(InputError, match="already received .* a replayed event"):
        orch.incident(started("B", delivery="sig-1", timestamp=now))
    with pytest.raises(InputError, match="outside the 300 s window"):
        orch.incident(started("C", timestamp=now - 7 * 86400))
    orch.incident(validate_incident({"id": "A", "status": "resolved"}))
    assert not WORLD["a"]["on"]
    with pytest.raises(InputError, match="incident A was resolved at .* closed; a detector opens a new incident"):
        orch.incident(started("A"))
    assert [on for _at, on in WORLD["a"]["writes"]] == [False], "only the withdrawal was written"
    assert set(ledger.read()["workspaces"]["default"]["incidents"]) == {"A"}


@pytest.mark.parametrize("field, value", [
    ("id", "T-{{ 7*7 }}"), ("id", "{{ lookup('pipe', 'id -u') }}"), ("workspace", "{{ ws }}"), ("workspace", ""),
    ("source", "{% raw %}"), ("id", "x" * 200), ("target", "{{ target }}"), ("status", "begun"),
    ("timestamp", "yesterday"), ("id", ["A", "B"]),
])
def test_incident_fields_have_strict_shapes(field, value):
    incident = {"id": "A1", "status": "started", field: value}
    with pytest.raises(InputError) as caught:
        validate_incident(incident)
    assert "refused: incident.%s" % field in str(caught.value) and "Nothing was recorded" in str(caught.value)


def test_a_workspace_without_integrations_is_warned_about(tmp_path):
    orch = Orchestrator(switches("a"), FileLedger(str(tmp_path / "l.json")))
    orch.incident(validate_incident({"id": "A", "status": "started", "workspace": "prodution"}))
    assert any("workspace 'prodution' has no integration" in w and "default" in w for w in orch.warnings)
    assert not WORLD["a"]["on"]
