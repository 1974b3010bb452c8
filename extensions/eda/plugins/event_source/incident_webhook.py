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
incidents, in the order received) or ``{"ddos_scrubbing": {"verdict": "noted"|"refused",
"listener", "path", "reason", "count"}}``; each incident has the shape the ``ddos.scrubbing.incident`` playbook takes and has been checked with the
playbook's own rules (plugins/module_utils/_incident.py), so a refusal here reads the same as one
there. Signed Flowtriq events must carry a ``timestamp`` within ``event_window`` seconds of now,
and a signature is accepted once within that window (replays are refused); the timestamp and
the signature (as ``delivery``) go on to the ledger, which refuses replays across rulebook
instances too. See docs/detectors.md.

Arguments: host (127.0.0.1), flowtriq_port, flowtriq_secret, internal_port, internal_token,
event_window (300), batch_window (2.0 seconds: while a workspace's run is probably still going, its
next events gather for that long and go to one run together, in order).
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
        go to one run together, in order.
    type: float
    default: 2.0
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
import os
import re
import sys
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

logger = logging.getLogger("ddos.scrubbing.incident_webhook")

FLOWTRIQ_EVENTS = {"attack_start": "started", "attack_end": "resolved"}
FLOWTRIQ_NOTED = ("attack_update", "test")
# What of Flowtriq's incident and node is kept as details (free text, stored as data).
FLOWTRIQ_DETAILS = ("uuid", "title", "severity", "peak_pps", "peak_bps", "source_ip_count", "started_at", "ai_summary",
                    "dashboard_url")
PATH = re.compile(r"(flowtriq|fastnetmon)/([^/]*)|incident")
MAX_BATCH = 100  # incidents handed to one playbook run at most


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
        self.seen = {}  # signature or delivery id -> when it expires
        self.counts = collections.Counter()
        self.wakeup = asyncio.Event()
        self.loop = None  # the rulebook's event loop, where the queue and feed() live

    # -- what an event means -------------------------------------------------------------------
    def flowtriq(self, workspace, body, signature):
        if not isinstance(body, dict):
            raise Refused("a Flowtriq webhook body is a JSON object with event_type, timestamp, incident and node")
        kind = body.get("event_type")
        if kind in FLOWTRIQ_NOTED:
            raise Refused("Flowtriq %s event noted; nothing to do" % kind, status=200, verdict="noted")
        if kind not in FLOWTRIQ_EVENTS:
            raise Refused("unknown Flowtriq event_type %s (known: %s)" % (
                _show(kind), ", ".join(sorted(FLOWTRIQ_EVENTS) + list(FLOWTRIQ_NOTED))))
        self.check_time(body.get("timestamp"), required=True)
        incident = body.get("incident") if isinstance(body.get("incident"), dict) else {}
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
                 "details": details}
        if node.get("ip_address") not in (None, ""):
            event["target"] = node["ip_address"]
        if incident.get("attack_family") not in (None, ""):
            event["attack"] = {"family": incident["attack_family"]}
        return event

    def internal(self, path, workspace, body):
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
        self.check_time(event.get("timestamp"), required=False)
        return event

    def check_time(self, value, required):
        try:
            stamp = parse_timestamp(value)
        except InputError as exc:
            raise Refused(_reason(exc))
        if stamp is None:
            if required:
                raise Refused("no timestamp: signed events must say when they were sent (ISO-8601 UTC), so that a "
                              "captured one cannot be replayed later")
            return
        skew = self.clock() - stamp
        if abs(skew) > self.window:
            raise Refused("stale event: its timestamp %s is %d s %s now, outside the %d s window (a replay, or a "
                          "clock that is wrong)" % (value, abs(skew), "before" if skew > 0 else "after", self.window))

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
        self.wakeup.set()

    def due(self, key, now):
        """Seconds until ``key``'s next batch may go (0: now)."""
        if key is None:
            return 0.0
        return max(0.0, self.last_batch.get(key, float("-inf")) + self.batch_window - now)

    async def feed(self):
        """Hand queued events to the rules, each workspace's in order, workspaces round-robin.

        An idle workspace's event goes at once. While one of its runs is probably still going
        (its last batch left less than ``batch_window`` seconds ago), its later events gather
        and go together: one playbook run records them in order, instead of one run each
        queueing on the workspace's lock. A storm costs a few runs per workspace, not one run
        per event.
        """
        while True:
            now = self.clock()
            waits = [self.due(key, now) for key in self.pending]
            if not waits or min(waits) > 0:
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), timeout=min(waits) if waits else None)
                except asyncio.TimeoutError:
                    pass
                continue
            key = next(k for k in self.pending if self.due(k, now) == 0)
            items = self.pending[key]
            if key is None:
                event = items.popleft()
            else:
                batch = [items.popleft() for _item in range(min(len(items), MAX_BATCH))]
                self.last_batch[key] = now
                event = {"verdict": "incidents", "listener": key[0], "workspace": key[1], "incidents": batch,
                         "source": "flowtriq" if all(i.get("source") == "flowtriq" for i in batch) else "detector"}
            if items:
                self.pending.move_to_end(key)
            else:
                del self.pending[key]
            await self.queue.put({"ddos_scrubbing": event})


def _reason(exc):
    return getattr(exc, "message", None) or str(exc)


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _answer(code, **body):
    return web.json_response(body, status=code)


def make_app(intake, listener, secret=None, token=None):
    async def handle(request):
        path = request.match_info["path"]
        raw = await request.read()
        signature = None
        if listener == "flowtriq":
            signature = request.headers.get("X-Flowtriq-Signature", "").strip()
            digest = signature[len("sha256="):] if signature.startswith("sha256=") else signature
            expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(digest.lower().encode("ascii", "replace"), expected.encode("ascii")):
                intake.counts["unauthenticated"] += 1
                logger.warning("ddos.scrubbing: %s X-Flowtriq-Signature on /%s (%d unauthenticated so far): dropped",
                               "no" if not signature else "a wrong", path, intake.counts["unauthenticated"])
                return _answer(401, status="unauthenticated", reason="missing or wrong X-Flowtriq-Signature")
        else:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode("utf-8", "replace"), ("Bearer " + token).encode("utf-8")):
                intake.counts["unauthenticated"] += 1
                logger.warning("ddos.scrubbing: missing or wrong bearer token on /%s (%d unauthenticated so far): "
                               "dropped", path, intake.counts["unauthenticated"])
                return _answer(401, status="unauthenticated", reason="missing or wrong Authorization: Bearer token")
        try:
            body = json.loads(raw)
        except ValueError:
            reason = "the body is not JSON"
            count = intake.accept(listener, path, "refused", reason=reason)
            return _answer(400, status="refused", reason=reason, count=count)
        try:
            incident = route(intake, listener, path, body, signature)
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
        logger.info("ddos.scrubbing: queued incident %s %s for workspace %s (/%s)", incident["id"],
                    incident["status"], incident.get("workspace") or "default", path)
        return _answer(202, status="queued", incident=incident["id"], workspace=incident.get("workspace") or "default")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    return app


def route(intake, listener, path, body, signature):
    """The incident a request carries, or Refused (a path no rule serves is refused, not ignored)."""
    match = PATH.fullmatch(path)
    kind = match.group(1) if match else None
    workspace = match.group(2) if match else None
    if match and kind and not NAME_PATTERN.fullmatch(workspace or ""):
        raise Refused("the workspace in /%s/<workspace> must be letters, digits and _.:@- (got %s)" % (
            kind, _show(workspace)), status=404)
    if listener == "flowtriq" and kind == "flowtriq":
        return intake.flowtriq(workspace, body, signature)
    if listener == "internal" and (kind == "fastnetmon" or path == "incident"):
        return intake.internal(kind or path, workspace, body)
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
    host = args.get("host") or "127.0.0.1"
    sites = (("flowtriq", int(args["flowtriq_port"]), {"secret": str(args["flowtriq_secret"])}),
             ("internal", int(args["internal_port"]), {"token": str(args["internal_token"])}))
    listeners = Listeners(intake, host, sites)
    listeners.start()
    try:
        await intake.feed()
    finally:
        listeners.stop()


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
            runner = web.AppRunner(make_app(self.intake, listener, **kwargs), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, self.host, port).start()
            self.runners.append(runner)
            logger.info("ddos.scrubbing: %s listener on %s:%s", listener, self.host, port)

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
