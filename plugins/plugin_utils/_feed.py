# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE plugin_utils: not a public API, may change without notice.
"""A run started by the rulebook takes in its workspace's next events while it goes.

Without it, a storm is a playbook run per batch: a second of CPU each, and the last events wait
for a run to start. The event source (``ddos.scrubbing.incident_webhook``, its ``serve_run``)
hands each batch over with a lease, ``incident_feed: {socket, lease}``; the run that batch starts
connects to the source's Unix socket when it starts and says, one JSON line at a time:

    run -> source   {"ask": "claim", "lease": "..."}
    source -> run   {"claimed": true}                  from now on the workspace's events wait for this run
                    {"incidents": [], "end": "..."}    or not: a later batch is queued behind it
    run -> source   {"ask": "more"}                    (what I took before is recorded) give me more
    source -> run   {"incidents": [...]}               its next events, in order; [] : none came, end
    run -> source   {"ask": "end"}                     (what I took before is recorded) I end

The source answers a run's first "more" at once and later ones when an event comes, or with
nothing after a second of quiet. Events a run took and did not say it recorded (it was killed, its
connection broke) go back to the head of the queue, for the next run, and so do the events that
waited for a run that died: nothing is lost. They go marked ``redelivered``: the event the run was
in the middle of is among them, and the ledger, which already holds it, notes it there instead of
refusing it as a replay (``_policy.redelivery_note``). Only the lease of the workspace's newest
batch can be claimed, so a run never records events before those of a batch queued behind it on
the workspace's lock.
"""

from __future__ import annotations

import json
import socket
import time

# A run takes events from the feed for at most this long, then ends (its outcome shows, and the
# next events go to a new run): a storm that lasts an hour is a run every FEED_FOR seconds.
FEED_FOR = 30.0
# The source answers within FEED_LINGER (1 s) of an ask; past this the run stops waiting.
ANSWER_TIMEOUT = 10.0


class Feed:
    """The run's side of the feed: ``claim()`` when the run starts, then ``batches()`` yields lists of
    incident events until the source has none left; each is acknowledged when the next is asked for,
    or by ``close()``."""

    def __init__(self, where, lease, until):
        self.lease, self.until = lease, until
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(ANSWER_TIMEOUT)
        self.sock.connect(where)
        self.lines = self.sock.makefile("rb")
        self.ended = None  # why the source feeds nothing more (quiet, a later batch, the feed broke)

    def _send(self, ask):
        self.sock.sendall(json.dumps({"ask": ask, "lease": self.lease}).encode("utf-8") + b"\n")

    def _say(self, ask):
        """Send ``ask`` and read the source's answer ({} when it closed the connection)."""
        self._send(ask)
        line = self.lines.readline()
        return json.loads(line) if line else {}

    def claim(self):
        answer = self._say("claim")
        if not answer.get("claimed"):
            self.ended = answer.get("end") or "not claimed"
        return self.ended is None

    def batches(self):
        while self.ended is None and time.monotonic() < self.until:
            try:
                answer = self._say("more")
            except (OSError, ValueError) as exc:  # the rulebook went away: this run's own events are recorded
                self.ended = "the feed broke: %s" % exc
                return
            batch = answer.get("incidents") if isinstance(answer.get("incidents"), list) else []
            if not batch:
                self.ended = answer.get("end") or "quiet"
                return
            yield batch

    def close(self, recorded=True):
        """Say the last batch was recorded (``recorded``) and end; without it the source queues that
        batch again, for the next run."""
        try:
            if recorded and self.ended is None:
                self._send("end")
        except OSError:
            pass
        finally:
            self.lines.close()
            self.sock.close()


def claim_feed(given, started):
    """The feed named by the rulebook's ``incident_feed`` extra var, claimed for this run; or None (no
    rulebook, it cannot be reached, or a later batch of the workspace is queued behind this run: the
    run then records its own batch only, and the source sends the rest as usual)."""
    if not isinstance(given, dict) or not given.get("socket") or not given.get("lease"):
        return None
    feed = None
    try:
        feed = Feed(str(given["socket"]), str(given["lease"]), started + FEED_FOR)
        if feed.claim():
            return feed
    except (OSError, ValueError):
        pass
    if feed is not None:
        feed.close(recorded=False)
    return None
