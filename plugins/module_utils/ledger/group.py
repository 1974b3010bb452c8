# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Group commit: one writer per run, every change queued meanwhile committed in its transaction.

A run's pipelines all want the ledger at about the same moments (their intents after the reads,
their outcomes after the writes). Each taking the lock for its own transaction makes a convoy:
every transaction rewrites and syncs the whole document, so N integrations cost N rewrites of a
document that grows with N. Here a pipeline hands its change to ``GroupCommit.apply`` and waits;
the first thread to find nobody writing becomes the writer, commits its change together with
every change queued behind the one in progress, then hands the pen to the next waiter. Each
caller returns only once *its* change is durable, so "intent before write, outcome after" holds
per integration exactly as with one transaction each; 200 intents cost one or two rewrites.

A change that raises (a refused event, say) must not take its neighbours with it, nor leave a
half-made edit: the batch is discarded and committed again without it.
"""

from __future__ import annotations

import threading


class _Entry:
    __slots__ = ("change", "done", "lead", "result", "error")

    def __init__(self, change):
        self.change = change
        self.done = threading.Event()
        self.lead = False  # handed the pen: this waiter writes the next batch
        self.result = None
        self.error = None


class GroupCommit:
    """Serialise a run's ledger changes through one writer, batching what queues up."""

    def __init__(self, ledger, dry_run=False):
        self.ledger = ledger
        self.dry_run = dry_run
        self._mutex = threading.Lock()
        self._queue = []
        self._writing = False
        self.transactions = 0  # committed batches, for the benchmark and the tests
        self.largest_batch = 0

    def apply(self, change):
        """Run ``change(book)`` in a committed ledger transaction; return its result or raise its error."""
        entry = _Entry(change)
        with self._mutex:
            self._queue.append(entry)
            if not self._writing:
                self._writing = True
                entry.lead = True
        while not entry.lead and not entry.done.is_set():
            entry.done.wait()
            if entry.lead:
                entry.done.clear()
        if entry.lead and not entry.done.is_set():
            self._write()
        if entry.error is not None:
            raise entry.error
        return entry.result

    def _write(self):
        """Commit everything queued (ours first), then pass the pen to the next waiter, if any."""
        try:
            with self._mutex:
                batch, self._queue = self._queue, []
            self._commit(batch)
        finally:
            with self._mutex:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._writing = False

    def _commit(self, batch):
        while batch:
            failed = None
            try:
                with self.ledger.transaction(dry_run=self.dry_run) as book:
                    for entry in batch:
                        try:
                            entry.result = entry.change(book)
                        except Exception as exc:  # pylint: disable=broad-except
                            failed = entry
                            failed.error = exc
                            # leaving the block by this exception writes nothing of this batch
                            raise _Discard() from exc
            except _Discard:
                batch = [e for e in batch if e is not failed]
                failed.done.set()
                continue
            except Exception as exc:  # pylint: disable=broad-except
                # the ledger itself failed (lock timeout, disk full, database gone): nothing of the
                # batch is recorded, and every caller learns it
                for entry in batch:
                    entry.error = exc
                    entry.done.set()
                return
            self.transactions += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            for entry in batch:
                entry.done.set()
            return


class _Discard(Exception):
    """Abandons a batch's transaction without writing it (one of its changes failed)."""
