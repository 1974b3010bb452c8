# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The converge loop: the integrations a run must change in, provider calls out, each on its own.

A run records its event and *claims* the integrations whose wanted state it must bring about
(one short ledger transaction). Then every claimed integration goes through its own pipeline,
in its own thread, never waiting for another integration's provider:

    read + plan  ->  ledger: intent (+ the pre-change snapshot)  ->  provider write (+ wait)
                 ->  ledger: outcome, claim released

so a hung or rate-limited provider delays nobody else. The ledger steps of all pipelines go
through one writer (``ledger.group``): what arrives while it commits is committed together, so
200 intents cost one or two ledger rewrites, not 200 turns of a lock. The pipelines run in a
bounded pool (``workers``) in which a slow call stops counting after ``SLOW_CALL`` seconds, so
a burst never opens a thousand connections at once and a hung provider never holds a slot that
another integration waits for. The run stops waiting at its deadline
(``scrubbing_deadline``): what is not done then is reported pending with the phase it was in;
its intent is in the ledger and ``reconcile`` finishes it. When every pipeline is done the run
re-decides (events may have arrived meanwhile) and loops.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid

from ansible_collections.ddos.scrubbing.plugins.module_utils import _http
from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import execute, plan_change
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import (
    Decision, decide, routes_for, snapshot_to_restore)
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine import report
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import claimant, describe_holder
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.group import GroupCommit

MAX_ROUNDS = 5
DEFAULT_DEADLINE = 120
DEFAULT_WORKERS = 64
SLOW_CALL = 2.0  # seconds after which a pipeline no longer holds a worker slot


class Pool:
    """Runs pipelines on at most ``size`` worker threads at once, counting only the quick ones.

    The workers are started once per batch and each takes the next pipeline when it is done with
    one: starting a thread costs about 2 ms while others hold the GIL, and a thread per pipeline
    spent 0.43 s of a 200-integration run on starting them, one after the other (issue 18).
    A slot bounds a burst (threads, connections, the provider's rate limits), not patience: a
    pipeline still running after ``slow_after`` seconds gives its slot back (its worker stops when
    that pipeline ends, and a new worker takes the queue), so a hung provider delays the
    integrations queued behind it by ``slow_after`` at most, once.
    """

    def __init__(self, size, slow_after=None, monotonic=time.monotonic):
        self.size = max(1, int(size or DEFAULT_WORKERS))
        self.slow_after = SLOW_CALL if slow_after is None else slow_after
        self.monotonic = monotonic

    def run(self, jobs, ends_at):
        """Run ``(name, func)`` jobs in order; return once all have ended, or at ``ends_at``, what
        became of each: {name: "finished" | "running" | "waiting"} (waiting: never started)."""
        queue = collections.deque(jobs)
        state = {name: "waiting" for name, _func in jobs}
        slots = set()  # the workers that count against size
        since = {}  # worker -> when its current pipeline started
        finished = []
        changed = threading.Condition()

        def work():
            me = threading.current_thread()
            while True:
                with changed:
                    if me not in slots or not queue:
                        slots.discard(me)
                        changed.notify_all()
                        return
                    name, func = queue.popleft()
                    state[name] = "running"
                    since[me] = self.monotonic()
                try:
                    func()
                finally:
                    with changed:
                        state[name] = "finished"
                        finished.append(name)
                        del since[me]
                        changed.notify_all()

        with changed:
            while True:
                now = self.monotonic()
                for worker in [w for w in slots if w in since and now - since[w] >= self.slow_after]:
                    slots.discard(worker)  # slow: it keeps running, without a slot
                idle = len(slots) - sum(1 for w in slots if w in since)
                wanted = min(self.size - len(slots), len(queue) - idle)
                if wanted > 0:
                    # daemon threads: a provider still hanging at the deadline must not keep the run alive
                    new = [threading.Thread(target=work, daemon=True, name="ddos-scrubbing-worker")
                           for _n in range(wanted)]
                    slots.update(new)
                    changed.release()  # started outside the lock: each one takes a pipeline at once
                    try:
                        for worker in new:
                            worker.start()
                    finally:
                        changed.acquire()
                    continue
                if now >= ends_at or len(finished) == len(state):
                    queue.clear()  # what has not started by now never starts: the run reports it waiting
                    return dict(state)
                next_slow = min([since[w] + self.slow_after for w in slots if w in since], default=ends_at)
                changed.wait(max(0.0, min(ends_at, next_slow) - now))


class ClaimLost(ProviderError):
    """Another run took the integration over: this run must neither write nor record anything for it."""


class Task:
    """One integration's pipeline in this run."""

    def __init__(self, integ, decision, snapshot, manual=False, routes=None):
        self.integ = integ
        self.decision = decision
        self.snapshot = snapshot
        self.routes = routes  # per-target mechanisms: their targets and the incidents' attack details
        self.manual = manual  # a manual button: not re-decided from the incidents
        self.phase = "waiting to start"
        self.result = None
        self.times = {}  # epoch seconds the provider write was sent and answered, for the row
        self.served = []  # the incidents the ledger had it on for when this run claimed it


class Converger:
    """One run: its integrations, its ledger, its deadline, and the loop that converges them."""

    def __init__(self, integrations, ledger, check_mode=False, hold_down=0, deadline=DEFAULT_DEADLINE,
                 event_window=300, clock=time.time, monotonic=time.monotonic, wait_override=None,
                 operation="run", workers=DEFAULT_WORKERS, safelist=()):
        self.integrations = {i.name: i for i in integrations}
        self.safelist = safelist  # the playbook-wide scrubbing_safelist, as networks
        self.ledger = ledger
        self.check_mode = check_mode
        self.hold_down = hold_down or 0
        self.deadline = deadline if deadline and deadline > 0 else DEFAULT_DEADLINE
        self.event_window = event_window
        self.clock = clock
        self.monotonic = monotonic
        self.wait_override = wait_override
        self.secrets = sorted({s for i in integrations for s in i.secrets})
        self.warnings = []
        self.who = claimant(operation)
        self.pool = Pool(workers, monotonic=monotonic)
        self.commits = GroupCommit(ledger, dry_run=check_mode)
        self.run_id = uuid.uuid4().hex[:12]  # names this run in the audit trail
        self._ends_at = None

    # the run -------------------------------------------------------------------------------
    def _converge(self, scope, event, force_state=None, refused=None):
        self._ends_at = self.monotonic() + self.deadline
        force_state = dict(force_state or {})
        refused = refused if refused is not None else {}
        results, done_keys = {}, {}
        rounds, pause = 0, 0.02
        while True:
            def claim(book, event=event):
                if event is not None:
                    event(book)
                return self._claim(book, scope, force_state, refused, results, done_keys)
            # apply() returns what claim() returns (pylint reads the writer's initial None)
            tasks, busy = self.commits.apply(claim)  # pylint: disable=unpacking-non-sequence
            event = None
            if tasks:
                rounds += 1
                for task in tasks:
                    force_state.pop(task.integ.name, None)
                finished = self._run(tasks)
                for task in tasks:
                    # the incidents it acted for (a withdrawal: the ones it had served), for the trail and notify
                    results[task.integ.name] = dict(task.result, incidents=task.decision.incidents or task.served)
                    if task.result and not task.result.get("failed") and not task.result.get("superseded"):
                        done_keys[task.integ.name] = task.decision.key()
                if not finished or self.check_mode or rounds >= MAX_ROUNDS:
                    break
                pause = 0.02
                continue  # events may have arrived meanwhile: decide again
            if not busy:
                break
            # Another live run is changing what this run's event needs (a withdrawal decided before
            # our incident was recorded, say): wait for it to finish, then decide again, so that
            # when this run ends its event has been served.
            if self.monotonic() + pause >= self._ends_at:
                for name in busy:
                    results[name] = dict(results[name], failed=True, pending=True, msg=(
                        "pending: %s until scrubbing_deadline=%ss; run the reconcile playbook" % (
                            results[name]["reason"], self.deadline)))
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        for name, message in refused.items():
            results[name] = {"integration": name, "action": "none", "changed": False, "failed": True,
                             "msg": message}
        self.warnings.extend(getattr(self.ledger, "notes", ()))
        failed = sorted(n for n, r in results.items() if r.get("failed"))
        return {"integrations": results, "changed": any(r.get("changed") for r in results.values()),
                "failed": failed}

    def _claim(self, book, scope, force_state, refused, results, done_keys):
        """(tasks this run now holds, names another live run holds)."""
        now = self.clock()
        due = []  # (integration, its record, decision): what this round must write, claimed together below
        for name in scope:
            if name in refused:
                continue
            integ = self.integrations[name]
            rec = book.integration(name)
            rec.update(provider=integ.provider, workspace=integ.workspace)
            if name in force_state:
                wanted = force_state[name]
                decision = Decision(wanted, "manual activation" if wanted else "manual withdrawal",
                                    targets=None if not integ.per_target else ([] if not wanted else None))
            else:
                decision = decide(book.doc, integ, now, self.hold_down, self.safelist)
            for warning in decision.warnings:
                if warning not in self.warnings:  # decided again each round: said once
                    self.warnings.append(warning)
            if decision.wanted is None:
                results.setdefault(name, {"integration": name, "provider": integ.provider, "action": "none",
                                          "changed": False, "active": rec["active"], "reason": decision.reason})
                continue
            if results.get(name, {}).get("failed") and name not in force_state:
                continue  # failed in this run already; reconcile retries it
            if done_keys.get(name) == decision.key() and not rec.get("pending"):
                continue  # converged by this run already
            due.append((integ, rec, decision))
        names = [integ.name for integ, _rec, _decision in due]
        taken = set(names if self.check_mode else book.claim_all(names, self.who, now))
        tasks, busy = [], []
        for integ, rec, decision in due:
            name = integ.name
            if name not in taken:
                results[name] = {"integration": name, "provider": integ.provider, "action": "none",
                                 "changed": False, "active": rec["active"],
                                 "reason": "another run (%s) is changing it" % describe_holder(book.holder(name))}
                busy.append(name)
                continue
            tasks.append(Task(integ, decision, snapshot_to_restore(rec), manual=name in force_state,
                              routes=routes_for(book.doc, integ, decision.targets)))
            tasks[-1].served = list(rec.get("incidents") or [])
        return tasks, busy

    def _run(self, tasks):
        """Start every pipeline; wait for all of them, at most until the deadline. True if all finished."""
        ended = self.pool.run([(t.integ.name, lambda t=t: self._pipeline(t)) for t in tasks], self._ends_at)
        finished = True
        for task in tasks:
            if ended[task.integ.name] != "finished":
                finished = False
                if ended[task.integ.name] == "waiting":
                    task.phase = "waiting for a worker (scrubbing_workers)"
                task.result = report.pending_row(task, self.deadline)
        return finished

    def _pipeline(self, task):
        if task.integ.on_server:
            self._hand_over(task)
            return
        integ, decision = task.integ, task.decision
        name = integ.name
        wanted = bool(decision.wanted)
        _http.set_deadline(self._ends_at)
        provider = integ.new_provider(routes=task.routes)
        plan = after = None
        written = False
        try:
            task.phase = "reading %s" % integ.provider
            plan = plan_change(provider, "active" if wanted else "inactive", task.snapshot)
            if plan.changed and not self.check_mode:
                task.phase = "recording the intent"

                def intent(book):
                    if not book.holds_claim(name, self.who):
                        # This run was presumed lost (frozen, cut off) and another run took the
                        # integration over: it is theirs now, nothing may be written from here.
                        raise ClaimLost(integ.provider, "not written: another run took over this integration "
                                        "while this run was unresponsive; it finishes the job")
                    if self._no_longer_supported(book, task):
                        return False
                    book.write_intent(name, "activate" if wanted else "withdraw",
                                      plan.snapshot if wanted else book.integration(name)["snapshot"], self.clock())
                    return True
                if not self.commits.apply(intent):
                    task.result = report.superseded_row(task)
                    return
                task.phase = "writing to %s" % integ.provider
                wait = self.wait_override if self.wait_override is not None else provider.params.get("wait", True)
                task.times["sent"] = self.clock()
                after = execute(plan, wait=wait, wait_timeout=provider.params.get("wait_timeout", 300),
                                wait_sleep=provider.params.get("wait_sleep"))
                task.times["answered"] = self.clock()
                written = True
            task.phase = "recording the outcome"
            if not self.check_mode:
                def outcome(book):
                    book.record_success(name, wanted, plan.snapshot, plan.changed, self.clock(),
                                        decision.incidents, decision.targets, expired=decision.expired)
                    book.release(name)
                self.commits.apply(outcome)
            task.result = self._scrub(report.success_row(task, provider, plan, after, self.check_mode))
        except Exception as exc:  # a provider bug must not kill the other integrations
            error = exc if isinstance(exc, ProviderError) else ProviderError(
                integ.provider, "unexpected error: %r" % exc)
            task.result = report.failure_row(task, provider, self._scrub(str(error)), landed=written)
            if not self.check_mode and not isinstance(exc, ClaimLost):
                self._note_failure(name, task.result["msg"])
        finally:
            provider.close()

    def _no_longer_supported(self, book, task):
        """Before an intent: has an event arrived since the claim (an incident opened while we were
        about to withdraw)? Then the decision is not written, and the claim is released."""
        if task.manual or decide(book.doc, task.integ, self.clock(), self.hold_down,
                                 self.safelist).key() == task.decision.key():
            return False
        book.release(task.integ.name)
        return True

    def _hand_over(self, task):
        """A protected server's own firewall is written over the server's own connection, by the
        play's per-host outcome task (ddos.scrubbing.outcome), not from here: the run records the
        intent (re-decided like any write) and hands the decision over; the role's next task
        records what each server reported (the ``record`` operation)."""
        integ, decision = task.integ, task.decision
        name = integ.name
        try:
            if not self.check_mode:
                def intent(book):
                    if self._no_longer_supported(book, task):
                        return False
                    rec = book.integration(name)
                    book.write_intent(name, "activate" if decision.wanted else "withdraw", rec["snapshot"] or
                                      {"present": False}, self.clock())
                    book.release(name)  # the claim is this process's; the server's task runs in others
                    return True
                if not self.commits.apply(intent):
                    task.result = report.superseded_row(task)
                    return
            task.result = report.handed_over_row(task)
        except ProviderError as exc:
            task.result = report.failure_row(task, _NoCalls(), self._scrub(str(exc)))

    def _note_failure(self, name, message):
        def failure(book):
            if book.holds_claim(name, self.who):  # else another run took it over: theirs to record
                book.record_failure(name, message, self.clock())
                book.release(name)
        try:
            self.commits.apply(failure)
        except ProviderError:
            # the ledger itself failed (disk full, database gone): the claim dies with this run
            self.ledger.drop_claim(name)

    # helpers ------------------------------------------------------------------------------------
    def run_stamp(self, now):
        """Who and when, for a line of the audit trail."""
        return {"at": now, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "run": self.run_id,
                "host": self.who["host"], "pid": self.who["pid"], "operation": self.who["operation"]}

    def _bounded(self, names, func, on_timeout):
        """Run ``func(name)`` for every name on the pool's workers, until the deadline."""
        self._ends_at = self.monotonic() + self.deadline
        out = {}

        def one(name):
            _http.set_deadline(self._ends_at)
            try:
                out[name] = func(name)
            except Exception as exc:  # pylint: disable=broad-except
                out[name] = on_timeout(name, self._scrub("unexpected error: %r" % exc))
        ended = self.pool.run([(n, lambda n=n: one(n)) for n in names], self._ends_at)
        for name in names:
            if ended[name] != "finished":
                out[name] = on_timeout(name, "no answer within scrubbing_deadline=%ss" % self.deadline)
        return {n: out[n] for n in names}

    def _txn(self):
        """One ledger transaction outside a run's pipelines (they go through ``self.commits``)."""
        return self.ledger.transaction(dry_run=self.check_mode)

    def _known(self, names):
        unknown = [n for n in names if n not in self.integrations]
        if unknown:
            raise InputError("scrubbing", "unknown integration(s): %s" % ", ".join(unknown),
                             hint="Use inventory hosts of the group scrubbing_integrations")

    def _scrub(self, value):
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        return value


class _NoCalls:
    """A provider stand-in for a row about an integration this process never called."""

    warnings = ()

    @staticmethod
    def api_calls():
        return []
