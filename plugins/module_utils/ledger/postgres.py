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
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
import zlib

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
        self._password = self._parse(dsn).get("password")
        self._claims_conn = None
        self._claims_lock = threading.Lock()
        self._schema_ready = False

    # -- where, without secrets ------------------------------------------------------------------
    @staticmethod
    def _parse(dsn):
        try:
            return pg_conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise ProviderError("ledger", "scrubbing_ledger_dsn is not a valid conninfo string or URI (%s)" % (
                redact(str(exc), [dsn]),), hint="e.g. host=db.example.net dbname=ddos user=ddos, or "
                                                "postgresql://ddos@db.example.net/ddos")

    @property
    def where(self):
        info = self._parse(self.dsn)
        host = info.get("host") or "(PGHOST or the local socket)"
        port = info.get("port") or "5432"
        return "PostgreSQL %s port %s database %s" % (host, port, info.get("dbname") or "(default)")

    def _error(self, what, exc):
        message = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                         [self._password, self.dsn])
        return ProviderError("ledger", "%s the ledger at %s: %s" % (what, self.where, message),
                             hint="Check scrubbing_ledger_dsn (or SCRUBBING_LEDGER_DSN), that the database "
                                  "accepts this client, and the user's rights; no provider was called")

    # -- connections -----------------------------------------------------------------------------
    def _connect(self, autocommit=False):
        try:
            conn = psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=self.connect_timeout,
                                   application_name=json.dumps(claimant(self.operation))[:63])
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
        conn = self._connect()
        try:
            start = time.monotonic()
            try:
                conn.execute("SET lock_timeout = %d" % int(self.lock_timeout * 1000))
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
            before = copy.deepcopy(doc)
            yield Book(doc, self)
            if doc != before:
                doc["updated_at"] = time.time()
                try:
                    conn.execute("UPDATE %s SET doc = %%s, updated_at = now() WHERE id = 1" % TABLE,
                                 (json.dumps(doc),))
                except psycopg.Error as exc:
                    raise self._error("cannot write", exc)
            try:
                conn.commit()
            except psycopg.Error as exc:
                raise self._error("cannot commit to", exc)
        finally:
            conn.close()

    def _holder(self):
        try:
            conn = self._connect(autocommit=True)
            try:
                row = conn.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.relation = %s::regclass AND l.granted AND l.pid <> pg_backend_pid() LIMIT 1",
                    (TABLE,)).fetchone()
            finally:
                conn.close()
            holder = json.loads(row[0]) if row and row[0].startswith("{") else None
        except (psycopg.Error, ProviderError, ValueError):
            holder = None
        return describe_holder(holder)

    # -- claims: session advisory locks on one connection of this run ----------------------------
    @staticmethod
    def _key(name):
        return zlib.crc32(name.encode()) & 0x7FFFFFFF

    def take_claim(self, name, current, who, now):
        with self._claims_lock:
            if self._claims_conn is None:
                self._claims_conn = self._connect(autocommit=True)
            try:
                row = self._claims_conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                                (LOCK_SPACE, self._key(name))).fetchone()
            except psycopg.Error as exc:
                raise self._error("cannot claim in", exc)
            return bool(row[0])

    def drop_claim(self, name):
        with self._claims_lock:
            if self._claims_conn is None:
                return
            with contextlib.suppress(psycopg.Error):
                self._claims_conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, self._key(name)))

    def close(self):
        with self._claims_lock:
            if self._claims_conn is not None:
                self._claims_conn.close()
                self._claims_conn = None
