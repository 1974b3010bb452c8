# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The incident ledger: one JSON document, valid as an Ansible local fact.

It records the incidents of every workspace and, per integration, whether we activated it,
since when, for which incidents, the pre-incident snapshot, a manual pin, the intent of a
run in flight and the last error. Writers hold an exclusive ``flock`` on a lock file beside
it for the whole read-modify-write, write a temporary file, fsync it and rename it over the
ledger, so concurrent runs never lose an update and a run killed at any point leaves either
the old or the new document, never a torn one.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import socket
import tempfile
import time

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError

SCHEMA_VERSION = 1
KEEP_RESOLVED = 500  # resolved incidents kept per workspace, newest first, for status/history


def empty_document():
    return {"schema_version": SCHEMA_VERSION, "updated_at": None, "workspaces": {}, "integrations": {}}


def workspace(doc, name):
    return doc["workspaces"].setdefault(name, {"incidents": {}, "quiet_since": None})


def integration(doc, name):
    return doc["integrations"].setdefault(name, {
        "provider": None, "workspace": None, "active": False, "since": None, "snapshot": None,
        "incidents": [], "pinned": False, "forced_off": False, "pending": None, "claim": None,
        "last_error": None, "last_error_at": None, "last_change_at": None,
    })


def active_incidents(doc, ws_name):
    ws = doc["workspaces"].get(ws_name) or {"incidents": {}}
    return {i: rec for i, rec in ws["incidents"].items() if rec.get("status") == "active"}


class Ledger:
    """The ledger file at ``path``; use ``with ledger.transaction() as doc:`` to change it."""

    def __init__(self, path):
        if not path:
            raise ProviderError("ledger", "scrubbing_state_file is empty", hint="Set it to a writable path")
        self.path = os.path.abspath(os.path.expanduser(path))
        self.lock_path = self.path + ".lock"

    def read(self):
        """The current document, without locking (a reader always sees a whole file)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                doc = json.load(handle)
        except FileNotFoundError:
            return empty_document()
        except ValueError as exc:
            raise ProviderError("ledger", "%s is not valid JSON (%s)" % (self.path, exc),
                                hint="Restore it from a backup or move it aside; the providers' state can be "
                                     "re-read with the status playbook")
        version = doc.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ProviderError("ledger", "%s has schema_version %r, this collection reads %d" % (
                self.path, version, SCHEMA_VERSION), hint="Use the collection version that wrote it")
        return doc

    @contextlib.contextmanager
    def transaction(self, dry_run=False):
        if dry_run:  # check mode: work on a copy, write nothing, take no lock
            yield self.read()
            return
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, exist_ok=True)
            lock = open(self.lock_path, "a+", encoding="utf-8")
        except OSError as exc:
            raise ProviderError("ledger", "cannot open %s (%s)" % (self.lock_path, exc.strerror),
                                hint="Make scrubbing_state_file point to a writable directory on the state host")
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                doc = self.read()
                before = copy.deepcopy(doc)
                yield doc
                if doc != before:
                    doc["updated_at"] = time.time()
                    self._replace(doc)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _replace(self, doc):
        directory = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(prefix=".ledger-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def new_claim():
    """Who is working on an integration right now (so concurrent runs don't both write)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}


def claim_is_live(claim, now, stale_after=900):
    if not claim:
        return False
    if now - claim.get("at", 0) > stale_after:
        return False
    if claim.get("host") == socket.gethostname():
        try:
            os.kill(int(claim["pid"]), 0)
        except (OSError, ValueError, KeyError):
            return False  # that run died (e.g. kill -9): its claim is void
    return True


def prune(doc, keep=KEEP_RESOLVED):
    for ws in doc["workspaces"].values():
        resolved = sorted(((i, r) for i, r in ws["incidents"].items() if r.get("status") == "resolved"),
                          key=lambda item: item[1].get("resolved_at") or 0, reverse=True)
        for incident_id, _rec in resolved[keep:]:
            del ws["incidents"][incident_id]
