"""What the ledger costs a run: a run's intents and outcomes are committed in a few group
transactions (not one per integration), each intent is on disk before its write, a failing
change takes no neighbour with it, a lock wait blocks in the kernel instead of polling, and the
worker pool bounds a burst without letting a hung provider hold the others back."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import textwrap
import threading
import time

from test_engine import WORLD, started, switches

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.operations import Orchestrator
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger import file as _file
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.file import FileLedger
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.group import GroupCommit


def counting(ledger):
    """Count the ledger's rewrites; each one also checks that every write so far had its intent on disk."""
    rewrites = []
    real = ledger._replace

    def replace(doc):
        rewrites.append(1)
        return real(doc)
    ledger._replace = replace
    return rewrites


def test_a_run_of_forty_integrations_rewrites_the_ledger_a_few_times_not_eighty(tmp_path):
    names = ["s%02d" % i for i in range(40)]
    integrations = switches(*names)
    ledger = FileLedger(str(tmp_path / "l.json"))
    rewrites = counting(ledger)
    path = ledger.path
    intents_seen = {}

    # every write checks, at the moment it is sent, that the ledger on disk holds its intent
    def on_disk_intent(name):
        with open(path, encoding="utf-8") as handle:
            rec = json.load(handle)["integrations"][name]
        intents_seen[name] = (rec.get("pending") or {}).get("action")
    for name in names:
        WORLD[name]["before_write"] = on_disk_intent
    report = Orchestrator(integrations, ledger, deadline=30).incident(started())
    assert not report["failed"] and all(WORLD[n]["on"] for n in names)
    assert intents_seen == {n: "activate" for n in names}, "a write went out before its intent was durable"
    doc = ledger.read()
    assert all(doc["integrations"][n]["active"] and doc["integrations"][n]["pending"] is None for n in names)
    # one for the event and the claims, then the intents and the outcomes, batched as they arrive: how
    # many batches depends on the machine's load, but one transaction per change is 81
    assert len(rewrites) <= 41, "%d ledger rewrites for 40 integrations: one transaction each?" % len(rewrites)


def test_a_failing_change_in_a_batch_takes_no_neighbour_with_it(tmp_path):
    ledger = FileLedger(str(tmp_path / "l.json"))
    commits = GroupCommit(ledger)
    gate = threading.Event()
    results = {}

    def slow_first(book):  # holds the pen while the others queue up behind it, into one batch
        book.workspace("w")["quiet_since"] = 1
        gate.wait(10)
        return "first"

    def good(tag):
        def change(book):
            book.workspace("w")["incidents"][tag] = {"status": "active", "target": None}
            return tag
        return change

    def bad(book):
        book.workspace("w")["incidents"]["half-made"] = {"status": "active", "target": None}
        raise InputError("incident", "refused")

    def call(tag, change):
        try:
            results[tag] = commits.apply(change)
        except InputError as exc:
            results[tag] = exc
    first = threading.Thread(target=call, args=("first", slow_first))
    first.start()
    time.sleep(0.2)
    others = [threading.Thread(target=call, args=(t, c)) for t, c in
              (("a", good("a")), ("bad", bad), ("b", good("b")))]
    for thread in others:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in [first] + others:
        thread.join(10)
    assert results["a"] == "a" and results["b"] == "b" and isinstance(results["bad"], InputError)
    incidents = ledger.read()["workspaces"]["w"]["incidents"]
    assert sorted(incidents) == ["a", "b"], "the refused change's half-made edit was written: %s" % incidents
    assert commits.largest_batch == 2, "a and b were not committed together"


HOLD = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def test_a_lock_wait_blocks_in_the_kernel_until_the_holder_lets_go(tmp_path, monkeypatch):
    ledger = FileLedger(str(tmp_path / "l.json"), lock_timeout=20)
    with ledger.transaction() as book:
        book.workspace("w")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, ledger.lock_path, "1.0"], stdout=subprocess.PIPE, text=True)
    calls = []
    real = fcntl.flock

    def flock(fd, op):
        calls.append(op)
        return real(fd, op)
    monkeypatch.setattr(_file.fcntl, "flock", flock)
    try:
        assert holder.stdout.readline().strip() == "held"
        with ledger.transaction() as book:
            book.workspace("w")["quiet_since"] = 2
    finally:
        holder.kill()
        holder.wait()
    attempts = [op for op in calls if op & fcntl.LOCK_EX]
    assert len(attempts) <= 2, "%d attempts to take the lock in one second: a polling loop" % len(attempts)
    assert ledger.read()["workspaces"]["w"]["quiet_since"] == 2


def test_workers_bound_a_burst_and_a_hung_provider_gives_its_slot_back(tmp_path, monkeypatch):
    from ansible_collections.ddos.scrubbing.plugins.module_utils.engine import converge

    monkeypatch.setattr(converge, "SLOW_CALL", 0.5)
    names = ["hung", "a", "b", "c", "d"]
    integrations = switches(*names)
    WORLD["hung"]["gate"] = threading.Event()
    running, peak = [], [0]
    mutex = threading.Lock()

    def reading(name):
        with mutex:
            running.append(name)
            peak[0] = max(peak[0], len(running))
        time.sleep(0.1)
        with mutex:
            running.remove(name)
    for name in names[1:]:
        WORLD[name]["on_read"] = reading
    try:
        report = Orchestrator(integrations, FileLedger(str(tmp_path / "l.json")), deadline=8,
                              workers=1).incident(started())
    finally:
        WORLD["hung"]["gate"].set()
    # the hung read held the only slot for SLOW_CALL, then gave it back: everyone else was done
    assert all(WORLD[n]["on"] for n in names[1:]), report
    assert report["failed"] == ["hung"] and report["integrations"]["hung"]["pending"]
    assert peak[0] <= 1, "%d provider reads at once with workers=1" % peak[0]


def test_forty_pipelines_run_on_as_many_threads_as_there_are_workers(tmp_path):
    """A thread costs about 2 ms to start while others hold the GIL: started per pipeline, 200
    integrations spent 0.43 s starting them one after the other. The workers take the queue."""
    names = ["s%02d" % i for i in range(40)]
    integrations = switches(*names)
    threads = set()
    mutex = threading.Lock()

    def reading(name):
        with mutex:
            threads.add(threading.current_thread())  # the object: an ident is reused once a thread ends
        time.sleep(0.01)
    for name in names:
        WORLD[name]["on_read"] = reading
    report = Orchestrator(integrations, FileLedger(str(tmp_path / "l.json")), deadline=30,
                          workers=4).incident(started())
    assert not report["failed"] and all(WORLD[n]["on"] for n in names), report
    assert len(threads) <= 4, "40 pipelines ran on %d threads with workers=4" % len(threads)


def test_a_pipeline_still_queued_at_the_deadline_never_starts_afterwards():
    """The run reports it 'waiting for a worker': no worker may take it once the run has returned."""
    from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.converge import Pool

    ran = []
    pool = Pool(1, slow_after=30)
    ended = pool.run([("slow", lambda: time.sleep(0.6)), ("queued", lambda: ran.append("queued"))],
                     time.monotonic() + 0.2)
    assert ended == {"slow": "running", "queued": "waiting"}
    time.sleep(1.0)  # the slow one has ended: its worker would have taken the queue by now
    assert ran == [], "a pipeline reported as never started ran after the deadline"
