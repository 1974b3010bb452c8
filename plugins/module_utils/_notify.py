# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Tell people what a run changed: the playbook-wide ``scrubbing_notify`` receivers.

Each receiver is ``{url, format, secret, events}``: ``format`` generic (JSON, signed with
``X-Scrubbing-Signature: sha256=<hex HMAC-SHA256 of the body>``), slack (an incoming webhook) or
pagerduty (Events API v2: trigger, then resolve, one dedup key per incident); ``events`` any of
EVENTS (default all). A run sends one POST per receiver with everything that changed (PagerDuty
takes one event a request: one per incident), never retried (a receiver must not get one
change twice). Notifications go out after the provider writes and
the ledger, each within NOTIFY_TIMEOUT, all in parallel: a receiver that hangs or fails never delays
or fails a protection, it is a warning and a line of the audit trail. Redirects are refused (the
HTTP layer's rule) and no message carries a secret (the receivers' own included).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

from ansible_collections.ddos.scrubbing.plugins.module_utils import _http
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import API_URL

FORMATS = ("generic", "slack", "pagerduty")
EVENTS = ("activated", "withdrawn", "failed", "pending", "expired")
NOTIFY_TIMEOUT = 10  # seconds per receiver, all receivers at once: the bound on what a run waits
SIGNATURE_HEADER = "X-Scrubbing-Signature"
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
TRIGGERS = ("activated", "failed", "pending")  # PagerDuty: what opens (or updates) the incident's alert


def validate(receivers):
    """The receivers, checked (a list of error messages names each bad one and its fix)."""
    errors = []
    if receivers in (None, ""):
        return []
    if not isinstance(receivers, list):
        return ["scrubbing_notify must be a list of {url, format, secret, events}, got %s" % type(receivers).__name__]
    for n, rec in enumerate(receivers):
        where = "scrubbing_notify[%d]" % n
        if not isinstance(rec, dict):
            errors.append("%s must be a dict {url, format, secret, events}" % where)
            continue
        unknown = sorted(set(rec) - {"url", "format", "secret", "events"})
        if unknown:
            errors.append("%s: unknown key(s) %s; a receiver takes url, format, secret, events" % (
                where, ", ".join(map(str, unknown))))
        fmt = rec.get("format") or "generic"
        if fmt not in FORMATS:
            errors.append("%s: format must be one of %s, got %r" % (where, ", ".join(FORMATS), fmt))
        url = rec.get("url") or (PAGERDUTY_URL if fmt == "pagerduty" else None)
        if not isinstance(url, str) or not API_URL.ok(url):
            errors.append("%s: url must be %s" % (where, API_URL.name))
        if fmt in ("generic", "pagerduty") and not (isinstance(rec.get("secret"), str) and rec["secret"]):
            errors.append("%s: a %s receiver needs secret (%s)" % (where, fmt, "the HMAC key the receiver verifies"
                                                                   if fmt == "generic" else "the integration's "
                                                                   "routing key"))
        events = list(EVENTS) if rec.get("events") is None else rec["events"]
        if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
            errors.append("%s: events must be a non-empty list of %s" % (where, ", ".join(EVENTS)))
    return errors


def secrets_of(receivers):
    """What must never be printed: the secrets, and the URLs (a Slack webhook's path is its key)."""
    out = []
    for rec in receivers or []:
        if isinstance(rec, dict):
            out.extend(str(rec[k]) for k in ("secret", "url") if rec.get(k))
            out.extend([str(rec["url"]).rstrip("/")] if rec.get("url") else [])
    return out


def row_event(row):
    """The notification event of a run's row, None when nothing happened worth telling."""
    if row.get("pending"):
        return "pending"
    if row.get("failed"):
        return "failed"
    if not row.get("changed") or row.get("action") not in ("activate", "withdraw"):
        return None
    if row["action"] == "activate":
        return "activated"
    return "expired" if str(row.get("reason") or "").startswith("expired") else "withdrawn"


def changes(rows, now):
    """The run's changes, as the generic format sends them (no snapshots, nothing secret)."""
    out = []
    for row in rows:
        event = row_event(row)
        if event:
            out.append({"event": event, "integration": row["integration"], "provider": row.get("provider"),
                        "workspace": row.get("workspace"), "incidents": list(row.get("incidents") or []),
                        "action": row.get("action"), "reason": row.get("reason"),
                        "result": row.get("msg") if row.get("failed") else "ok",
                        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})
    return out


def sign(body, secret):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def requests_for(receiver, wanted, operation):
    """[(body bytes, headers, what it tells)] for one receiver and the run's changes it wants."""
    fmt = receiver.get("format") or "generic"
    if fmt == "generic":
        body = json.dumps({"source": "ddos.scrubbing", "operation": operation, "events": wanted},
                          sort_keys=True).encode()
        return [(body, {SIGNATURE_HEADER: sign(body, receiver["secret"])}, "%d event(s)" % len(wanted))]
    if fmt == "slack":
        lines = ["*%s* %s (%s, workspace %s)%s: %s" % (
            c["event"], c["integration"], c["provider"], c["workspace"],
            " for incident " + ", ".join(c["incidents"]) if c["incidents"] else "", c["result"]
            if c["event"] in ("failed", "pending") else c["reason"]) for c in wanted]
        body = json.dumps({"text": "DDoS scrubbing (%s):\n%s" % (operation, "\n".join(lines))}).encode()
        return [(body, {}, "%d event(s)" % len(wanted))]
    # PagerDuty: one alert per incident (its dedup key); it resolves when every change for it did
    per_key = {}
    for change in wanted:
        keys = change["incidents"] or ["manual-" + change["integration"]]
        for incident in keys:
            per_key.setdefault("ddos.scrubbing/%s/%s" % (change["workspace"], incident), []).append(change)
    out = []
    for key, items in sorted(per_key.items()):
        trigger = any(c["event"] in TRIGGERS for c in items)
        summary = "; ".join("%s %s" % (c["event"], c["integration"]) for c in items)
        event = {"routing_key": receiver["secret"], "dedup_key": key,
                 "event_action": "trigger" if trigger else "resolve"}
        if trigger:
            event["payload"] = {"summary": ("DDoS scrubbing %s: %s" % (key.split("/", 1)[1], summary))[:1024],
                                "source": "ddos.scrubbing", "severity": "error" if any(
                                    c["event"] in ("failed", "pending") for c in items) else "warning",
                                "custom_details": {"changes": items}}
        out.append((json.dumps(event, sort_keys=True).encode(), {}, "%s %s" % (event["event_action"], key)))
    return out


def deliver(receivers, rows, operation, now, timeout=NOTIFY_TIMEOUT):
    """Send the run's changes; return one record per POST ({receiver, format, sent, ok, error})."""
    all_changes = changes(rows, now)
    jobs = []
    for n, receiver in enumerate(receivers or []):
        wanted = [c for c in all_changes if c["event"] in (receiver.get("events") or EVENTS)]
        if not wanted:
            continue
        url = receiver.get("url") or PAGERDUTY_URL
        for body, headers, what in requests_for(receiver, wanted, operation):
            jobs.append({"receiver": "scrubbing_notify[%d]" % n, "format": receiver.get("format") or "generic",
                         "url": url, "body": body, "headers": headers, "what": what,
                         "events": sorted({c["event"] for c in wanted}),
                         "incidents": sorted({i for c in wanted for i in c["incidents"]}),
                         "secrets": secrets_of([receiver])})
    threads = [threading.Thread(target=_post, args=(job, timeout), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + timeout + 1
    for job, thread in zip(jobs, threads):
        thread.join(max(0.0, ends - time.monotonic()))
        if thread.is_alive():
            job["error"] = "no answer within %d s" % timeout
    return [{"receiver": j["receiver"], "format": j["format"], "sent": j["what"], "events": j["events"],
             "incidents": j["incidents"], "ok": not j.get("error"), "error": j.get("error")} for j in jobs]


def _post(job, timeout):
    client = None
    try:
        client = _http.HttpClient("notify", job["url"], timeout=timeout, retries=0, secrets=job["secrets"],
                                  headers=dict(job["headers"], **{"Content-Type": "application/json"}))
        client.request("POST", "", data=job["body"])
    except ProviderError as exc:
        # the receiver's answer, without the HTTP layer's provider hint (it speaks of api_url)
        job["error"] = redact(("HTTP %s: %s" % (exc.status, exc.message)) if exc.status else exc.message,
                              job["secrets"])
    except Exception as exc:  # pylint: disable=broad-except  # a receiver must never break the run
        job["error"] = redact("unexpected error: %r" % exc, job["secrets"])
    finally:
        if client is not None:
            client.close()
