# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ddos.scrubbing.incident_webhook: the detectors' webhook, as an ansible-rulebook event source.

Two listeners, each with its own authentication, so that where an event came from is a fact
the payload cannot change:

- ``flowtriq_port``: ``POST /flowtriq/<workspace>`` with a Flowtriq webhook body, signed with
  ``flowtriq_secret`` (``X-Flowtriq-Signature: sha256=<hex HMAC-SHA256 of the body>``);
- ``internal_port``: ``POST /fastnetmon/<workspace>`` (the FastNetMon notify adapter) and
  ``POST /incident`` (a generic ``{"incident": {...}}``), with ``Authorization: Bearer <internal_token>``.

Every request is answered at once, before any playbook runs: 202 queued, 200 noted (nothing to
do), 401 not authenticated, 400 not JSON, 404 no such path, 409 already received, 422 refused
(stale timestamp, a field that does not fit). The reason is in the JSON answer and in the
rulebook's log, with a running count. Accepted events wait in one queue per workspace (order
kept) and are handed to the rulebook round-robin across workspaces, so a storm in one workspace
does not hold back another.

The event given to the rules is ``{"ddos_scrubbing": {"verdict": "incidents", "listener":
"flowtriq"|"internal", "workspace", "source", "incidents": [{...}, ...]}}`` (one workspace's
incidents, in the order received), ``{"ddos_scrubbing": {"verdict": "noted"|"refused",
"listener", "path", "reason", "count"}}``, or ``{"ddos_scrubbing": {"verdict": "tick"}}`` every
``tick`` seconds (default 30; 0: never), on which the rulebook runs ``reconcile``; each incident has the shape the
``ddos.scrubbing.incident`` playbook takes and has been checked with the playbook's own rules
(plugins/module_utils/_incident.py), so a refusal here reads the same as one there. Signed
Flowtriq events must carry a ``timestamp`` within ``event_window`` seconds of their arrival,
and a signature is accepted once within that window (replays are refused); the timestamp and
the signature (as ``delivery``) go on to the ledger, which refuses replays across rulebook
instances too. See docs/detectors.md.

The door: a body larger than ``max_body`` bytes is answered 413, a body that is not strict JSON
(``NaN``, ``Infinity``, a number out of range, nesting deeper than ``max_depth``) 400, a request
whose headers do not arrive within ``header_timeout`` seconds is closed, one whose body does not
arrive within it 408; past ``max_connections`` open connections per listener, the oldest
connection is closed to make room (a flood of silent connections cannot lock a detector out).
What passes is plain JSON the rules engine takes, so one bad event can never sink the batch it
would have travelled in. Each accepted event is stamped ``received`` (its arrival, epoch
seconds): the timestamp window is judged once, at arrival, by the same rule the ledger applies
(``_policy.event_refusal``), so an event that waits behind a slow run is not refused later.
A replay is recognised by the signature's canonical form (``sha256=`` + lowercase hex),
however the header spelled it.

The log tells an incident's way through: each queued incident with its delivery id (the
FastNetMon adapter logs the same id; the ledger keeps it), each batch handed to the rules with
how long its first event waited. At start, one ``noted`` event ("ready: ...") goes through the
rules, so that the first attack's event meets a rules engine that has matched before.

The feed: each batch handed to the rules carries a lease (``feed``: the socket and the lease),
which the run it starts claims over a local Unix socket; from then on the workspace's events wait
for that run, which takes them in as it goes (``serve_run``; the run's side and the protocol:
plugins/plugin_utils/_feed.py). A storm is then about one run per workspace.

Arguments: host (127.0.0.1), flowtriq_port, flowtriq_secret, internal_port, internal_token,
event_window (300), batch_window (2.0 seconds: while a workspace's run is probably still going, its
next events gather for that long and go to one run together, in order), feed (true), max_body
(65536 bytes), max_depth (32), header_timeout (5 seconds), max_connections (per listener; default
a quarter of the process's open-file limit, at most 1024), tick (30 seconds).
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
short_description: Receive DDoS incident events from detectors (Flowtriq, FastNetMon, generic JSON).
description:
  - An ansible-rulebook event source with two HTTP listeners, each with its own authentication, so
    that where an event came from is a fact the payload cannot change.
  - The signed listener (O(flowtriq_port)) takes C(POST /flowtriq/<workspace>), a Flowtriq webhook
    signed with O(flowtriq_secret) in C(X-Flowtriq-Signature) (C(sha256=) and the hex HMAC-SHA256
    of the body).
  - 'The internal listener (O(internal_port)) takes C(POST /fastnetmon/<workspace>) (the FastNetMon
    notify adapter) and C(POST /incident) (a generic C({"incident": {...}})), with
    C(Authorization: Bearer) and O(internal_token).'
  - Every request is answered at once, before any playbook or job runs - 202 queued, 200 noted,
    401 not authenticated, 400 not JSON, 404 no such path, 409 already received, 422 refused (a
    stale timestamp, a field that does not fit). The reason is in the JSON answer and in the log.
  - Each incident is checked with the rules of the C(ddos.scrubbing.incident) playbook. Events
    wait in one queue per workspace (order kept); an event given to the rules is
    C(event.ddos_scrubbing) with C(verdict) (V(incidents), V(noted) or V(refused)), C(listener),
    C(workspace), C(source) and C(incidents), the workspace's incidents in the order received.
  - The rulebooks C(ddos.scrubbing.incident_webhook) (run_playbook) and
    C(ddos.scrubbing.incident_controller) (run_job_template, for EDA controller) use it.
options:
  host:
    description:
      - The address both listeners bind to. Put a TLS reverse proxy in front for remote detectors.
    type: str
    default: "127.0.0.1"
  flowtriq_port:
    description:
      - The TCP port of the signed Flowtriq listener.
    type: int
    required: true
  flowtriq_secret:
    description:
      - The secret set on the Flowtriq webhook, at least 16 characters.
    type: str
    required: true
  internal_port:
    description:
      - The TCP port of the internal listener (FastNetMon adapter, generic incidents).
    type: int
    required: true
  internal_token:
    description:
      - The bearer token of the internal listener, at least 16 characters.
    type: str
    required: true
  event_window:
    description:
      - Seconds an event's timestamp may differ from now; older (or future) events and replayed
        signatures are refused. Keep it equal to the inventory's C(scrubbing_event_window).
    type: int
    default: 300
  batch_window:
    description:
      - Seconds a workspace's next events gather while its run is probably still going; they then
        go to one run together, in order. They go sooner when the workspace has had no new event for
        0.3 seconds, at most once in a row.
    type: float
    default: 2.0
  max_body:
    description: Bytes a request body may have; a larger one is answered 413.
    type: int
    default: 65536
  max_depth:
    description: Nesting a JSON body may have; a deeper one is answered 400.
    type: int
    default: 32
  header_timeout:
    description: Seconds a request may take to send its headers, and then its body (408).
    type: float
    default: 5
  max_connections:
    description:
      - Open connections per listener; past it the oldest is closed. V(0) is a quarter of the open-file limit,
        at most 1024.
    type: int
    default: 0
  feed:
    description:
      - Let the playbook run of a workspace take in that workspace's next events while it goes, through a
        local socket (0600, in a private directory; each batch carries its own lease), instead of a new run per
        batch. A run ends after 1 second without a new event; events it took but did not record go to the next
        run. V(false) when the runs cannot reach this process (an EDA controller launching AWX jobs).
    type: bool
    default: true
  tick:
    description:
      - "Seconds between two tick events (verdict C(tick)), on which the rulebook runs C(reconcile): escalation
        (C(scrubbing_escalate_after)) and expiry (C(scrubbing_max_active)) need no detector event. V(0) sends
        none (under AWX, a schedule runs C(reconcile))."
    type: float
    default: 30
"""

EXAMPLES = r"""
- ddos.scrubbing.incident_webhook:
    host: 127.0.0.1
    flowtriq_port: 5000
    flowtriq_secret: "{{ flowtriq_secret }}"
    internal_port: 5001
    internal_token: "{{ internal_token }}"
    event_window: 300
    batch_window: 2.0
"""

import asyncio
import collections
import hashlib
import hmac
import json
import logging
import math
import os
import re
import resource
import secrets
import shutil
import sys
import tempfile
import threading
import time

from aiohttp import web

# The shape rules live in the collection's module_utils; this file sits in
# <root>/ansible_collections/ddos/scrubbing/extensions/eda/plugins/event_source/.
_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 7))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError  # noqa: E402
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import (  # noqa: E402
    NAME_PATTERN, parse_timestamp, validate_incident)
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import event_refusal  # noqa: E402

logger = logging.getLogger("ddos.scrubbing.incident_webhook")

# attack_update becomes "updated" when it reports a peak (peak_bps / peak_pps): the size can only
# raise an open incident's, which can bring in a tier set with scrubbing_min_bps / scrubbing_min_pps
FLOWTRIQ_EVENTS = {"attack_start": "started", "attack_update": "updated", "attack_end": "resolved"}
FLOWTRIQ_SIZE = {"peak_bps": "bps", "peak_pps": "pps"}
FLOWTRIQ_NOTED = ("attack_update", "test")
# What of Flowtriq's incident and node is kept as details (free text, stored as data).
FLOWTRIQ_DETAILS = ("uuid", "title", "severity", "peak_pps", "peak_bps", "source_ip_count", "started_at", "ai_summary",
                    "dashboard_url")
PATH = re.compile(r"(flowtriq|fastnetmon)/([^/]*)|incident")
MAX_BATCH = 100  # incidents handed to one playbook run at most
# Seconds without a new event after which a workspace that had a batch recently sends its next one
# before batch_window has passed (Intake.due).
QUIET = 0.3
TICK = 30.0  # seconds between two reconcile runs the rulebook starts on its own (0: none)
MAX_BODY = 64 * 1024  # a Flowtriq or FastNetMon event is a few KiB
MAX_DEPTH = 32  # nesting of a body; details deeper than this are no detector's
HEADER_TIMEOUT = 5.0  # seconds a connection may take to send a request's headers, and then its body
ACCEPT_BATCH = 128  # listen backlog, and the most connections accepted before the cap applies
MAX_INT = 2 ** 63  # integers beyond a signed 64-bit one are refused (the rules engine is Java)
# Seconds a run that has taken events from the feed waits for its workspace's next one before it
# ends: a storm's events come closer together than that; a lone event's run does not wait at all.
FEED_LINGER = 1.0
# Seconds a workspace's events wait for the run of its newest batch to claim the feed before they go to
# a batch of their own: a run starts in about a second, several at once on a busy machine in a few;
# one that never claims (killed before its task, or it cannot reach the socket) delays them this long.
CLAIM_WAIT = 10.0


class Refused(Exception):
    """An authenticated request that is not an event we act on; ``status`` is the HTTP answer."""

    def __init__(self, reason, status=422, verdict="refused"):
        super().__init__(reason)
        self.reason, self.status, self.verdict = reason, status, verdict


class Intake:
    """Checks, de-duplicates and queues events; hands them to the rulebook in order."""

    def __init__(self, queue, window, batch_window=2.0, clock=time.time):
        self.queue, self.window, self.batch_window, self.clock = queue, window, batch_window, clock
        # (listener, workspace) -> deque of incidents, FIFO; refusals and notes wait under None
        self.pending = collections.OrderedDict()
        self.last_batch = {}  # (listener, workspace) -> when its last batch went to the rules
        self.last_arrival = {}  # (listener, workspace) -> when its newest pending event arrived
        self.went_early = {}  # (listener, workspace) -> its last batch went before batch_window (it fell quiet)
        self.seen = {}  # signature or delivery id -> when it expires
        self.counts = collections.Counter()
        self.wakeup = asyncio.Event()
        self.arrival = asyncio.Event()  # set, and replaced, on each queued event (a run waiting on the feed)
        self.loop = None  # the rulebook's event loop, where the queue and feed() live
        # The feed (serve_run): a batch handed to the rules carries a lease; the run it starts may
        # claim it and take in its workspace's next events. Only the newest batch's lease can be
        # claimed, so a run never takes events that a batch queued behind it would have recorded
        # first.
        self.feed_socket = None  # path of the Unix socket, None when the feed is off
        self.leases = {}  # key -> the lease of its newest batch, until that batch's run ends
        self.issued = {}  # key -> when its newest batch went, until its run claims the feed
        self.live = {}  # key -> the lease of the run taking its events now: they wait for it

    # -- what an event means -------------------------------------------------------------------
    def flowtriq(self, workspace, body, signature, arrival):
        if not isinstance(body, dict):
            raise Refused("a Flowtriq webhook body is a JSON object with event_type, timestamp, incident and node")
        kind = body.get("event_type")
        incident = body.get("incident") if isinstance(body.get("incident"), dict) else {}
        size = {ours: incident[theirs] for theirs, ours in FLOWTRIQ_SIZE.items() if incident.get(theirs) is not None}
        if kind == "attack_update" and not size:
            raise Refused("Flowtriq attack_update without peak_bps or peak_pps noted; nothing to do", status=200,
                          verdict="noted")
        if kind in FLOWTRIQ_NOTED and kind != "attack_update":
            raise Refused("Flowtriq %s event noted; nothing to do" % kind, status=200, verdict="noted")
        if kind not in FLOWTRIQ_EVENTS:
            raise Refused("unknown Flowtriq event_type %s (known: %s)" % (
                _show(kind), ", ".join(sorted(FLOWTRIQ_EVENTS) + list(FLOWTRIQ_NOTED))))
        self.check_time(body.get("timestamp"), arrival, required=True)
        node = body.get("node") if isinstance(body.get("node"), dict) else {}
        if incident.get("id") in (None, ""):
            raise Refused("Flowtriq %s without incident.id" % kind)
        if kind == "attack_start" and node.get("ip_address") in (None, ""):
            raise Refused("Flowtriq attack_start without node.ip_address (the attacked address)")
        details = {k: incident[k] for k in FLOWTRIQ_DETAILS if incident.get(k) is not None}
        if node.get("name") is not None:
            details["node"] = node["name"]
        event = {"id": "flowtriq-%s" % (incident["id"],), "status": FLOWTRIQ_EVENTS[kind], "workspace": workspace,
                 "source": "flowtriq", "timestamp": body.get("timestamp"), "delivery": signature,
                 "details": details, "received": arrival}
        if node.get("ip_address") not in (None, ""):
            event["target"] = node["ip_address"]
        attack = dict(size)
        if incident.get("attack_family") not in (None, ""):
            attack["family"] = incident["attack_family"]
        if attack:
            event["attack"] = attack
        return event

    def internal(self, path, workspace, body, arrival):
        if isinstance(body, dict) and ("event_type" in body or (
                isinstance(body.get("incident"), dict) and body["incident"].get("source") == "flowtriq")):
            raise Refused("a Flowtriq event on the internal listener: Flowtriq events are accepted only on the "
                          "signed listener (POST /flowtriq/<workspace>), where their signature is checked")
        if not isinstance(body, dict) or not isinstance(body.get("incident"), dict):
            raise Refused("the body must be {\"incident\": {\"id\": ..., \"status\": \"started\"|\"resolved\", ...}}")
        event = dict(body["incident"])
        if path == "fastnetmon":
            if event.get("workspace") not in (None, workspace):
                raise Refused("incident.workspace %s differs from the path's workspace %s" % (
                    _show(event["workspace"]), workspace))
            event.update(workspace=workspace, source="fastnetmon")
        elif event.get("source") in (None, ""):
            event["source"] = "webhook"  # said so, so that the rules can tell it from Flowtriq
        self.check_time(event.get("timestamp"), arrival, required=False)
        event["received"] = arrival  # ours: whatever the body said is replaced
        event.pop("redelivered", None)  # ours too (release): a detector cannot say it
        return event

    def check_time(self, value, arrival, required):
        try:
            stamp = parse_timestamp(value)
        except InputError as exc:
            raise Refused(_reason(exc))
        if stamp is None:
            if required:
                raise Refused("no timestamp: signed events must say when they were sent (ISO-8601 UTC), so that a "
                              "captured one cannot be replayed later")
            return
        refusal = event_refusal({"timestamp": stamp, "received": arrival}, arrival, self.window, "event_window")
        if refusal:
            raise Refused(refusal)

    def first_delivery(self, key):
        """False if ``key`` (a signature or delivery id) was already accepted within the window."""
        now = self.clock()
        for old in [k for k, expiry in self.seen.items() if expiry < now]:
            del self.seen[old]
        if key in self.seen:
            return False
        self.seen[key] = now + 2 * self.window  # a timestamp may lie up to one window either side of now
        return True

    # -- intake --------------------------------------------------------------------------------
    def accept(self, listener, path, verdict, incident=None, reason=None):
        """Count and log what happened to one request; queue it for the rules. Returns the count."""
        self.counts[verdict] += 1
        count = self.counts[verdict]
        if verdict == "refused":
            logger.warning("ddos.scrubbing: refused event %d on %s /%s: %s", count, listener, path, reason)
        elif verdict == "noted":
            logger.info("ddos.scrubbing: %s (/%s)", reason, path)
        if incident is None:  # told to the rules one by one, for their log
            key, item = None, {"verdict": verdict, "listener": listener, "path": path, "count": count,
                               "reason": reason}
        else:
            key, item = (listener, incident.get("workspace") or "default"), incident
        self.loop.call_soon_threadsafe(self._enqueue, key, item)
        return count

    def _enqueue(self, key, item):  # in the rulebook's loop
        self.pending.setdefault(key, collections.deque()).append(item)
        self.last_arrival[key] = self.clock()
        self.wakeup.set()
        self.arrival.set()
        self.arrival = asyncio.Event()

    def due(self, key, now):
        """Seconds until ``key``'s next batch may go (0: now).

        A batch goes batch_window after the workspace's previous one, or as soon as the workspace
        has been quiet for QUIET seconds, but not twice in a row before batch_window: the end of
        a storm then goes at once (queueing behind the run in progress, on the workspace's lock)
        instead of up to batch_window later, and a detector that pauses often costs at most one
        more run per window.
        """
        if key is None:
            return 0.0
        full = self.last_batch.get(key, float("-inf")) + self.batch_window - now
        if full <= 0 or self.went_early.get(key):
            return max(0.0, full)
        return max(0.0, min(full, self.last_arrival.get(key, now) + QUIET - now))

    def take_batch(self, key, now):
        """The next batch of ``key``'s queued incidents (at most MAX_BATCH), noting when it went."""
        self.went_early[key] = now < self.last_batch.get(key, float("-inf")) + self.batch_window
        self.last_batch[key] = now
        return self._take(key)

    def _pop(self, key, most):
        """Up to ``most`` of ``key``'s queued items, in order; a key left with none leaves the queue."""
        items = self.pending.get(key)
        if not items:
            return []
        popped = [items.popleft() for _item in range(min(len(items), most))]
        if not items:
            del self.pending[key]
        return popped

    def _take(self, key):
        batch = self._pop(key, MAX_BATCH)
        # The door let only plain JSON through; checked again so that no item can sink its batch.
        return [item for item in batch if _engine_safe(item)]

    # -- the feed: a run takes in its workspace's next events ----------------------------------
    def lease(self, key, now):
        """A new lease for ``key``'s batch (None when the feed is off); an older one can no longer be claimed."""
        if self.feed_socket is None:
            return None
        if key in self.issued:
            logger.warning("ddos.scrubbing: the run of workspace %s's last batch did not claim the feed within "
                           "%.0f s (it waits for the workspace's lock, did not start, or cannot reach the feed); "
                           "the events that came since go to a run of their own", key[1], CLAIM_WAIT)
        self.leases[key], self.issued[key] = secrets.token_urlsafe(18), now
        return {"socket": self.feed_socket, "lease": self.leases[key]}

    def held_for(self, key, now):
        """Seconds ``key``'s events still wait for the run of its newest batch (None: until that run
        ends, as it takes them): until the run claims the feed, at most CLAIM_WAIT after the batch went."""
        if key in self.live:
            return None
        issued = self.issued.get(key)
        return 0.0 if issued is None else max(0.0, issued + CLAIM_WAIT - now)

    def claim(self, lease):
        """The key whose newest batch ``lease`` is, now fed to the run that holds it; or (None, reason)."""
        key = next((k for k, held in self.leases.items() if hmac.compare_digest(held, str(lease))), None)
        if key is None:
            return None, "no such lease: a later batch of the workspace is queued behind this run, or it ended"
        if key in self.live:
            return None, "this lease is already claimed"
        self.live[key] = lease
        self.issued.pop(key, None)
        return key, None

    def release(self, key, unrecorded):
        """The run fed ``key``'s events ended: what it took and did not say it recorded goes first in
        the next batch, which may go at once (no run of the workspace is going)."""
        self.live.pop(key, None)
        self.leases.pop(key, None)
        self.issued.pop(key, None)
        if unrecorded:
            again = [dict(item, redelivered=True) for item in unrecorded]  # the ledger may hold them already
            self.pending.setdefault(key, collections.deque()).extendleft(reversed(again))
            logger.warning("ddos.scrubbing: a run of workspace %s ended without recording %d incident event(s) it "
                           "took; they go to the next run", key[1], len(unrecorded))
        self.last_batch.pop(key, None)
        self.wakeup.set()

    def others_waiting(self, key):
        """Another listener's events of the same workspace wait: queued, or a batch whose run has not
        claimed the feed yet (it waits for the workspace's lock, which the run of ``key`` holds)."""
        now = self.clock()
        return any(k is not None and k != key and k[1] == key[1] for k in self.pending) or any(
            k != key and k[1] == key[1] and now < issued + CLAIM_WAIT for k, issued in self.issued.items())

    async def next_events(self, key, linger):
        """``key``'s queued events for the run taking them, waiting up to ``linger`` seconds for one.
        Nothing (the run ends) when another listener's events of the workspace wait for its lock."""
        deadline = self.clock() + linger
        while not self.pending.get(key) and not self.others_waiting(key):
            left = deadline - self.clock()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(self.arrival.wait(), timeout=left)
            except asyncio.TimeoutError:
                break
        return [] if self.others_waiting(key) else self._take(key)

    async def serve_run(self, reader, writer):
        """One run's connection to the feed (plugins/plugin_utils/_feed.py says what it sends).

        The run claims its batch's lease when it starts; from then on the workspace's events wait
        for it. It asks for more only once it has recorded what it took before; when the
        connection ends, whatever it took since its last ask goes back to the head of the queue.
        """
        key, taken, first = None, [], True

        async def say(answer):
            writer.write(json.dumps(answer).encode("utf-8") + b"\n")
            await writer.drain()
        try:
            while True:
                line = await reader.readline()
                try:
                    ask = json.loads(line) if line else {}
                except ValueError:
                    ask = {}
                what = ask.get("ask") if isinstance(ask, dict) else None
                if key is None:
                    key, reason = self.claim(ask.get("lease")) if what == "claim" else (None, "claim first")
                    await say({"claimed": True} if key else {"incidents": [], "end": reason})
                    if key is None:
                        break
                    continue
                if what not in ("more", "end"):
                    break  # killed, or broken: what it took goes back (finally)
                taken = []  # recorded: the run asks again, or ends, only once it has recorded them
                if what == "end":
                    break
                # The first ask answers at once: a lone event's run does not wait for another one.
                taken = await self.next_events(key, 0.0 if first else FEED_LINGER)
                first = False
                await say({"incidents": taken})
                if not taken:
                    break  # the run ends
                logger.info("ddos.scrubbing: %d incident event(s) of workspace %s to its run going, the first "
                            "queued %.3f s ago", len(taken), key[1],
                            max(0.0, self.clock() - taken[0].get("received", self.clock())))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if key is not None:
                self.release(key, taken)
            writer.close()

    async def feed(self):
        """Hand queued events to the rules, each workspace's in order, workspaces round-robin.

        An idle workspace's event goes at once. While one of its runs is probably still going
        (its last batch left less than ``batch_window`` seconds ago), its later events gather
        and go together (``due``): one playbook run records them in order, instead of one run
        each queueing on the workspace's lock. A storm costs a few runs per workspace, not one
        run per event; with the feed, while a run has claimed the workspace, none.
        """
        while True:
            now = self.clock()
            # A workspace whose run takes (or is about to take) its events from the feed sends no batch:
            # they wait for that run.
            waits = [max(self.due(key, now), held) for key, held in
                     ((k, self.held_for(k, now)) for k in self.pending) if held is not None]
            if not waits or min(waits) > 0:
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), timeout=min(waits) if waits else None)
                except asyncio.TimeoutError:
                    pass
                continue
            key = next(k for k in self.pending if self.held_for(k, now) == 0 and self.due(k, now) == 0)
            if key is None:
                event = self._pop(key, 1)[0]
            else:
                batch = self.take_batch(key, now)
                event = {"verdict": "incidents", "listener": key[0], "workspace": key[1], "incidents": batch,
                         "source": "flowtriq" if all(i.get("source") == "flowtriq" for i in batch) else "detector",
                         "feed": self.lease(key, now) if batch else None}
                if batch:
                    # What the batching cost: an idle workspace's event waits ~0 s, one that arrived
                    # during a run up to batch_window.
                    logger.info("ddos.scrubbing: %d incident event(s) of workspace %s to the rules, the first "
                                "queued %.3f s ago", len(batch), key[1], max(0.0, now - batch[0].get("received", now)))
            if key in self.pending:
                self.pending.move_to_end(key)
            if event.get("incidents") != []:
                await self.queue.put({"ddos_scrubbing": event})


def _reason(exc):
    return getattr(exc, "message", None) or str(exc)


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _answer(code, **body):
    return web.json_response(body, status=code)


class BadBody(Exception):
    """A body refused at the door: ``status`` 400 (not strict JSON), 408 (too slow), 413 (too large)."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.reason, self.status = reason, status


def _not_json_constant(name):
    raise BadBody("the body has %s, which is not JSON (RFC 8259 has no NaN or Infinity)" % name)


def _finite(text):
    value = float(text)
    if not math.isfinite(value):
        raise BadBody("the body has the number %s, out of range for a double" % _show(text))
    return value


def _bounded_int(text):
    if len(text) > 20 or not -MAX_INT <= int(text) < MAX_INT:
        raise BadBody("the body has the integer %s, beyond a signed 64-bit integer" % _show(text))
    return int(text)


def _depth(value):
    """How deep ``value`` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def strict_json(raw, max_depth=MAX_DEPTH):
    """The body as plain JSON the rules engine takes, or BadBody: NaN/Infinity, numbers out of
    range and nesting deeper than ``max_depth`` are refused here, never queued."""
    try:
        body = json.loads(raw, parse_constant=_not_json_constant, parse_float=_finite, parse_int=_bounded_int)
    except RecursionError:
        raise BadBody("the body nests deeper than %d levels" % max_depth)
    except ValueError as exc:  # includes bytes that are not UTF-8
        raise BadBody("the body is not JSON (%s)" % exc)
    if _depth(body) > max_depth:
        raise BadBody("the body nests deeper than %d levels" % max_depth)
    return body


def _engine_safe(item):
    try:
        json.dumps(item, allow_nan=False)
    except (TypeError, ValueError):
        logger.error("ddos.scrubbing: dropped an event the rules engine cannot take: %s", _show(item))
        return False
    return True


async def read_body(request, limit):
    """The request's body, at most ``limit`` bytes (BadBody 413 beyond), whatever its framing."""
    if request.content_length is not None and request.content_length > limit:
        raise BadBody("the body is larger than %d bytes" % limit, status=413)
    if request.headers.get("Expect", "").lower() == "100-continue":  # curl asks before a large body
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    chunks, size = [], 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BadBody("the body is larger than %d bytes" % limit, status=413)
        chunks.append(chunk)


class GuardedServer(web.Server):
    """aiohttp's low-level server with a door: a connection that has not sent a request's headers
    within ``header_timeout`` is closed (aiohttp's keep-alive timeout closes idle ones between
    requests), and past ``max_connections`` the oldest connection is closed to make room. A flood
    of silent connections thus costs each of them at most ``header_timeout`` and never the file
    descriptors a detector's request needs."""

    def __init__(self, handler, max_connections, header_timeout, **kwargs):
        super().__init__(handler, keepalive_timeout=header_timeout, **kwargs)
        self.max_connections, self.header_timeout = max_connections, header_timeout
        self.waiting = {}  # transport -> timer closing it unless a request arrives first
        self.dropped = collections.Counter()

    def connection_made(self, handler, transport):
        super().connection_made(handler, transport)
        self.waiting[transport] = self._loop.call_later(self.header_timeout, self._too_slow, transport)
        if len(self._connections) <= self.max_connections:
            return
        # Full: close the oldest (a detector's request takes milliseconds; a flood's sockets linger).
        alive = [t for h, t in self._connections.items() if h is not handler and not t.is_closing()]
        for old_transport in alive[:max(0, len(alive) + 1 - self.max_connections)]:
            self.dropped["full"] += 1
            old_transport.abort()

    def connection_lost(self, handler, exc):
        transport = self._connections.get(handler)
        timer = self.waiting.pop(transport, None) if transport is not None else None
        if timer is not None:
            timer.cancel()
        super().connection_lost(handler, exc)

    def request_started(self, transport):
        timer = self.waiting.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def _too_slow(self, transport):
        self.waiting.pop(transport, None)
        if not transport.is_closing():
            self.dropped["slow"] += 1
            transport.abort()


def default_max_connections():
    """A quarter of the open-file limit (two listeners, each with an accept batch on top, and the
    rules engine's own files fit in the rest), at most 1024."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(16, min(1024, soft // 4)) if soft != resource.RLIM_INFINITY else 1024


def make_server(intake, listener, secret=None, token=None, limits=None):
    """The listener's GuardedServer; ``limits``: max_body, max_depth, header_timeout, max_connections."""
    limits = dict({"max_body": MAX_BODY, "max_depth": MAX_DEPTH, "header_timeout": HEADER_TIMEOUT,
                   "max_connections": default_max_connections()}, **(limits or {}))
    server = None

    def unauthenticated(path, what):
        intake.counts["unauthenticated"] += 1
        logger.warning("ddos.scrubbing: %s on /%s (%d unauthenticated so far): dropped", what, path,
                       intake.counts["unauthenticated"])

    async def handle(request):
        server.request_started(request.transport)
        arrival = intake.clock()
        path = request.path[1:]
        try:
            raw = await asyncio.wait_for(read_body(request, limits["max_body"]), limits["header_timeout"])
        except asyncio.TimeoutError:
            raw = BadBody("the body did not arrive within %s s" % limits["header_timeout"], status=408)
        except BadBody as exc:
            raw = exc
        signature = None
        if listener == "flowtriq":
            given = request.headers.get("X-Flowtriq-Signature", "").strip()
            digest = given[len("sha256="):] if given[:len("sha256=")].lower() == "sha256=" else given
            expected = hmac.new(secret.encode("utf-8"), raw if isinstance(raw, bytes) else b"",
                                hashlib.sha256).hexdigest()
            if isinstance(raw, BadBody) or not hmac.compare_digest(digest.lower().encode("ascii", "replace"),
                                                                   expected.encode("ascii")):
                if isinstance(raw, BadBody):  # not read whole: the signature cannot be checked
                    unauthenticated(path, raw.reason)
                    return _answer(raw.status, status="refused", reason=raw.reason)
                unauthenticated(path, "%s X-Flowtriq-Signature" % ("no" if not given else "a wrong"))
                return _answer(401, status="unauthenticated", reason="missing or wrong X-Flowtriq-Signature")
            # The replay key is the canonical spelling: re-casing the hex or dropping the prefix is the same delivery.
            signature = "sha256=" + expected
        else:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode("utf-8", "replace"), ("Bearer " + token).encode("utf-8")):
                unauthenticated(path, "missing or wrong bearer token")
                return _answer(401, status="unauthenticated", reason="missing or wrong Authorization: Bearer token")
            if isinstance(raw, BadBody):
                count = intake.accept(listener, path, "refused", reason=raw.reason)
                return _answer(raw.status, status="refused", reason=raw.reason, count=count)
        try:
            body = strict_json(raw, limits["max_depth"])
        except BadBody as exc:
            count = intake.accept(listener, path, "refused", reason=exc.reason)
            return _answer(exc.status, status="refused", reason=exc.reason, count=count)
        try:
            incident = route(intake, listener, path, body, signature, arrival)
            validate_incident(incident)  # the playbook's own rules, so nothing is queued that it would refuse
            delivery = incident.get("delivery")
            if delivery and not intake.first_delivery(delivery):
                raise Refused("already received (%s %s): a replay or a retry of a delivered event; nothing to do"
                              % ("signature" if listener == "flowtriq" else "delivery", delivery[:24]), status=409)
        except (Refused, InputError) as exc:
            status, verdict = (exc.status, exc.verdict) if isinstance(exc, Refused) else (422, "refused")
            count = intake.accept(listener, path, verdict, reason=_reason(exc))
            return _answer(status, status=verdict if status != 409 else "duplicate", reason=_reason(exc), count=count)
        except Exception as exc:  # a body no check foresaw: refuse it, never take the listener down
            logger.exception("ddos.scrubbing: could not read an event on /%s", path)
            count = intake.accept(listener, path, "refused", reason="unreadable event: %s" % exc)
            return _answer(422, status="refused", reason="unreadable event: %s" % exc, count=count)
        intake.accept(listener, path, "incident", incident=incident)
        # With the delivery id, this line joins the detector's log (the FastNetMon adapter logs the
        # same id) to the ledger's; the log's own time is the arrival, to the millisecond.
        logger.info("ddos.scrubbing: queued incident %s %s for workspace %s (/%s, delivery %s)", incident["id"],
                    incident["status"], incident.get("workspace") or "default", path,
                    (incident.get("delivery") or "none")[:16])
        return _answer(202, status="queued", incident=incident["id"], workspace=incident.get("workspace") or "default")

    server = GuardedServer(handle, limits["max_connections"], limits["header_timeout"], access_log=None)
    return server


def route(intake, listener, path, body, signature, arrival):
    """The incident a request carries, or Refused (a path no rule serves is refused, not ignored)."""
    match = PATH.fullmatch(path)
    kind = match.group(1) if match else None
    workspace = match.group(2) if match else None
    if match and kind and not NAME_PATTERN.fullmatch(workspace or ""):
        raise Refused("the workspace in /%s/<workspace> must be letters, digits and _.:@- (got %s)" % (
            kind, _show(workspace)), status=404)
    if listener == "flowtriq" and kind == "flowtriq":
        return intake.flowtriq(workspace, body, signature, arrival)
    if listener == "internal" and (kind == "fastnetmon" or path == "incident"):
        return intake.internal(kind or path, workspace, body, arrival)
    served = "/flowtriq/<workspace>" if listener == "flowtriq" else "/fastnetmon/<workspace> and /incident"
    raise Refused("no rule for /%s on the %s listener (it serves %s)" % (path, listener, served), status=404)


async def main(queue, args):
    """ansible-rulebook's entry point."""
    for required in ("flowtriq_port", "flowtriq_secret", "internal_port", "internal_token"):
        if args.get(required) in (None, ""):
            raise ValueError("ddos.scrubbing.incident_webhook needs %s" % required)
    if len(str(args["flowtriq_secret"])) < 16 or len(str(args["internal_token"])) < 16:
        raise ValueError("ddos.scrubbing.incident_webhook: flowtriq_secret and internal_token must have at least "
                         "16 characters")
    intake = Intake(queue, int(args.get("event_window", 300)), float(args.get("batch_window", 2.0)))
    intake.loop = asyncio.get_running_loop()
    feed = await open_feed(intake) if _flag(args.get("feed", True)) else None
    host = args.get("host") or "127.0.0.1"
    limits = {"max_body": int(args.get("max_body") or MAX_BODY), "max_depth": int(args.get("max_depth") or MAX_DEPTH),
              "header_timeout": float(args.get("header_timeout") or HEADER_TIMEOUT),
              "max_connections": int(args.get("max_connections") or default_max_connections())}
    sites = (("flowtriq", int(args["flowtriq_port"]), {"secret": str(args["flowtriq_secret"]), "limits": limits}),
             ("internal", int(args["internal_port"]), {"token": str(args["internal_token"]), "limits": limits}))
    listeners = Listeners(intake, host, sites)
    listeners.start()
    # One "noted" event through the rules at start: the operator's log says the listeners are up,
    # and the rules engine loads what a match needs now (the first real incident of a fresh
    # rulebook matched 0.1-0.3 s later than the ones after it).
    await queue.put({"ddos_scrubbing": {
        "verdict": "noted", "listener": "internal", "path": "-", "count": 0,
        "reason": "ready: Flowtriq on %s:%s, internal on %s:%s" % (host, args["flowtriq_port"], host,
                                                                   args["internal_port"])}})
    tick = float(args.get("tick", TICK) if args.get("tick") not in (None, "") else TICK)
    ticker = asyncio.ensure_future(ticks(queue, tick)) if tick > 0 else None
    try:
        await intake.feed()
    finally:
        if ticker is not None:
            ticker.cancel()
        listeners.stop()
        if feed is not None:
            feed.close()
            shutil.rmtree(os.path.dirname(intake.feed_socket), ignore_errors=True)


def _flag(value):
    return str(value).strip().lower() not in ("false", "no", "off", "0", "")


async def open_feed(intake):
    """The feed's Unix socket, in a directory only this user can enter (0700), or None when it cannot
    be made: the runs then record each batch on its own, as without the feed."""
    where = tempfile.mkdtemp(prefix="ddos-scrubbing-feed-")
    path = os.path.join(where, "feed.sock")
    try:
        server = await asyncio.start_unix_server(intake.serve_run, path=path)
        os.chmod(path, 0o600)
    except (OSError, ValueError) as exc:  # AF_UNIX paths are short: a long TMPDIR
        logger.warning("ddos.scrubbing: no feed socket (%s): each batch is its own run", exc)
        shutil.rmtree(where, ignore_errors=True)
        return None
    intake.feed_socket = path
    logger.info("ddos.scrubbing: feed on %s", path)
    return server


async def ticks(queue, every):
    """``{"ddos_scrubbing": {"verdict": "tick"}}`` every ``every`` seconds: the rulebook runs
    ``reconcile`` on it, which applies what depends on the clock and not on a detector's event
    (scrubbing_escalate_after, scrubbing_max_active, a hold-down's end, a pending write)."""
    while True:
        await asyncio.sleep(every)
        await queue.put({"ddos_scrubbing": {"verdict": "tick", "every": every}})


class Listeners(threading.Thread):
    """The two HTTP listeners, on their own thread and event loop.

    The rulebook's loop also runs the rules engine and every playbook's bookkeeping, in steps
    that do not yield; on its own loop, a detector's request is answered while those run.
    """

    def __init__(self, intake, host, sites):
        super().__init__(name="ddos.scrubbing listeners", daemon=True)
        self.intake, self.host, self.sites = intake, host, sites
        self.loop = asyncio.new_event_loop()
        self.ready, self.error, self.runners = threading.Event(), None, []

    def start(self):
        super().start()
        self.ready.wait()
        if self.error:
            raise self.error

    async def _open(self):
        for listener, port, kwargs in self.sites:
            server = make_server(self.intake, listener, **kwargs)
            runner = web.ServerRunner(server)
            await runner.setup()
            # The backlog is also how many sockets asyncio accepts in one go, before connection_made
            # can close the oldest: keep it small beside max_connections, or a flood runs the
            # process out of file descriptors (EMFILE pauses accepting for a second each time).
            await web.TCPSite(runner, self.host, port, backlog=ACCEPT_BATCH).start()
            self.runners.append(runner)
            logger.info("ddos.scrubbing: %s listener on %s:%s (at most %d connections, %s s for a request, %d bytes)",
                        listener, self.host, port, server.max_connections, server.header_timeout,
                        kwargs["limits"]["max_body"])

    def run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._open())
        except Exception as exc:  # a port in use, a bad host: the rulebook must fail to start
            self.error = exc
        self.ready.set()
        if not self.error:
            self.loop.run_forever()
        for runner in self.runners:
            self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
