# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The ledger in a file on the state host (the default backend).

An exclusive ``flock``, waited for in the kernel with a deadline, serialises transactions; the document is replaced
atomically (temp file, fsync, rename), so a run killed at any point leaves the old or the new
document, never a torn one. A claim of a dead local process (kill -9) is void.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import threading
import time

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import (
    LOCK_TIMEOUT, REPAIR_HINT, STALE_CLAIM, Book, check_document, claimant, describe_holder, empty_document)


class FileLedger:
    """The ledger file at ``path`` (on the state host)."""

    backend = "file"

    def __init__(self, path, lock_timeout=LOCK_TIMEOUT, operation="run", clock=time.monotonic):
        if not path:
            raise ProviderError("ledger", "scrubbing_state_file is empty", hint="Set it to a writable path")
        self.path = os.path.abspath(os.path.expanduser(path))
        self.lock_path = self.path + ".lock"
        self.lock_timeout = lock_timeout
        self.operation = operation
        self.clock = clock
        self.lock_waits = []  # seconds each transaction waited for the lock (reported, benchmarked)
        self._cache = None  # (file identity, document, rendered lines) as we last wrote it
        self._hint = None  # (rendered lines, changed records) for the next _replace

    @property
    def where(self):
        return self.path

    def read(self):
        """The current document, without locking (a reader always sees a whole file)."""
        return self._parse(self._text())

    def _text(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ProviderError("ledger", "cannot read %s (%s)" % (self.path, exc.strerror),
                                hint="Check the permissions of scrubbing_state_file on the state host")

    def _parse(self, text):
        if text is None:
            return empty_document()
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ProviderError("ledger", "%s is not valid JSON (%s)" % (self.path, exc), hint=REPAIR_HINT)
        return check_document(doc, self.path)

    @contextlib.contextmanager
    def transaction(self, dry_run=False):
        if dry_run:  # check mode: work on a copy, write nothing, take no lock
            yield Book(self.read(), self)
            return
        with self._locked():
            doc, lines = self._current()
            book = Book(doc, self, track=True)
            try:
                yield book
            except BaseException:
                self._cache = None  # the document in memory may hold a half-made change
                raise
            changed = book.changes()
            if changed:
                doc["updated_at"] = time.time()
                self._hint = (lines, changed)
                try:
                    self._replace(doc)
                except BaseException:
                    self._cache = None
                    raise

    def _current(self):
        """The document under the lock, and the rendered lines of its records when we wrote it last.

        A run commits a few dozen times; between two of its transactions nobody else wrote when
        the file is still the one we renamed into place (same inode, size and times): then the
        document we hold is the file, and only the records a transaction changed need rendering.
        Anything else (another process wrote, first transaction) parses the file."""
        if self._cache is not None and self._cache[0] == self._identity():
            return self._cache[1], self._cache[2]
        self._cache = None
        return self._parse(self._text()), None

    def _identity(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    # -- the lock -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        directory = os.path.dirname(self.path)
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o700, exist_ok=True)
            # 0600: whoever can open the lock file can flock it, and so hold every run back.
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ProviderError("ledger", "cannot open %s (%s)" % (self.lock_path, exc.strerror),
                                hint="Make scrubbing_state_file point to a writable directory on the state host")
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
            self._acquire(fd)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(claimant(self.operation)).encode(), 0)
            except OSError:
                pass  # the holder note is a courtesy for whoever waits; a full disk must not stop us here
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd):
        """Take the lock, waiting at most ``lock_timeout``: blocked in the kernel, not polling.

        ``flock`` has no timeout of its own, so the blocking call runs in a helper thread on a
        duplicate of ``fd`` (one open file description, one lock) while we wait for it with the
        deadline. Waiters queue in the kernel and the lock passes on the moment it is released,
        instead of every waiter sleeping and retrying while the holder is already done. A helper
        whose caller gave up takes the lock only to drop it at once.
        """
        start = self.clock()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        else:
            self.lock_waits.append(0.0)
            return
        helper_fd = os.dup(fd)
        state = {"granted": False, "abandoned": False, "error": None}
        mutex = threading.Lock()
        granted = threading.Event()

        def wait_in_kernel():
            try:
                fcntl.flock(helper_fd, fcntl.LOCK_EX)
            except OSError as exc:
                state["error"] = exc
            with mutex:
                if state["abandoned"]:
                    if state["error"] is None:
                        fcntl.flock(helper_fd, fcntl.LOCK_UN)
                    os.close(helper_fd)
                    return
                state["granted"] = state["error"] is None
            granted.set()

        threading.Thread(target=wait_in_kernel, daemon=True, name="ddos-scrubbing-ledger-lock").start()
        granted.wait(max(0.0, self.lock_timeout - (self.clock() - start)))
        with mutex:
            if not granted.is_set():
                state["abandoned"] = True
        if state["abandoned"]:
            raise ProviderError(
                "ledger", "the ledger lock %s is held by %s; waited %d s" % (
                    self.lock_path, describe_holder(self._holder(fd)), self.lock_timeout),
                hint="Wait for that run to finish; if that process is gone or stuck, stop it (the lock is "
                     "released when it exits)")
        os.close(helper_fd)  # the lock belongs to the shared file description, which fd keeps
        if state["error"] is not None:  # the helper thread's OSError (pylint sees only the initial None)
            raise state["error"]  # pylint: disable=raising-bad-type
        self.lock_waits.append(self.clock() - start)

    @staticmethod
    def _holder(fd):
        try:
            return json.loads(os.pread(fd, 4096, 0).decode() or "null")
        except (OSError, ValueError):
            return None

    def _replace(self, doc):
        directory = os.path.dirname(self.path)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".ledger-", dir=directory)
            lines, changed = self._hint or (None, ())
            self._hint = None
            text, lines = render_lines(doc, lines, changed)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
            tmp = None
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self._cache = (self._identity(), doc, lines)
        except OSError as exc:
            raise ProviderError("ledger", "cannot write %s (%s)" % (self.path, exc.strerror or exc), hint=(
                "Free space on the state host's filesystem" if exc.errno == errno.ENOSPC else
                "Make the directory writable (check permissions and chattr -i)") +
                "; then run the reconcile playbook, which re-reads the providers")
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    # -- claims ---------------------------------------------------------------------------------
    @staticmethod
    def take_claims(current, who, now):
        return [name for name, claim in current.items() if not _file_claim_is_live(claim, who, now)]

    def drop_claim(self, name):
        pass

    @staticmethod
    def claim_holder(name, recorded):
        return recorded  # the record is the claim here

    @staticmethod
    def holds_claim(name):
        return True  # the record is the claim here: Book.holds_claim compares it

    def close(self):
        pass


def render(doc):
    return render_lines(doc)[0]


def render_lines(doc, lines=None, changed=()):
    """(JSON text, its record lines) of the document, one line per integration and per workspace:
    ``grep`` and ``diff`` find a record at a glance, json's C encoder writes it (``indent`` falls
    back to the pure Python encoder), and with the ``lines`` of the last rendering only the
    ``changed`` records are encoded again."""
    parts, out = [], {}
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, dict) and key in ("workspaces", "integrations") and value:
            known = (lines or {}).get(key, {})
            section = out[key] = {}
            for name in sorted(value):
                line = known.get(name) if (key, name) not in changed else None
                section[name] = line if line is not None else "  %s: %s" % (
                    json.dumps(name), json.dumps(value[name], sort_keys=True))
            parts.append(" %s: {\n%s\n }" % (json.dumps(key), ",\n".join(section[n] for n in sorted(section))))
        else:
            parts.append(" %s: %s" % (json.dumps(key), json.dumps(value, sort_keys=True)))
    return "{\n" + ",\n".join(parts) + "\n}\n", out


def _file_claim_is_live(claim, who, now, stale_after=STALE_CLAIM):
    if not claim:
        return False
    if claim.get("host") == who["host"] and claim.get("pid") == who["pid"]:
        return False  # our own
    if now - claim.get("at", 0) > stale_after:
        return False
    if claim.get("host") == who["host"]:
        try:
            os.kill(int(claim["pid"]), 0)
        except (OSError, ValueError, KeyError):
            return False  # that run died (e.g. kill -9): its claim is void
    return True
