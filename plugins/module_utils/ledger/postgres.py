# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The ledger in PostgreSQL, shared by every controller, AWX execution node and rulebook.

The document is one row; a transaction is ``SELECT ... FOR UPDATE``, the change, ``UPDATE``,
``COMMIT`` — short, and never open across a provider call. A claim is a *session* advisory
lock held by this run's own connection: when a controller dies its connection goes, the lock
with it, and the next run of any node takes the integration over at once (no stale timer).
Connection settings follow libpq: a conninfo string or URI, ``PG*`` variables, ``.pgpass``.

A controller can also vanish without closing its connection (power, network): its session and
its claims would live on until the server's TCP stack gives up (about two hours). So the claims
connection asks both ends for TCP keepalives and a ``tcp_user_timeout``, and its run touches it
every ``HEARTBEAT`` seconds; a waiting run that finds the holder's session silent for
``LOST_AFTER`` seconds ends that session (``pg_terminate_backend``, allowed on one's own role's
sessions) and takes the claim over within its deadline. A holder that comes back checks its
claim before each provider write and, having lost it, writes nothing.

A DSN is a secret: no message ever quotes it or any piece of it (libpq's parse errors do quote
pieces; they are shown with the quoted parts hidden).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import zlib
from urllib.parse import quote, unquote

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import (
    LOCK_TIMEOUT, SCHEMA_VERSION, Book, check_document, claimant, describe_holder, empty_document)

try:
    import psycopg
    from psycopg import conninfo as pg_conninfo
    HAS_PSYCOPG = True
except ImportError:
    HAS_PSYCOPG = False

TABLE = "ddos_scrubbing_ledger"
LOCK_SPACE = 0x0dd05  # first key of our advisory locks, so they never meet another application's
APP_PREFIX = "ddos-scrubbing"
HEARTBEAT = 2.0  # seconds between touches of the claims connection while claims are held
LOST_AFTER = 10.0  # seconds a claim holder's session may stay silent before it is presumed lost
# Both ends give up on a peer that stopped answering within ~15 s, instead of the kernel's 2 h.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
             "tcp_user_timeout": 15000}
DSN_HINT = ("e.g. host=db.example.net dbname=ddos user=ddos, or postgresql://ddos@db.example.net/ddos; in a URI, "
            "percent-encode '%', '/', '@', ':' and '?' of a password (%25, %2F, %40, %3A, %3F), or keep the "
            "password out of the DSN (PGPASSWORD, ~/.pgpass)")


def parse_dsn(dsn):
    """libpq's reading of ``dsn``, refusing what it would misread, never quoting any of it."""
    if re.match(r"(?i)postgres(ql)?://", dsn):
        rest = dsn.split("://", 1)[1]
        authority = re.split(r"[/?]", rest, maxsplit=1)[0]
        if authority.count("@") > 1 or ("@" not in authority and "@" in rest.split("?", 1)[0]):
            raise ProviderError("ledger", "scrubbing_ledger_dsn is a URI whose user or password holds an unencoded "
                                "'/', '@' or '?': libpq would read part of it as the host or database",
                                hint=DSN_HINT)
    try:
        info = pg_conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        # libpq quotes the offending piece, which can be (part of) the password: hide every quote
        reason = re.sub(r'"[^"]*"', '"…"', str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        raise ProviderError("ledger", "scrubbing_ledger_dsn is not a valid conninfo string or URI (libpq: %s)" % (
            reason or type(exc).__name__), hint=DSN_HINT)
    port = str(info.get("port") or "")
    if port and not all(p.strip().isdigit() for p in port.split(",")):
        raise ProviderError("ledger", "scrubbing_ledger_dsn has a port that is not a number (a password with an "
                            "unencoded character read as host:port?)", hint=DSN_HINT)
    return info


def application_name(who):
    """``ddos-scrubbing <operation> <pid> <host>``, cut to PostgreSQL's 63 bytes (the host last)."""
    return ("%s %s %s %s" % (APP_PREFIX, who["operation"], who["pid"], who["host"])).encode()[:63].decode(
        "utf-8", "ignore")


def holder_from_application_name(name, since=None):
    parts = (name or "").split(" ", 3)
    if len(parts) < 3 or parts[0] != APP_PREFIX:
        return None
    return {"operation": parts[1], "pid": parts[2], "host": parts[3] if len(parts) > 3 else "?", "at": since}


class PostgresLedger:
    backend = "postgresql"

    def __init__(self, dsn, operation="run", lock_timeout=LOCK_TIMEOUT, connect_timeout=10):
        if not HAS_PSYCOPG:
            raise ProviderError("ledger", "scrubbing_ledger_dsn is set but the Python package psycopg (version 3) is "
                                "not installed where the playbook runs",
                                hint="Install it on the controller or in the execution environment: "
                                     "pip install 'psycopg[binary]'")
        self.dsn = dsn
        self.operation = operation
        self.lock_timeout = lock_timeout
        self.connect_timeout = connect_timeout
        self.lock_waits = []
        self._info = parse_dsn(dsn)
        password = self._info.get("password")
        self._secrets = [dsn] + ([password, quote(password, safe=""), unquote(password)] if password else [])
        self.who = claimant(operation)
        self._claims_conn = None
        self._claims_lock = threading.Lock()
        self._txn_conn = None
        self._txn_lock = threading.Lock()
        self._claims_held = set()
        self._heartbeat = None
        self._closed = threading.Event()
        self._schema_ready = False
        self.notes = []  # claims taken over from lost holders, for the run's warnings
        # Inside a transaction (its thread only): the claims this session still held when the
        # transaction first asked, and the ones its changes released, unlocked together before its
        # commit. A round trip per integration, under the ledger's row lock, is what made 200
        # integrations cost a tenth more here than on the file ledger (issue 18).
        self._txn_thread = None
        self._txn_held = None
        self._txn_released = []

    # -- where, without secrets ------------------------------------------------------------------
    @property
    def where(self):
        info = self._info
        host = info.get("host") or "(PGHOST or the local socket)"
        port = info.get("port") or "5432"
        return "PostgreSQL %s port %s database %s" % (host, port, info.get("dbname") or "(default)")

    def _error(self, what, exc):
        message = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                         self._secrets)
        return ProviderError("ledger", "%s the ledger at %s: %s" % (what, self.where, message),
                             hint="Check scrubbing_ledger_dsn (or SCRUBBING_LEDGER_DSN), that the database "
                                  "accepts this client, and the user's rights; no provider was called")

    # -- connections -----------------------------------------------------------------------------
    def _connect(self, autocommit=False, keepalive=False):
        options = dict(KEEPALIVE) if keepalive else {}
        try:
            conn = psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=self.connect_timeout,
                                   application_name=application_name(self.who), **options)
        except psycopg.Error as exc:
            raise self._error("cannot connect to", exc)
        if not self._schema_ready:
            self._ensure_schema(conn)
        return conn

    def _ensure_schema(self, conn):
        try:
            with conn.transaction():
                # Serialise creation between nodes starting at once (CREATE IF NOT EXISTS can race).
                conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_SPACE,))
                conn.execute("CREATE TABLE IF NOT EXISTS %s (id smallint PRIMARY KEY CHECK (id = 1), "
                             "schema_version integer NOT NULL, doc jsonb NOT NULL, "
                             "updated_at timestamptz NOT NULL DEFAULT now())" % TABLE)
                row = conn.execute("SELECT schema_version FROM %s WHERE id = 1" % TABLE).fetchone()
                if row is None:
                    conn.execute("INSERT INTO %s (id, schema_version, doc) VALUES (1, %%s, %%s)" % TABLE,
                                 (SCHEMA_VERSION, json.dumps(empty_document())))
                elif row[0] != SCHEMA_VERSION:
                    raise ProviderError("ledger", "the ledger at %s has schema_version %s, this collection reads %d"
                                        % (self.where, row[0], SCHEMA_VERSION),
                                        hint="Use the collection version that wrote it")
        except psycopg.Error as exc:
            conn.close()
            raise self._error("cannot prepare", exc)
        self._schema_ready = True

    # -- the document ----------------------------------------------------------------------------
    def read(self):
        conn = self._connect(autocommit=True)
        try:
            row = conn.execute("SELECT doc FROM %s WHERE id = 1" % TABLE).fetchone()
        except psycopg.Error as exc:
            raise self._error("cannot read", exc)
        finally:
            conn.close()
        return check_document(row[0], self.where)

    @contextlib.contextmanager
    def transaction(self, dry_run=False):
        if dry_run:
            yield Book(self.read(), self)
            return
        with self._txn_lock:
            conn = self._txn_conn
            if conn is None or conn.closed:
                conn = self._txn_conn = self._transactions_connection()
            ok = False
            try:
                # the outer context (this generator's) always ends, so the inner one does too
                with self._one_transaction(conn) as book:  # pylint: disable=contextmanager-generator-missing-cleanup
                    yield book
                ok = True
            finally:
                if not ok:
                    # an error or an abandoned change: never reuse a connection in an unknown state
                    self._txn_conn = None
                    with contextlib.suppress(psycopg.Error):
                        conn.close()

    def _transactions_connection(self):
        """The run's connection for its transactions, whose lock wait is bounded once for its session:
        a statement more in every transaction cost about as much as the document's own UPDATE."""
        conn = self._connect()
        try:
            conn.execute("SET lock_timeout = %d" % int(self.lock_timeout * 1000))
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise self._error("cannot lock", exc)
        return conn

    @contextlib.contextmanager
    def _one_transaction(self, conn):
        """One short transaction on the run's connection (kept between transactions: a run commits a
        few dozen times, and a new connection costs more than the transaction)."""
        start = time.monotonic()
        try:
            row = conn.execute("SELECT doc FROM %s WHERE id = 1 FOR UPDATE" % TABLE).fetchone()
        except psycopg.errors.LockNotAvailable:
            conn.rollback()
            raise ProviderError("ledger", "the ledger at %s is locked by %s; waited %d s" % (
                self.where, self._holder(), self.lock_timeout),
                hint="Wait for that run to finish; a stuck one can be ended with pg_terminate_backend")
        except psycopg.Error as exc:
            raise self._error("cannot lock", exc)
        self.lock_waits.append(time.monotonic() - start)
        doc = check_document(row[0], self.where)
        book = Book(doc, self, track=True)
        self._txn_thread, self._txn_held, self._txn_released = threading.get_ident(), None, []
        try:
            yield book
            if book.changes():
                doc["updated_at"] = time.time()
                try:
                    conn.execute("UPDATE %s SET doc = %%s, updated_at = now() WHERE id = 1" % TABLE,
                                 (json.dumps(doc),))
                except psycopg.Error as exc:
                    raise self._error("cannot write", exc)
            # released before the commit, as when each was unlocked where it was released; a
            # transaction abandoned above keeps its claims (its changes are made again, or not)
            self._unlock(self._txn_released)
        finally:
            self._txn_thread, self._txn_held, self._txn_released = None, None, []
        try:
            conn.commit()
        except psycopg.Error as exc:
            raise self._error("cannot commit to", exc)

    def _holder(self):
        try:
            conn = self._connect(autocommit=True)
            try:
                row = conn.execute(
                    "SELECT a.application_name, extract(epoch FROM a.xact_start) FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.relation = %s::regclass AND l.granted AND l.pid <> pg_backend_pid() LIMIT 1",
                    (TABLE,)).fetchone()
            finally:
                conn.close()
            holder = holder_from_application_name(row[0], float(row[1]) if row[1] else None) if row else None
        except (psycopg.Error, ProviderError, ValueError):
            holder = None
        return describe_holder(holder)

    # -- claims: session advisory locks on one connection of this run ----------------------------
    @staticmethod
    def _key(name):
        return zlib.crc32(name.encode()) & 0x7FFFFFFF

    def _claims(self):
        """This run's claims connection (keepalives on both ends, touched by a heartbeat)."""
        if self._claims_conn is None:
            conn = self._connect(autocommit=True, keepalive=True)
            try:
                # the server's side of the keepalive: a client gone silent frees its session, and
                # with it its claims, in about 15 s (ignored on a Unix socket, where nothing is lost)
                conn.execute("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
                             "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 15000")
            except psycopg.Error as exc:
                conn.close()
                raise self._error("cannot claim in", exc)
            self._claims_conn = conn
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(target=self._beat, daemon=True, name="ddos-scrubbing-heartbeat")
                self._heartbeat.start()
        return self._claims_conn

    def _beat(self):
        """Show waiting runs that this run is alive while it holds claims (its session's state_change)."""
        while not self._closed.wait(HEARTBEAT):
            with self._claims_lock:
                if self._claims_conn is not None and self._claims_held:
                    with contextlib.suppress(psycopg.Error):
                        self._claims_conn.execute("SELECT 1")

    def take_claims(self, current, who, now):
        """Take the claims of ``current``'s names (name -> its recorded claim: unused here, the lock
        is the claim) with one statement; returns the names taken, in order. A name another session
        holds is taken over only when that session has been silent for LOST_AFTER (presumed lost)."""
        del who, now
        with self._claims_lock:
            if self._txn_thread == threading.get_ident():
                # released earlier in this transaction, not unlocked yet: simply kept
                self._txn_released = [name for name in self._txn_released if name not in current]
            # ours already (a later round): a second lock would outlive the release
            wanted = [name for name in current if name not in self._claims_held]
            conn = self._claims()
            try:
                got = dict(conn.execute(
                    "SELECT k, pg_try_advisory_lock(%s, k) FROM unnest(%s::integer[]) AS k",
                    (LOCK_SPACE, [self._key(name) for name in wanted])).fetchall()) if wanted else {}
                for name in wanted:
                    if got[self._key(name)] or self._take_over(conn, name):
                        self._claims_held.add(name)
            except psycopg.Error as exc:
                raise self._error("cannot claim in", exc)
            return [name for name in current if name in self._claims_held]

    def _take_over(self, conn, name):
        """The claim of a run whose session stopped answering long ago (a host gone, a frozen
        process): end that session, which frees its claims, and take this one. False if it lives."""
        key = self._key(name)
        holder = self._claim_holder(conn, key)
        if not holder or holder["silent"] < LOST_AFTER or holder["state"] != "idle":
            return False
        conn.execute("SELECT pg_terminate_backend(%s)", (holder["backend"],))
        for _try in range(50):
            if conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_SPACE, key)).fetchone()[0]:
                self.notes.append("%s: took over the claim of %s, silent for %d s (presumed lost)" % (
                    name, describe_holder(holder["who"]), holder["silent"]))
                return True
            time.sleep(0.02)
        return False

    def _claim_holder(self, conn, key):
        row = conn.execute(
            "SELECT a.pid, a.application_name, extract(epoch FROM a.backend_start), a.state, "
            "extract(epoch FROM now() - a.state_change) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s AND l.objid::bigint = %s "
            "AND l.objsubid = 2 LIMIT 1", (LOCK_SPACE, key)).fetchone()
        if not row:
            return None
        return {"backend": row[0], "who": holder_from_application_name(row[1], float(row[2]) if row[2] else None),
                "state": row[3], "silent": float(row[4] or 0)}

    def claim_holder(self, name, recorded):
        """Who holds ``name``'s claim: its session's application_name says, the record may be stale."""
        with self._claims_lock:
            try:
                holder = self._claim_holder(self._claims(), self._key(name))
            except (psycopg.Error, ProviderError):
                holder = None
        return (holder or {}).get("who") or recorded

    def holds_claim(self, name):
        """Is the claim still this run's? False once a waiting run took it over (we were presumed
        lost). Within a transaction, the session's claims are read once, for all its changes."""
        with self._claims_lock:
            in_transaction = self._txn_thread == threading.get_ident()
            if self._claims_conn is None or name not in self._claims_held or (
                    in_transaction and name in self._txn_released):
                return False
            held = self._txn_held if in_transaction else None
            if held is None:
                try:
                    held = {row[0] for row in self._claims_conn.execute(
                        "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND pid = pg_backend_pid() AND classid::bigint = %s AND objsubid = 2", (LOCK_SPACE,))}
                except psycopg.Error:
                    held = set()  # our session was ended: whoever waited has taken over
                if in_transaction:
                    self._txn_held = held
            return self._key(name) in held

    def drop_claim(self, name):
        """Release ``name``'s claim: at once, or, released by a transaction's change, with the other
        claims that transaction releases, just before it commits."""
        with self._claims_lock:
            if self._txn_thread == threading.get_ident():
                if name not in self._txn_released:
                    self._txn_released.append(name)
                return
        self._unlock([name])

    def _unlock(self, names):
        with self._claims_lock:
            self._claims_held.difference_update(names)
            if self._claims_conn is None or not names:
                return
            with contextlib.suppress(psycopg.Error):
                self._claims_conn.execute("SELECT pg_advisory_unlock(%s, k) FROM unnest(%s::integer[]) AS k",
                                          (LOCK_SPACE, [self._key(name) for name in names]))

    def close(self):
        self._closed.set()
        with self._txn_lock:
            if self._txn_conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self._txn_conn.close()
                self._txn_conn = None
        with self._claims_lock:
            self._claims_held.clear()
            if self._claims_conn is not None:
                self._claims_conn.close()
                self._claims_conn = None
