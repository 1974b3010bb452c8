"""The feed: the run a batch starts takes in its workspace's next events from the event source.

Driven here as a run would, over the source's real Unix socket, with the JSON lines that
plugins/plugin_utils/_feed.py documents written out by hand:
- a run that claims its batch's lease gets the events queued since, in order; while it takes
  them no batch of that workspace goes to the rules, and once it ends the next one goes at once;
- events a run took and did not say it recorded (killed, its connection broken) go first in the
  next batch: nothing is lost;
- only the lease of the workspace's newest batch can be claimed: a run never records events
  ahead of a batch queued behind it on the workspace's lock;
- a lone event's run is answered at once, not after a second of waiting for another.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time

from conftest import run_playbook
from eda_helpers import INTERNAL_TOKEN, event_source_module, ledger_incidents, now_iso, post, wait_for
from eda_helpers import rulebook  # noqa: F401 pylint: disable=unused-import
from processes import descendants, kill_tree

WORKSPACE = "prod"
AUTH = {"Authorization": "Bearer " + INTERNAL_TOKEN}


def incident(name):
    return {"id": name, "status": "started", "workspace": WORKSPACE, "target": "203.0.113.7", "source": "flowtriq",
            "received": time.time()}


class Source:
    """The event source's Intake with its feed socket, in this test's event loop."""

    def __init__(self, module, batch_window):
        self.module = module
        self.rules = asyncio.Queue()
        self.intake = module.Intake(self.rules, window=300, batch_window=batch_window)
        self.intake.loop = asyncio.get_running_loop()

    async def __aenter__(self):
        self.server = await self.module.open_feed(self.intake)
        self.feeding = asyncio.ensure_future(self.intake.feed())
        return self

    async def __aexit__(self, *exc):
        self.feeding.cancel()
        self.server.close()

    def arrive(self, *names, listener="flowtriq"):
        for name in names:
            self.intake.accept(listener, "%s/%s" % (listener, WORKSPACE), "incident", incident=incident(name))

    async def run_that_took(self, *names):
        """The run of a first batch ["A"], which claimed the feed and took ``names`` (queued as it started)."""
        self.arrive("A")
        _first, feed = await self.batch()
        self.arrive(*names)
        await asyncio.sleep(0.05)
        run = await Run().connect(feed)
        assert await run.ids() == list(names), "the run takes what queued while it started, in order"
        return run

    async def batch(self, timeout=3.0):
        """The next batch handed to the rules: (incident ids, its feed), or None when none goes in ``timeout``."""
        try:
            event = await asyncio.wait_for(self.rules.get(), timeout)
        except asyncio.TimeoutError:
            return None
        event = event["ddos_scrubbing"]
        self.last = event["incidents"]
        return [i["id"] for i in event["incidents"]], event["feed"]


class Run:
    """A playbook run's side of the feed, written from the protocol, not from the product's client."""

    async def connect(self, feed):
        """Connect and claim the lease: the answer, {"claimed": true} or why not."""
        self.lease = feed["lease"]
        self.reader, self.writer = await asyncio.open_unix_connection(feed["socket"])
        self.claimed = await self.say("claim")
        return self

    async def say(self, ask):
        self.writer.write(json.dumps({"ask": ask, "lease": self.lease}).encode() + b"\n")
        await self.writer.drain()
        if ask == "end":
            return None
        line = await asyncio.wait_for(self.reader.readline(), 10)
        return json.loads(line) if line else None

    async def ids(self):
        answer = await self.say("more")
        return [i["id"] for i in answer["incidents"]]

    def drop(self):
        """The run is killed: its connection ends without another word."""
        self.writer.transport.abort()


def play(scenario, batch_window=0.2, linger=0.3, claim_wait=0.6):
    module = event_source_module()
    module.FEED_LINGER, module.CLAIM_WAIT = linger, claim_wait

    async def main():
        async with Source(module, batch_window) as source:
            await scenario(source)
    asyncio.run(main())


def test_a_run_takes_its_workspaces_next_events_and_holds_its_batches_meanwhile():
    async def scenario(source):
        source.arrive("A")
        first, feed = await source.batch()
        assert first == ["A"], "an idle workspace's event goes at once"
        assert stat.S_IMODE(os.stat(feed["socket"]).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(feed["socket"])).st_mode) == 0o700
        source.arrive("B", "C")
        await asyncio.sleep(0.05)
        run = await Run().connect(feed)
        assert await run.ids() == ["B", "C"], "the run takes what queued while it started, in order"
        source.arrive("D")
        assert await source.batch(timeout=4 * source.intake.batch_window) is None, \
            "while a run takes the workspace's events, no batch of it goes to the rules"
        assert await run.ids() == ["D"]
        started = time.monotonic()
        assert await run.ids() == [], "quiet: the run is told to end"
        assert time.monotonic() - started >= 0.25, "a run that took events waits FEED_LINGER for the next one"
        await asyncio.sleep(0.05)
        source.arrive("E")
        assert (await source.batch(timeout=1.0))[0] == ["E"], "once the run ended, the next event goes at once"
    play(scenario)


def test_events_a_run_took_but_did_not_record_go_first_in_the_next_batch():
    async def scenario(source):
        run = await source.run_that_took("B", "C")
        source.arrive("D")
        await asyncio.sleep(0.05)
        run.drop()
        again, _feed = await source.batch()
        assert again == ["B", "C", "D"], "taken, not recorded: they go again, ahead of what came after"
        assert [i.get("redelivered", False) for i in source.last] == [True, True, False], \
            "what goes again says so: the ledger may hold it already (a note there, not a replay)"
    play(scenario)


def test_a_detector_cannot_say_an_event_is_redelivered():
    intake = event_source_module().Intake(queue=None, window=300)
    sent = {"id": "A", "status": "started", "workspace": WORKSPACE, "target": "203.0.113.7", "redelivered": True}
    event = intake.internal("incident", None, {"incident": sent}, time.time())
    assert "redelivered" not in event


def test_what_a_run_recorded_is_not_sent_again():
    async def scenario(source):
        run = await source.run_that_took("B")
        await run.say("end")
        await asyncio.sleep(0.05)
        source.arrive("C")
        assert (await source.batch())[0] == ["C"]
    play(scenario)


def test_events_wait_for_the_run_of_the_newest_batch_to_claim_them_for_a_while():
    """A run starts in a second, several at once on a busy machine in a few: meanwhile the
    workspace's events wait for it, instead of a batch each window whose lease supersedes its own
    (eight workspaces on two cores were 54 runs). One that never claims holds them CLAIM_WAIT."""
    async def scenario(source):
        source.arrive("A")
        _first, feed = await source.batch()
        source.arrive("B")
        assert await source.batch(timeout=2 * source.intake.batch_window) is None, \
            "the newest batch's run has not claimed the feed yet: its workspace's events wait for it"
        run = await Run().connect(feed)
        assert await run.ids() == ["B"]
        await run.say("end")
        await asyncio.sleep(0.05)
        source.arrive("C")
        _second, unclaimed = await source.batch()
        source.arrive("D")
        started = time.monotonic()
        third, _feed = await source.batch()
        assert third == ["D"] and time.monotonic() - started >= 0.5, \
            "a run that never claims holds the events CLAIM_WAIT, then they go to a run of their own"
        late = await Run().connect(unclaimed)
        assert "later batch" in late.claimed["end"]
    play(scenario, claim_wait=0.6)


def test_only_the_newest_batch_of_a_workspace_can_be_claimed():
    async def scenario(source):
        source.arrive("A")
        _first, older = await source.batch()
        await asyncio.sleep(source.module.CLAIM_WAIT + 0.05)
        source.arrive("B")
        second, newer = await source.batch()
        assert second == ["B"]
        source.arrive("C")
        await asyncio.sleep(0.05)
        late = await Run().connect(older)
        assert "later batch" in late.claimed["end"], \
            "a run whose batch has another queued behind it must not take that one's successors"
        run = await Run().connect(newer)
        assert run.claimed == {"claimed": True}
        assert await run.ids() == ["C"]
        again = await Run().connect(newer)
        assert "claimed" in again.claimed["end"], "a lease is claimed once"
    play(scenario)


def test_a_run_ends_when_the_other_listeners_events_of_its_workspace_wait_for_its_lock():
    """Both listeners' runs of a workspace share its lock: a run lingering for more of its own
    listener's events would hold the other's batch back, so it is told to end at once."""
    async def scenario(source):
        run = await source.run_that_took("B")
        asking = asyncio.ensure_future(run.ids())
        await asyncio.sleep(0.1)
        source.arrive("F1", listener="internal")
        other, _feed = await source.batch()
        assert other == ["F1"]
        started = time.monotonic()
        assert await asyncio.wait_for(asking, 5) == []
        assert time.monotonic() - started < 0.5, "the run is told to end, not left to linger"
    play(scenario, linger=2.0)


def test_a_batch_of_the_other_listener_that_never_claimed_stops_holding_back_after_claim_wait():
    async def scenario(source):
        source.arrive("F1", listener="internal")
        await source.batch()  # its run never claims the feed (killed before its task)
        await asyncio.sleep(source.module.CLAIM_WAIT + 0.1)
        run = await source.run_that_took("B")
        started = time.monotonic()
        assert await run.ids() == []
        assert time.monotonic() - started >= 0.25, \
            "a batch whose run never claimed is not waiting on the lock for ever: the run lingers as usual"
    play(scenario, claim_wait=0.3)


def test_a_lone_events_run_is_answered_at_once():
    async def scenario(source):
        source.arrive("A")
        _first, feed = await source.batch()
        run = await Run().connect(feed)
        started = time.monotonic()
        assert await run.ids() == []
        assert time.monotonic() - started < 0.2, "a run that has taken nothing yet is not kept waiting"
    play(scenario, linger=1.0)


# -- the run's side, through the incident playbook ------------------------------------------------

class FakeFeed(threading.Thread):
    """The source's end of the feed, written from the protocol: answers each ask with the next of
    ``answers`` (then []), and notes what the ledger held when each ask came."""

    def __init__(self, where, ledger, answers):
        super().__init__(daemon=True)
        self.ledger, self.answers, self.asks, self.connected = ledger, list(answers), [], threading.Event()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(where)
        self.server.listen(1)
        self.server.settimeout(120)

    def run(self):
        try:
            conn, _addr = self.server.accept()
        except OSError:
            return
        self.connected.set()
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                ask = json.loads(line)
                self.asks.append((ask, sorted((ledger_incidents(self.ledger, WORKSPACE) or {}).items())))
                if ask["ask"] == "claim":
                    conn.sendall(b'{"claimed": true}\n')
                    continue
                if ask["ask"] != "more":
                    return
                batch = self.answers.pop(0) if self.answers else []
                conn.sendall(json.dumps({"incidents": batch}).encode() + b"\n")
                if not batch:
                    return

    def stop(self):
        self.server.close()


def event(name, status):
    return {"id": name, "status": status, "workspace": WORKSPACE, "target": "203.0.113.9", "source": "fastnetmon"}


def feed_run(tmp_path, answers, check=False):
    ledger = tmp_path / "ledger.json"
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"vars": {"scrubbing_state_file": str(ledger)}}}))
    where = tempfile.mkdtemp(prefix="feed-")  # short: AF_UNIX paths are
    fake = FakeFeed(os.path.join(where, "feed.sock"), str(ledger), answers)
    fake.start()
    try:
        proc = run_playbook("incident", None, ledger, inventory=str(inventory), check=check, extra={
            "incidents": [event("A", "started")],
            "incident_feed": {"socket": os.path.join(where, "feed.sock"), "lease": "a-lease"}})
    finally:
        fake.stop()
        fake.join(10)
        shutil.rmtree(where, ignore_errors=True)
    return proc, fake, str(ledger)


def test_the_run_records_what_it_is_fed_in_order_and_asks_again_only_once_recorded(tmp_path):
    proc, fake, ledger = feed_run(tmp_path, [[event("B", "started"), event("B", "resolved")], [event("C", "started")]])
    assert proc.returncode == 0, proc.output[-3000:]
    incidents = ledger_incidents(ledger, WORKSPACE)
    assert {name: i["status"] for name, i in incidents.items()} == {"A": "active", "B": "resolved", "C": "active"}, \
        "every event fed to the run is recorded, each workspace's in the order given"
    asks = [(ask["lease"], ask["ask"], [name for name, _i in held]) for ask, held in fake.asks]
    assert asks == [("a-lease", "claim", []),
                    ("a-lease", "more", ["A"]),
                    ("a-lease", "more", ["A", "B"]),
                    ("a-lease", "more", ["A", "B", "C"])], \
        "the run claims the feed before it records anything (the workspace's events then wait for it), and " \
        "each ask comes once what was fed before is in the ledger (the source forgets only then)"
    assert dict(fake.asks[2][1])["B"]["status"] == "resolved"
    for name in ("A", "B", "C"):
        assert "incident %s" % name in proc.output, "the run's summary tells each event it recorded"


def test_a_redelivered_event_the_ledger_holds_is_a_note_and_a_replay_is_refused(tmp_path):
    """A run killed in the middle of a fed event: the source sends it again, marked; the ledger
    holds it already, so the next run notes it and succeeds. The same delivery unmarked is a replay."""
    ledger = tmp_path / "ledger.json"
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"vars": {"scrubbing_state_file": str(ledger)}}}))
    first = dict(event("R", "started"), delivery="d-1", received=time.time())
    proc = run_playbook("incident", None, ledger, inventory=str(inventory),
                        extra={"incidents": [first, dict(first, redelivered=True)]})
    assert proc.returncode == 0, proc.output[-3000:]
    assert "already recorded at" in proc.output and "nothing new" in proc.output
    replay = run_playbook("incident", None, ledger, inventory=str(inventory), extra={"incidents": [first]})
    assert replay.returncode != 0 and "a replayed event" in replay.output, replay.output[-3000:]
    assert ledger_incidents(str(ledger), WORKSPACE)["R"]["events"] == 1, "counted once"


def test_check_mode_takes_nothing_from_the_feed(tmp_path):
    proc, fake, ledger = feed_run(tmp_path, [[event("B", "started")]], check=True)
    assert proc.returncode == 0, proc.output[-3000:]
    assert not fake.connected.is_set(), "a --check run records nothing, so it must not take events the source forgets"
    assert not os.path.exists(ledger)


# -- through ansible-rulebook ----------------------------------------------------------------------

def generic(rulebook, name, status, workspace):  # noqa: F811
    incident = {"id": name, "status": status, "workspace": workspace, "timestamp": now_iso()}
    if status == "started":
        incident["target"] = "203.0.113.7"
    assert post(rulebook.internal_url + "/incident", {"incident": incident}, AUTH) == 202


def runs(rulebook):  # noqa: F811
    return rulebook.output().count("PLAY RECAP")


def test_a_storm_in_one_workspace_is_taken_in_by_the_run_going(rulebook):  # noqa: F811
    """50 events over 4 s, starts and ends interleaved: batches alone would take a run every
    batch_window (2 s), three or four; the run the first starts takes in the rest, in order."""
    expected = {}
    for n in range(40):
        generic(rulebook, "S%d" % n, "started", "calm")
        expected["S%d" % n] = "active"
        if n >= 30:
            generic(rulebook, "S%d" % (n - 30), "resolved", "calm")
            expected["S%d" % (n - 30)] = "resolved"
        time.sleep(0.1)

    def states():
        found = {name: i["status"] for name, i in ledger_incidents(rulebook.ledger, "calm").items()}
        return found == expected and found
    assert wait_for(states, timeout=120), (ledger_incidents(rulebook.ledger, "calm"), rulebook.output()[-3000:])
    assert wait_for(lambda: runs(rulebook) >= 1, timeout=60)
    time.sleep(2.0)  # a run still going would end within the feed's linger
    assert runs(rulebook) <= 2, "%d playbook runs for one workspace's storm:\n%s" % (
        runs(rulebook), rulebook.output()[-3000:])
    assert "unknown in workspace" not in rulebook.output(), "an end was recorded before its start"


def test_events_that_waited_for_a_run_that_was_killed_go_to_the_next_run(sandbox, rulebook):  # noqa: F811
    """A run hangs on a provider and is killed (a job timeout, an operator): the workspace's events
    that came meanwhile waited for it, and must go to the next run instead of waiting forever."""
    sandbox.add_fault(provider="cloudflare", hold=True, count=-1, name="hang")
    generic(rulebook, "K0", "started", "prod")
    assert sandbox.wait_held("hang", timeout=120), rulebook.output()[-3000:]
    generic(rulebook, "K1", "started", "prod")
    generic(rulebook, "K2", "started", "prod")
    time.sleep(1.0)
    assert set(ledger_incidents(rulebook.ledger, "prod")) == {"K0"}, "K1 and K2 wait for the run going"
    playbooks = [pid for pid in descendants(rulebook.proc.pid) if b"ansible-playbook" in _cmdline(pid)]
    assert playbooks, "no playbook run under the rulebook"
    for pid in playbooks:
        kill_tree(pid)
    sandbox.release("hang")

    def recorded():
        return {"K1", "K2"} <= set(ledger_incidents(rulebook.ledger, "prod"))
    assert wait_for(recorded, timeout=120), (ledger_incidents(rulebook.ledger, "prod"), rulebook.output()[-3000:])


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read()
    except OSError:
        return b""
