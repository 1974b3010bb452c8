"""The two ledger backends keep the same promises: no lost update across processes, a claim
that dies with its holder, clear errors for damaged, newer, locked or unreachable ledgers."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import COLLECTIONS
from services import PostgresServer

from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger import document as _ledger
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger import file as _ledger_file
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger import postgres as _ledger_pg
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.backend import open_ledger
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import claimant
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.file import FileLedger


@pytest.fixture(scope="session")
def postgres():
    reason = PostgresServer.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)  # in CI a missing prerequisite is a failure, never a skip
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(postgres, request):
    """A fresh database per test, so ledgers never meet."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    postgres.psql("DROP DATABASE IF EXISTS %s" % name)
    postgres.psql("CREATE DATABASE %s" % name)
    return postgres.dsn.replace("dbname=postgres", "dbname=%s" % name)


WORKER = textwrap.dedent("""
    import sys
    from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.backend import open_ledger
    path, dsn, tag, count = sys.argv[1], sys.argv[2] or None, sys.argv[3], int(sys.argv[4])
    ledger = open_ledger(path, dsn)
    for i in range(count):
        with ledger.transaction() as book:
            ws = book.workspace("w")
            ws["incidents"]["%s-%d" % (tag, i)] = {"status": "active", "target": None}
            ws["quiet_since"] = (ws.get("quiet_since") or 0) + 1
    ledger.close()
""")

HOLDER = textwrap.dedent("""
    import sys, time
    from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.backend import open_ledger
    from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import claimant
    ledger = open_ledger(sys.argv[1], sys.argv[2] or None, operation="incident")
    if sys.argv[3] == "claim":
        with ledger.transaction() as book:
            assert book.claim_all(["edge"], claimant("incident"), time.time()) == ["edge"]
    else:
        held = ledger._locked()  # keep a reference: the lock lives as long as this context
        held.__enter__()
    print("held", flush=True)
    time.sleep(600)
""")


def _python(code, *args):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    return subprocess.Popen([sys.executable, "-c", code] + [str(a) for a in args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(params=["file", "postgresql"])
def backend(request, tmp_path):
    """(state_file, dsn) of an empty ledger of each backend."""
    if request.param == "file":
        return str(tmp_path / "state" / "ledger.json"), ""
    return str(tmp_path / "unused.json"), request.getfixturevalue("pg_dsn")


def test_no_lost_update_across_processes(backend):
    path, dsn = backend
    workers = [_python(WORKER, path, dsn, "p%d" % n, 25) for n in range(6)]
    for proc in workers:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    doc = open_ledger(path, dsn).read()
    ws = doc["workspaces"]["w"]
    assert len(ws["incidents"]) == 150 and ws["quiet_since"] == 150, "every read-modify-write kept"


def test_a_change_deep_inside_a_record_is_written(backend):
    """A backend writes only when a transaction changed a record, and the file backend renders
    only the records that changed: a change made deep inside one (an incident's status, one rule
    of a snapshot), with nothing else changed, must be seen as a change and reach the ledger,
    for the next process to read."""
    path, dsn = backend
    with open_ledger(path, dsn).transaction() as book:
        book.workspace("w")["incidents"]["A"] = {"status": "active", "target": "203.0.113.7"}
        book.integration("mt")["snapshot"] = {"rules": [{"port": 22, "action": "accept"}]}
    with open_ledger(path, dsn).transaction() as book:
        book.workspace("w")["incidents"]["A"]["status"] = "resolved"
    with open_ledger(path, dsn).transaction() as book:
        book.integration("mt")["snapshot"]["rules"][0]["action"] = "drop"
    doc = open_ledger(path, dsn).read()
    assert doc["workspaces"]["w"]["incidents"]["A"]["status"] == "resolved"
    assert doc["integrations"]["mt"]["snapshot"]["rules"][0]["action"] == "drop"


def test_new_records_never_share_their_lists(tmp_path):
    """Every new integration record gets lists of its own: an incident appended to one must not
    appear in another record, nor in the next new one, nor in a read-only view."""
    ledger = FileLedger(str(tmp_path / "ledger.json"))
    with ledger.transaction() as book:
        book.integration("a")["incidents"].append("A1")
        book.integration("a")["expired"].append("A0")
        assert book.integration("b")["incidents"] == [] and book.integration("b")["expired"] == []
    doc = ledger.read()
    assert doc["integrations"]["b"]["incidents"] == []
    view = _ledger.integration_view(doc, "c")
    view["targets"].append("203.0.113.7/32")
    assert _ledger.integration_view(doc, "d")["targets"] == []


def test_a_dead_claimants_claim_is_taken_over_at_once(backend):
    path, dsn = backend
    holder = _python(HOLDER, path, dsn, "claim")
    assert holder.stdout.readline().strip() == "held"
    ledger = open_ledger(path, dsn)
    me = claimant("reconcile")
    with ledger.transaction() as book:
        assert book.claim_all(["edge"], me, time.time()) == [], "a live claim of another run is respected"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    start = time.monotonic()
    while True:
        with ledger.transaction() as book:
            if book.claim_all(["edge"], me, time.time()) == ["edge"]:
                break
        assert time.monotonic() - start < 10, "a killed claimant's claim must not block for minutes"
        time.sleep(0.1)
    ledger.close()


def test_newer_schema_is_refused(backend, postgres):
    path, dsn = backend
    if dsn:
        open_ledger(path, dsn).read()
        postgres.psql("")  # server alive
        subprocess.run(["psql", "-X", "-q", "-d", dsn, "-c",
                        "UPDATE ddos_scrubbing_ledger SET schema_version = 99"], check=True)
    else:
        os.makedirs(os.path.dirname(path))
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(dict(_ledger.empty_document(), schema_version=99), handle)
    with pytest.raises(ProviderError, match="schema_version 99, this collection reads 1.*Use the collection version"):
        ledger = open_ledger(path, dsn)
        ledger.read()


@pytest.mark.parametrize("content", ["[]", "null", '{"schema_version": 1}', '{"schema_version": 1, "workspaces": [],'
                                     ' "integrations": {}}', "{not json"])
def test_wrong_shaped_ledgers_get_one_clear_message(tmp_path, content):
    path = tmp_path / "ledger.json"
    path.write_text(content)
    with pytest.raises(ProviderError) as caught:
        FileLedger(str(path)).read()
    text = str(caught.value)
    assert str(path) in text and ("Move the file aside" in text), text
    assert "attribute" not in text and "Traceback" not in text


def test_lock_file_private_and_a_held_lock_names_its_holder(tmp_path):
    path = tmp_path / "fresh" / "ledger.json"
    ledger = FileLedger(str(path), lock_timeout=1)
    with ledger.transaction() as book:
        book.workspace("w")
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(path) + ".lock").st_mode) == 0o600
    holder = _python(HOLDER, path, "", "lock")
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            with ledger.transaction():
                pass
        waited = time.monotonic() - start
        text = str(caught.value)
        assert "pid %d (incident, since " % holder.pid in text and "waited 1 s" in text, text
        assert 0.9 < waited < 10
    finally:
        holder.kill()
        holder.wait()


def test_an_existing_world_readable_lock_file_is_made_private(tmp_path):
    path = tmp_path / "ledger.json"
    lock = tmp_path / "ledger.json.lock"
    lock.write_text("")
    os.chmod(lock, 0o644)
    with FileLedger(str(path)).transaction() as book:
        book.workspace("w")
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600


def test_disk_full_names_the_path_and_what_to_do(tmp_path, monkeypatch):
    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")
    ledger = FileLedger(str(tmp_path / "ledger.json"))
    monkeypatch.setattr(_ledger_file.os, "fsync", full)
    with pytest.raises(ProviderError) as caught:
        with ledger.transaction() as book:
            book.workspace("w")
    text = str(caught.value)
    assert str(tmp_path / "ledger.json") in text and "No space left" in text and "Free space" in text
    assert "reconcile" in text
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".ledger-")], "no temp file left behind"


def test_postgres_unreachable_names_the_host_never_the_password():
    with pytest.raises(ProviderError) as caught:
        open_ledger("/unused", "host=127.0.0.1 port=9 user=ddos password=S3cretLedgerPw dbname=ddos").read()
    text = str(caught.value)
    assert "PostgreSQL 127.0.0.1 port 9 database ddos" in text and "no provider was called" in text
    assert "S3cretLedgerPw" not in text


def test_postgres_uri_password_never_shown():
    with pytest.raises(ProviderError) as caught:
        open_ledger("/unused", "postgresql://ddos:S3cretLedgerPw@127.0.0.1:9/ddos?connect_timeout=2").read()
    assert "S3cretLedgerPw" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_missing_psycopg_is_named(monkeypatch):
    monkeypatch.setattr(_ledger_pg, "HAS_PSYCOPG", False)
    with pytest.raises(ProviderError, match=r"psycopg \(version 3\) is not installed.*pip install 'psycopg\[binary\]'"):
        open_ledger("/unused", "host=/tmp dbname=x")


def test_postgres_holds_no_transaction_between_transactions(pg_dsn, postgres):
    ledger = open_ledger("/unused", pg_dsn)
    with ledger.transaction() as book:
        book.workspace("w")
        assert book.claim_all(["edge"], claimant("incident"), time.time()) == ["edge"]
    out = subprocess.run(["psql", "-X", "-At", "-d", pg_dsn, "-c",
                          "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert out == "0", "the claim session is idle, not inside a transaction"
    ledger.close()


def test_claims_taken_together_leave_out_only_the_one_another_run_holds(backend):
    path, dsn = backend
    holder = _python(HOLDER, path, dsn, "claim")
    try:
        assert holder.stdout.readline().strip() == "held"
        ledger = open_ledger(path, dsn)
        with ledger.transaction() as book:
            assert book.claim_all(["alpha", "edge", "omega"], claimant("incident"), time.time()) == ["alpha", "omega"]
        with ledger.transaction() as book:
            assert [book.integration(n)["claim"] is not None for n in ("alpha", "omega")] == [True, True]
        ledger.close()
    finally:
        holder.kill()
        holder.wait()


def _outside(dsn):
    import psycopg  # pylint: disable=import-outside-toplevel
    return psycopg.connect(dsn, autocommit=True)


def _key(name):
    return _ledger_pg.PostgresLedger._key(name)  # pylint: disable=protected-access


def test_a_run_whose_claims_session_was_ended_holds_none_of_its_claims_any_more(pg_dsn):
    """What a run checks before each provider write, once per transaction for all its intents: a
    run presumed lost (its claims session ended by the run that took over) must write nothing."""
    ledger = open_ledger("/unused", pg_dsn)
    me = claimant("incident")
    with ledger.transaction() as book:
        assert book.claim_all(["alpha", "omega"], me, time.time()) == ["alpha", "omega"]
    with ledger.transaction() as book:
        assert book.holds_claim("alpha", me) and book.holds_claim("omega", me)
    with _outside(pg_dsn) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (ledger._claims_conn.info.backend_pid,))  # pylint: disable=protected-access
    with ledger.transaction() as book:
        assert not book.holds_claim("alpha", me) and not book.holds_claim("omega", me)
    ledger.close()


def test_claims_released_in_a_transaction_go_at_its_commit_and_stay_when_it_is_abandoned(pg_dsn):
    ledger = open_ledger("/unused", pg_dsn)
    me = claimant("incident")
    with ledger.transaction() as book:
        assert book.claim_all(["alpha", "omega"], me, time.time()) == ["alpha", "omega"]
    with _outside(pg_dsn) as other:
        def free(name):
            got = other.execute("SELECT pg_try_advisory_lock(%s, %s)", (_ledger_pg.LOCK_SPACE, _key(name))).fetchone()[0]
            if got:
                other.execute("SELECT pg_advisory_unlock(%s, %s)", (_ledger_pg.LOCK_SPACE, _key(name)))
            return got
        with pytest.raises(RuntimeError):
            with ledger.transaction() as book:
                book.release("alpha")
                raise RuntimeError("a change that fails: nothing of this transaction is recorded")
        assert not free("alpha"), "an abandoned transaction's release is not made: the claim is still ours"
        with ledger.transaction() as book:
            book.release("alpha")
            assert not book.holds_claim("alpha", me), "released is released, even before the commit"
            assert book.holds_claim("omega", me)
        assert free("alpha"), "released at the commit"
        assert not free("omega")
    ledger.close()


def test_every_transaction_of_a_postgres_ledger_waits_at_most_lock_timeout(pg_dsn):
    """The lock wait is set once for the run's connection, and again on the one that replaces it."""
    open_ledger("/unused", pg_dsn).read()  # creates the table
    ledger = _ledger_pg.PostgresLedger(pg_dsn, lock_timeout=1)
    outcomes = []

    def attempt():
        try:
            with ledger.transaction() as book:
                book.workspace("w")
            outcomes.append("written")
        except ProviderError as exc:
            outcomes.append(str(exc))

    with _outside(pg_dsn) as other:
        other.autocommit = False
        other.execute("SELECT doc FROM %s WHERE id = 1 FOR UPDATE" % _ledger_pg.TABLE)
        for _attempt in range(2):  # the second on a new connection: the first was dropped with its error
            start = time.monotonic()
            thread = threading.Thread(target=attempt, daemon=True)
            thread.start()
            thread.join(15)
            assert not thread.is_alive(), "a locked ledger must not be waited for beyond lock_timeout"
            assert time.monotonic() - start < 10
        other.rollback()
    assert len(outcomes) == 2 and all("is locked by" in o and "waited 1 s" in o for o in outcomes), outcomes
    attempt()
    assert outcomes[-1] == "written"
    ledger.close()
