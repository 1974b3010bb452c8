"""AWX jobs the way AWX runs them (ansible-runner transmit | worker | process), one job per
incident event, on two "execution nodes" sharing a PostgreSQL ledger.

Credentials reach the jobs only through our credential types' injectors (env/envvars), the
event only through the launch's extra vars (env/extravars), and every job gets a fresh HOME.
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest

from awx_jobs import (ORIGINAL_LEVEL, Job, Node, alive, injected_env, pg, read_ledger_doc,  # noqa: F401 pylint: disable=unused-import
                      write_inventory, zones_scenario)

CF_TOKEN = "sandbox-cf-token-rw"
# 48 events hold every property the suite once proved with 200 (about 5 minutes of one worker):
# four workspaces, two waves each (the quiet gap between waves), overlapping incidents in a wave,
# and each kind of extra (replay racing its original, retry, late start, duplicate resolution)
# four times. DDOS_AWX_EVENTS=200 runs the long version.
EVENTS = int(os.environ.get("DDOS_AWX_EVENTS", "48"))
WORKSPACES = ("ws-a", "ws-b", "ws-c", "ws-d")
# One Cloudflare zone (Under Attack Mode) per workspace: 32-hex ids, levels as before an incident.
ZONES = {ws: "%032x" % (0xa0 + i) for i, ws in enumerate(WORKSPACES + ("kw",))}


@pytest.fixture
def zones(sandbox):
    sandbox.reset(zones_scenario(ZONES))
    return sandbox


class Launcher:
    """AWX's part: a job per launch, its private data directory, its credentials' injectors."""

    def __init__(self, base, sandbox, pg):
        self.base = str(base)
        self.inventory = write_inventory(ZONES, sandbox.url)
        # The job template's two credentials, rendered as AWX renders injectors.
        self.envvars = dict(injected_env("cloudflare.yml", {"api_token": CF_TOKEN}),
                            **injected_env("ledger.yml", {"dsn": pg.dsn}))
        self.count = 0
        self.lock = threading.Lock()

    def job(self, extravars, playbook="incident.yml"):
        with self.lock:
            self.count += 1
            ident = "job%04d" % self.count
        return Job(os.path.join(self.base, "jobs", ident), ident, playbook, self.inventory, self.envvars,
                   extravars)


def incident(ws, incident_id, status, delivery):
    return {"incident": {"id": incident_id, "status": status, "workspace": ws, "delivery": delivery,
                         "timestamp": time.time()}}


# -- the event plan ---------------------------------------------------------------------------------
class Event:
    def __init__(self, index, ws, wave, incident_id, kind, status, delivery):
        self.index, self.ws, self.wave, self.incident_id = index, ws, wave, incident_id
        self.kind, self.status, self.delivery = kind, status, delivery
        self.after_done = set()      # events that must have completed before this one is launched
        self.after_launched = set()  # events that must have been launched (it may race with them)
        self.job = None


def plan_events(total, rng):
    """Waves of overlapping incidents per workspace, with duplicates and out-of-order deliveries.

    Within a wave every incident starts before any resolves, then the resolutions race each other
    on the two nodes. Extras: a replay (the same delivery again, racing the original), a retry
    (a new delivery of the same start, while open), a late start (delivered after the incident
    was resolved: must not re-open it) and a duplicate resolution (racing the first).
    """
    events = []
    waves = {ws: [] for ws in WORKSPACES}   # ws -> [[events of wave 0], ...]

    def add(ws, wave, incident_id, kind, status, delivery):
        event = Event(len(events), ws, wave, incident_id, kind, status, delivery)
        events.append(event)
        waves[ws][wave].append(event)
        return event

    base_per_wave = 2  # two incidents overlap in every wave
    n_waves = max(2, total // (len(WORKSPACES) * base_per_wave * 4))  # at least one gap between waves
    starts, resolves = {}, {}
    for ws in WORKSPACES:
        for w in range(n_waves):
            waves[ws].append([])
            ids = ["%s-w%d-i%d" % (ws, w, i) for i in range(base_per_wave)]
            for incident_id in ids:
                starts[incident_id] = add(ws, w, incident_id, "start", "started", incident_id + "-d1")
            for incident_id in ids:
                resolves[incident_id] = add(ws, w, incident_id, "resolve", "resolved", incident_id + "-r1")
                resolves[incident_id].after_done.update(starts[i].index for i in ids)
    extras = ("replay", "retry", "late", "dup_resolve")
    counter = 0
    while len(events) < total:
        incident_id = rng.choice(sorted(starts))
        start, resolve = starts[incident_id], resolves[incident_id]
        kind = extras[counter % len(extras)] if counter < 4 * len(extras) else rng.choice(extras)
        counter += 1
        if kind == "replay":
            extra = add(start.ws, start.wave, incident_id, kind, "started", start.delivery)
            extra.after_launched.add(start.index)
            resolve.after_done.add(extra.index)
        elif kind == "retry":
            extra = add(start.ws, start.wave, incident_id, kind, "started", "%s-d%d" % (incident_id, counter))
            extra.after_done.add(start.index)
            resolve.after_done.add(extra.index)
        elif kind == "late":
            extra = add(start.ws, start.wave, incident_id, kind, "started", "%s-late%d" % (incident_id, counter))
            extra.after_done.add(resolve.index)
        else:
            extra = add(start.ws, start.wave, incident_id, kind, "resolved", "%s-r%d" % (incident_id, counter))
            extra.after_launched.add(resolve.index)
    # The next wave of a workspace starts once its previous wave is over (a quiet gap to check).
    for ws in WORKSPACES:
        for w in range(1, n_waves):
            previous = [e.index for e in waves[ws][w - 1]]
            for event in waves[ws][w]:
                if event.kind == "start":
                    event.after_done.update(previous)
    return events, waves


class Scheduler:
    """Hands the next launchable event to whichever node slot is free (random among the ready)."""

    def __init__(self, events, rng):
        self.events = events
        self.rng = rng
        self.launched, self.done = set(), set()
        self.cond = threading.Condition()

    def take(self):
        with self.cond:
            while True:
                if len(self.launched) == len(self.events):
                    return None
                ready = [e for e in self.events if e.index not in self.launched
                         and e.after_done <= self.done and e.after_launched <= self.launched]
                if ready:
                    event = self.rng.choice(ready)
                    self.launched.add(event.index)
                    return event
                self.cond.wait(1)

    def finish(self, event):
        with self.cond:
            self.done.add(event.index)
            self.cond.notify_all()


def zone_writes(sandbox, zone):
    return [e for e in sandbox.requests("cloudflare", writes_only=True) if "/zones/%s/" % zone in e["path"]]


def level_at(writes, t):
    level = ORIGINAL_LEVEL
    for w in writes:
        if w["time"] <= t and w["status"] == 200:
            level = w["body"]["value"]
    return level


def test_a_job_gets_its_credentials_only_from_the_injectors(zones, pg, tmp_path):
    launcher = Launcher(tmp_path, zones, pg)
    node = Node(tmp_path / "nodes", "exec-1")
    job = node.run(launcher.job(incident("ws-a", "solo", "started", "solo-1")))
    assert job.status == "successful", job.stdout()
    assert zones.state()["cloudflare"]["zones"][ZONES["ws-a"]]["security_level"] == "under_attack"
    result = job.module_result()
    assert result["ledger"]["backend"] == "postgresql", result
    assert CF_TOKEN not in job.stdout() and all(CF_TOKEN not in str(e) for e in job.events())
    # The job ran with the node's fresh HOME (Ansible's local temp lives there), not the caller's.
    assert os.path.isdir(os.path.join(node.dir, "home-" + job.ident, ".ansible")), os.listdir(node.dir)
    doc = read_ledger_doc(pg.dsn)
    assert doc["workspaces"]["ws-a"]["incidents"]["solo"]["status"] == "active"
    # Without the credential, the same job fails with a clear message, and no write happens.
    launcher.envvars = injected_env("ledger.yml", {"dsn": pg.dsn})
    before = len(zones.requests(writes_only=True))
    bad = node.run(launcher.job(incident("ws-b", "nocred", "started", "nocred-1")))
    assert bad.status == "failed"
    assert "api_token" in bad.stdout(), bad.stdout()
    assert len(zones.requests(writes_only=True)) == before


def test_two_execution_nodes_a_storm_of_events(zones, pg, tmp_path):
    rng = random.Random(11)
    launcher = Launcher(tmp_path, zones, pg)
    nodes = [Node(tmp_path / "nodes", "exec-1", slots=2), Node(tmp_path / "nodes", "exec-2", slots=2)]
    events, waves = plan_events(EVENTS, rng)
    assert len(events) == EVENTS
    kinds = [e.kind for e in events]
    # the properties this test exists for, whatever EVENTS is
    assert all(kinds.count(k) >= 4 for k in ("replay", "retry", "late", "dup_resolve")), kinds
    assert all(len(waves[ws]) >= 2 for ws in WORKSPACES)
    scheduler = Scheduler(events, rng)
    errors = []

    def slot(node):
        while True:
            event = scheduler.take()
            if event is None:
                return
            try:
                event.job = node.run(launcher.job(incident(event.ws, event.incident_id, event.status,
                                                           event.delivery)))
            except Exception as exc:  # reported below, never swallowed
                errors.append("%s: %r" % (event.incident_id, exc))
            finally:
                scheduler.finish(event)

    started = time.time()
    threads = [threading.Thread(target=slot, args=(n,)) for n in nodes for _slot in range(n.slots)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.time() - started
    assert not errors, errors
    # A refused event fails its job (AWX shows it red) and changes nothing: a late start (the
    # incident is closed) and, of a delivery and its replay, whichever came second.
    for event in events:
        refused = "refused" in event.job.stdout()
        if event.kind == "late":
            assert refused and "is closed" in event.job.stdout(), (event.job.ident, event.job.stdout())
        elif event.kind in ("start", "replay") and any(
                e.kind in ("start", "replay") and e.delivery == event.delivery and e is not event for e in events):
            continue  # checked per pair below
        else:
            assert event.job.status == "successful" and not refused, (event.job.ident, event.job.stdout())
        if refused:
            assert event.job.status == "failed", event.job.ident
    for start in (e for e in events if e.kind == "start"):
        pair = [e for e in events if e.kind in ("start", "replay") and e.delivery == start.delivery]
        outcomes = sorted("replayed event" in e.job.stdout() for e in pair)
        assert outcomes == [False] + [True] * (len(pair) - 1), [(e.job.ident, e.job.status) for e in pair]
    assert {e.job.node for e in events} == {"exec-1", "exec-2"}

    # What the providers saw, over time, per workspace.
    for ws in WORKSPACES:
        writes = zone_writes(zones, ZONES[ws])
        assert all(w["status"] == 200 for w in writes), writes
        for number, wave in enumerate(waves[ws]):
            first_launch = min(e.job.dispatched_at for e in wave)
            last_done = max(e.job.completed_at for e in wave)
            in_wave = [w for w in writes if first_launch <= w["time"] <= last_done]
            # One activation and one withdrawal per wave: no flapping, nothing missed.
            assert [w["body"]["value"] for w in in_wave] == ["under_attack", ORIGINAL_LEVEL], (ws, number, in_wave)
            withdrawn_at = in_wave[-1]["time"]
            for event in wave:
                if event.status != "started" or event.kind == "late":
                    continue
                resolve = next(e for e in wave if e.incident_id == event.incident_id and e.kind == "resolve")
                # The incident was certainly open from this start's completion until its
                # resolution was launched: active all along, never withdrawn in between.
                assert level_at(writes, event.job.completed_at) == "under_attack", (ws, event.incident_id)
                assert not event.job.completed_at < withdrawn_at < resolve.job.dispatched_at, (
                    "%s withdrawn at %.3f while incident %s was open" % (ws, withdrawn_at, event.incident_id))
            # Withdrawn once the wave is over, and nothing written before the next wave.
            assert level_at(writes, last_done) == ORIGINAL_LEVEL, (ws, number)
            next_launch = min((e.job.dispatched_at for e in waves[ws][number + 1]), default=time.time()) \
                if number + 1 < len(waves[ws]) else time.time()
            assert not [w for w in writes if last_done < w["time"] < next_launch], (ws, number)

    # No lost update: every incident and every counted delivery is in the ledger.
    doc = read_ledger_doc(pg.dsn)
    for ws in WORKSPACES:
        recorded = doc["workspaces"][ws]["incidents"]
        ids = {e.incident_id for e in events if e.ws == ws}
        assert set(recorded) == ids, (ws, sorted(ids ^ set(recorded)))
        for incident_id in ids:
            counted = 1 + sum(1 for e in events if e.incident_id == incident_id and e.kind == "retry")
            assert recorded[incident_id]["status"] == "resolved", (incident_id, recorded[incident_id])
            assert recorded[incident_id]["events"] == counted, (incident_id, recorded[incident_id])
    for name, rec in doc["integrations"].items():
        assert not rec["active"] and not rec["pending"], (name, rec)

    # Refused events stop before the ledger reports; every other job says how long it waited.
    lock_waits = [(e.job.module_result().get("ledger") or {}).get("longest_lock_wait") for e in events]
    lock_waits = [w for w in lock_waits if w is not None]
    assert len(lock_waits) == len([e for e in events if "refused" not in e.job.stdout()]), lock_waits
    print("\n%d events from 2 nodes: %.1f s wall, longest lock wait %.3f s, %d events per node" % (
        len(events), wall, max(lock_waits), sum(1 for e in events if e.job.node == "exec-1")))


def test_a_node_killed_in_the_middle_of_a_write_is_converged_by_the_other(zones, pg, tmp_path):
    launcher = Launcher(tmp_path, zones, pg)
    one, two = Node(tmp_path / "nodes", "exec-1"), Node(tmp_path / "nodes", "exec-2")
    zone = ZONES["kw"]
    held = zones.add_fault(provider="cloudflare", method="PATCH", path="/zones/%s/" % zone, delay=6)
    doomed = launcher.job(incident("kw", "K1", "started", "K1-d1"))
    runner = threading.Thread(target=one.run, args=(doomed,))
    runner.start()
    deadline = time.time() + 120
    while held.count != 0 and time.time() < deadline:  # the write has reached the provider and waits
        time.sleep(0.02)
    assert held.count == 0, "the job never reached the provider write"
    doc = read_ledger_doc(pg.dsn)
    assert doc["integrations"]["uam-kw"]["pending"]["action"] == "activate", doc["integrations"]["uam-kw"]
    victims = one.kill(doomed.ident)
    killed_at = time.time()
    runner.join(60)
    assert doomed.status != "successful"
    # ansible-playbook and its forks too (SIGKILL is delivered asynchronously: give them a moment).
    deadline = time.time() + 10
    while [pid for pid in victims if alive(pid)] and time.time() < deadline:
        time.sleep(0.05)
    assert len(victims) >= 2 and not [pid for pid in victims if alive(pid)], victims

    # The other node's next run (the next event of that workspace) takes the integration over.
    follow = two.run(launcher.job(incident("kw", "K2", "started", "K2-d1")))
    converged = time.time() - killed_at
    assert follow.status == "successful", follow.stdout()
    rec = read_ledger_doc(pg.dsn)["integrations"]["uam-kw"]
    assert rec["active"] and not rec["pending"], rec
    assert rec["snapshot"]["security_level"] == ORIGINAL_LEVEL, rec  # the pre-incident level survived
    assert converged < 60, "converged %.1f s after the kill" % converged
    time.sleep(max(0.0, killed_at + 6.5 - time.time()))  # let the orphaned write land
    assert zones.state()["cloudflare"]["zones"][zone]["security_level"] == "under_attack"
    for incident_id in ("K1", "K2"):
        done = two.run(launcher.job(incident("kw", incident_id, "resolved", incident_id + "-r1")))
        assert done.status == "successful", done.stdout()
    assert zones.state()["cloudflare"]["zones"][zone]["security_level"] == ORIGINAL_LEVEL
    print("\nnode killed mid-write: the other node converged it %.1f s after the kill" % converged)
