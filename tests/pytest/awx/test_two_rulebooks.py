"""Two ansible-rulebook instances on one PostgreSQL ledger, each receiving part of the events
(a detector configured with both URLs, or a load balancer in front).

Each instance runs a workspace's events one at a time, but nothing orders the two instances:
only the ledger does. The same guarantees as for AWX jobs: no lost update, every workspace's
integration active exactly while one of its incidents is open, never withdrawn while another
incident of the workspace is open, replays refused across instances.
"""

from __future__ import annotations

import json
import threading

import pytest

from awx_jobs import ORIGINAL_LEVEL, pg, read_ledger_doc, write_inventory, zones_scenario  # noqa: F401 pylint: disable=unused-import
from eda.eda_helpers import INTERNAL_TOKEN, now_iso, post, start_rulebook, stop_rulebook, wait_for

WORKSPACES = ("rb-a", "rb-b")
ZONES = {ws: "%032x" % (0xb0 + i) for i, ws in enumerate(WORKSPACES)}
AUTH = {"Authorization": "Bearer " + INTERNAL_TOKEN}
WAVES, PER_WAVE = 2, 3


@pytest.fixture
def two_rulebooks(sandbox, pg, tmp_path):
    sandbox.reset(zones_scenario(ZONES))
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(write_inventory(ZONES, sandbox.url)))
    # Both instances get the ledger and the credentials from their environment, as a rulebook
    # activation gets them from its credentials.
    env = {"SCRUBBING_LEDGER_DSN": pg.dsn, "CLOUDFLARE_API_TOKEN": "sandbox-cf-token-rw"}
    books = []
    try:
        for name in ("rb1", "rb2"):
            (tmp_path / name).mkdir()
            books.append(start_rulebook(tmp_path / name, str(inventory), env=env))
        yield books
    finally:
        for book in books:
            stop_rulebook(book.proc)


def send(book, ws, incident_id, status, delivery):
    event = {"incident": {"id": incident_id, "status": status, "workspace": ws, "delivery": delivery,
                          "timestamp": now_iso()}}
    return post(book.internal_url + "/incident", event, AUTH)


def level(sandbox, ws):
    return sandbox.state()["cloudflare"]["zones"][ZONES[ws]]["security_level"]


def test_two_rulebooks_share_the_ledger(sandbox, pg, two_rulebooks):
    books = two_rulebooks
    plan = {ws: [["%s-w%d-i%d" % (ws, w, i) for i in range(PER_WAVE)] for w in range(WAVES)] for ws in WORKSPACES}

    def incidents(ws):
        doc = read_ledger_doc(pg.dsn) or {"workspaces": {}}
        return (doc["workspaces"].get(ws) or {}).get("incidents", {})

    def burst(calls):
        """Send at once (one thread per call): the two instances race."""
        answers = [None] * len(calls)

        def one(i, call):
            answers[i] = send(*call)
        threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return answers

    for wave in range(WAVES):
        # Starts, split between the instances, each replayed to the other instance.
        calls = []
        for ws in WORKSPACES:
            for i, incident_id in enumerate(plan[ws][wave]):
                calls.append((books[i % 2], ws, incident_id, "started", incident_id + "-s"))
                calls.append((books[(i + 1) % 2], ws, incident_id, "started", incident_id + "-s"))
        assert set(burst(calls)) == {202}
        for ws in WORKSPACES:
            assert wait_for(lambda ws=ws: all(incidents(ws).get(i, {}).get("status") == "active"
                                              for i in plan[ws][wave]), timeout=180), (ws, incidents(ws))
            assert wait_for(lambda ws=ws: level(sandbox, ws) == "under_attack", timeout=60), ws
        # Resolutions race each other on both instances; a late start follows each one.
        calls = [(books[i % 2], ws, incident_id, "resolved", incident_id + "-r")
                 for ws in WORKSPACES for i, incident_id in enumerate(plan[ws][wave])]
        assert set(burst(calls)) == {202}
        for ws in WORKSPACES:
            assert wait_for(lambda ws=ws: all(incidents(ws).get(i, {}).get("status") == "resolved"
                                              for i in plan[ws][wave]), timeout=180), (ws, incidents(ws))
        late = [(books[(i + 1) % 2], ws, incident_id, "started", incident_id + "-late")
                for ws in WORKSPACES for i, incident_id in enumerate(plan[ws][wave])]
        assert set(burst(late)) == {202}
        for ws in WORKSPACES:
            assert wait_for(lambda ws=ws: level(sandbox, ws) == ORIGINAL_LEVEL, timeout=60), ws
    # Every replay (sent to the other instance) and every late start was refused by the ledger.
    ids = [i for ws in WORKSPACES for wave in plan[ws] for i in wave]

    def refusals():
        out = "".join(b.output() for b in books)
        return ([i for i in ids if "incident %s (started): this delivery was already received" % i not in out],
                [i for i in ids if "incident %s was resolved at" % i not in out])
    assert wait_for(lambda: refusals() == ([], []), timeout=180), refusals()

    doc = read_ledger_doc(pg.dsn)
    for ws in WORKSPACES:
        records = doc["workspaces"][ws]["incidents"]
        assert set(records) == {i for wave in plan[ws] for i in wave}, (ws, sorted(records))
        writes = [e for e in sandbox.requests("cloudflare", writes_only=True) if "/zones/%s/" % ZONES[ws] in e["path"]]
        assert all(w["status"] == 200 for w in writes), writes
        # One activation and one withdrawal per wave, in that order.
        assert [w["body"]["value"] for w in writes] == ["under_attack", ORIGINAL_LEVEL] * WAVES, writes
        for wave in range(WAVES):
            recs = [records[i] for i in plan[ws][wave]]
            on, off = writes[2 * wave]["time"], writes[2 * wave + 1]["time"]
            # Activated after the first start was recorded; withdrawn only after the last
            # resolution was recorded (never while another incident of the workspace was open).
            assert on >= min(r["started_at"] for r in recs), (ws, wave)
            assert off >= max(r["resolved_at"] for r in recs), (ws, wave, off, [r["resolved_at"] for r in recs])
            for rec in recs:
                assert rec["status"] == "resolved" and rec["events"] == 1, rec  # replays and late starts refused
    for name, rec in doc["integrations"].items():
        assert not rec["active"] and not rec["pending"], (name, rec)
    # Both instances did part of the work. (How many runs says little: a run takes in its workspace's
    # next events from its own instance's feed.)
    for book in books:
        assert book.output().count("PLAY RECAP") >= 1, book.output()[-2000:]
        assert "incident event(s) of workspace rb-" in book.output(), book.output()[-2000:]
