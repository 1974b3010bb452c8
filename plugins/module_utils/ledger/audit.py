# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The audit trail: every decision and every provider write, appended where the ledger lives.

The ledger keeps only the last state; the trail keeps the history (who switched what on, when,
why, with how many API calls, and how it went) for the on-call's review and for billing, since
on-demand scrubbing is paid by the time it is on. Beside the file ledger it is an append-only
JSON-lines file (0600, one record a line, flock'ed); with PostgreSQL it is a table. Records older
than the retention are dropped when a run appends (``scrubbing_audit_retention`` days).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import re
import tempfile

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError

TABLE = "ddos_scrubbing_audit"
DAY = 86400
ACTIVE_WINDOW = 30 * DAY  # status shows each integration's time on over this window


def audit_path(state_file):
    """The trail beside the ledger file: ledger.json -> ledger.audit.jsonl."""
    stem = state_file[:-5] if state_file.endswith(".json") else state_file
    return stem + ".audit.jsonl"


class FileAudit:
    def __init__(self, state_file):
        self.path = audit_path(os.path.abspath(os.path.expanduser(state_file)))

    @contextlib.contextmanager
    def _locked(self, mode="a"):
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ProviderError("audit", "cannot open the audit trail %s (%s)" % (self.path, exc.strerror),
                                hint="Make the directory of scrubbing_state_file writable on the state host")
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)  # its records name incidents and targets: the ledger's own mode
            fcntl.flock(fd, fcntl.LOCK_EX if mode == "a" else fcntl.LOCK_SH)
            yield fd
        finally:
            os.close(fd)

    def append(self, records, retention_days=None, now=None):
        if not records:
            return
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
        with self._locked() as fd:
            os.write(fd, text)
            if retention_days and now:
                self._prune(fd, now - retention_days * DAY)

    def _prune(self, fd, before):
        with open(self.path, "rb") as handle:
            first = handle.readline()
        try:
            if json.loads(first or b"{}").get("at", before) >= before:
                return  # the oldest record is recent enough: nothing to drop (the usual case, one line read)
        except ValueError:
            pass
        kept = [line for line in self._lines() if (line.get("at") or 0) >= before]
        tmp_fd, tmp = tempfile.mkstemp(prefix=".audit-", dir=os.path.dirname(self.path))
        with os.fdopen(tmp_fd, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, sort_keys=True) + "\n" for r in kept)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        del fd  # still locked by the caller: no append lands between the read and the rename

    def _lines(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    with contextlib.suppress(ValueError):
                        yield json.loads(line)
        except FileNotFoundError:
            return

    def read(self, since=None):
        with self._locked("r"):
            return [r for r in self._lines() if since is None or (r.get("at") or 0) >= since]

    @property
    def where(self):
        return self.path


class PostgresAudit:
    """The trail as a table of the ledger's database (one row a record)."""

    def __init__(self, ledger):
        self.ledger = ledger

    def _conn(self):
        conn = self.ledger._connect(autocommit=True)  # pylint: disable=protected-access
        conn.execute("CREATE TABLE IF NOT EXISTS %s (id bigserial PRIMARY KEY, at double precision NOT NULL, "
                     "record jsonb NOT NULL)" % TABLE)
        return conn

    def append(self, records, retention_days=None, now=None):
        if not records:
            return
        import psycopg  # only here: the file trail needs no database driver
        try:
            conn = self._conn()
            try:
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO %s (at, record) VALUES (%%s, %%s)" % TABLE,
                                    [(r["at"], json.dumps(r)) for r in records])
                if retention_days and now:
                    conn.execute("DELETE FROM %s WHERE at < %%s" % TABLE, (now - retention_days * DAY,))
            finally:
                conn.close()
        except psycopg.Error as exc:
            raise self.ledger._error("cannot append the audit trail to", exc)  # pylint: disable=protected-access

    def read(self, since=None):
        import psycopg
        try:
            conn = self._conn()
            try:
                rows = conn.execute("SELECT record FROM %s WHERE at >= %%s ORDER BY id" % TABLE,
                                    (since or 0,)).fetchall()
            finally:
                conn.close()
        except psycopg.Error as exc:
            raise self.ledger._error("cannot read the audit trail of", exc)  # pylint: disable=protected-access
        return [r[0] for r in rows]

    @property
    def where(self):
        return "table %s of the %s" % (TABLE, self.ledger.where)


def open_audit(ledger, state_file):
    return PostgresAudit(ledger) if ledger.backend == "postgresql" else FileAudit(state_file)


def parse_since(value, now):
    """Epoch seconds from ``since``: ISO-8601, epoch seconds, or an age like 90m, 12h, 7d."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    age = re.fullmatch(r"([0-9]+)\s*([smhd])", text)
    if age:
        return now - int(age.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": DAY}[age.group(2)]
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("audit", "scrubbing_audit_since %r is not a time" % text,
                         hint="Give ISO-8601 (2026-12-01T21:00:00Z), epoch seconds, or an age (90m, 12h, 7d)")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def select(records, integration=None, incident=None):
    return [r for r in records
            if (not integration or r.get("integration") == integration)
            and (not incident or incident in (r.get("incidents") or []))]


def active_seconds(records, now, window=ACTIVE_WINDOW):
    """{integration: seconds on within the last ``window``}, from the trail's switches (a write that
    activated or withdrew it); one still on counts up to now."""
    start = now - window
    on_since, total = {}, {}
    for rec in sorted(records, key=lambda r: r.get("at") or 0):
        if rec.get("kind") != "write" or rec.get("result") != "changed":
            continue
        name, at = rec.get("integration"), rec.get("at") or 0
        if rec.get("action") == "activate" and name not in on_since:
            on_since[name] = at
        elif rec.get("action") == "withdraw" and name in on_since:
            begin = max(on_since.pop(name), start)
            total[name] = total.get(name, 0) + max(0, at - begin)
    for name, begin in on_since.items():
        total[name] = total.get(name, 0) + max(0, now - max(begin, start))
    return total


def write_export(path, records):
    """The export of ``ddos.scrubbing.audit``: JSON lines, 0600, replaced atomically."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".audit-export-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, sort_keys=True) + "\n" for r in records)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError("audit", "cannot write scrubbing_audit_file %s: %s" % (path, exc.strerror or exc),
                         hint="Give a path in an existing directory the state host's user can write")
