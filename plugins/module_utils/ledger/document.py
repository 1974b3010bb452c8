# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The ledger document: what happened, and what every integration is doing about it.

One JSON document (valid as an Ansible local fact) records the incidents of every workspace
and, per integration, whether we activated it, since when, for which incidents (and, for the
per-target BGP mechanisms, which targets), the pre-incident snapshot, a manual pin, the intent
of a run in flight, who is working on it (the claim) and the last error.

Every change goes through ``with ledger.transaction() as book:``: a serialised
read-modify-write, so concurrent runs never lose an update. The record changes are methods
of ``Book`` (record an event, claim, intent, outcome) and the reads are the accessors below,
so neither the engine nor the policy touches the document's layout. Two backends keep the
document, with the same guarantees: ``ledger.file`` (default) and ``ledger.postgres``;
``ledger.backend.open_ledger`` picks one.
"""

from __future__ import annotations

import os
import socket
import time

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError

SCHEMA_VERSION = 1
KEEP_RESOLVED = 500  # resolved incidents kept per workspace, newest first, for status/history
STALE_CLAIM = 900  # a claim of another host that has not been released for this long is void
LOCK_TIMEOUT = 60  # seconds a transaction waits for the ledger lock before it fails, naming the holder

INTEGRATION_DEFAULTS = {
    "provider": None, "workspace": None, "active": False, "since": None, "snapshot": None,
    "incidents": [], "targets": [], "pinned": False, "forced_off": False, "pending": None, "claim": None,
    "last_error": None, "last_error_at": None, "last_change_at": None,
    # scrubbing_max_active: the incidents it was on for when it expired; only a new one re-arms it
    "expired": [], "expired_at": None,
}
REPAIR_HINT = ("Move the file aside (the next run starts an empty ledger) or restore it from a backup; "
               "the providers' real state can be re-read with the status playbook")


def empty_document():
    return {"schema_version": SCHEMA_VERSION, "updated_at": None, "workspaces": {}, "integrations": {}}


def check_document(doc, where):
    """Raise the corrupt-ledger error for anything that is not a ledger document of our schema."""
    if not isinstance(doc, dict):
        raise ProviderError("ledger", "%s does not hold a ledger document (found %s)" % (
            where, "null" if doc is None else "a JSON %s" % type(doc).__name__), hint=REPAIR_HINT)
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        hint = ("Use the collection version that wrote it" if isinstance(version, int) and version > SCHEMA_VERSION
                else REPAIR_HINT)
        raise ProviderError("ledger", "%s has schema_version %r, this collection reads %d" % (
            where, version, SCHEMA_VERSION), hint=hint)
    for key in ("workspaces", "integrations"):
        section = doc.get(key)
        if not isinstance(section, dict) or not all(isinstance(v, dict) for v in section.values()):
            raise ProviderError("ledger", "%s is damaged: %r must map names to records" % (where, key),
                                hint=REPAIR_HINT)
    for name, ws in doc["workspaces"].items():
        if not isinstance(ws.get("incidents", {}), dict):
            raise ProviderError("ledger", "%s is damaged: workspace %r has no incident table" % (where, name),
                                hint=REPAIR_HINT)
    return doc


def claimant(operation):
    """Who is working on an integration (or holds the lock) right now."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "operation": operation, "at": time.time()}


def describe_holder(holder):
    if not holder:
        return "an unknown process"
    since = holder.get("at")
    return "%s pid %s (%s, since %s)" % (
        holder.get("host", "?"), holder.get("pid", "?"), holder.get("operation", "?"),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)) if since else "?")


class Book:
    """One transaction's view of the document, with the record changes the engine makes."""

    def __init__(self, doc, ledger, track=False):
        self.doc = doc
        self.ledger = ledger
        # With ``track``, every record handed out for change is copied first, so the backend learns
        # what changed without copying (or comparing) a document of a thousand integrations. Every
        # change goes through workspace() and integration(): the layout is nobody else's.
        self.touched = {} if track else None

    def _touch(self, section, name):
        if self.touched is not None and (section, name) not in self.touched:
            rec = self.doc[section].get(name, _ABSENT)
            self.touched[(section, name)] = rec if rec is _ABSENT else json_copy(rec)

    def changes(self):
        """The (section, name) records this transaction changed, created or deleted (tracked books)."""
        return {key for key, before in self.touched.items() if self.doc[key[0]].get(key[1], _ABSENT) != before}

    # -- reading --------------------------------------------------------------------------------
    def workspace(self, name):
        self._touch("workspaces", name)
        return self.doc["workspaces"].setdefault(name, {"incidents": {}, "quiet_since": None, "deliveries": {},
                                                        "held_until": None, "held_targets": {}})

    def integration(self, name):
        self._touch("integrations", name)
        rec = self.doc["integrations"].setdefault(name, {})
        missing = INTEGRATION_DEFAULTS.keys() - rec.keys()
        if missing:
            defaults = integration_defaults()
            rec.update((key, defaults[key]) for key in missing)
        return rec

    def active_incidents(self, ws_name):
        return active_incidents(self.doc, ws_name)

    def incidents(self, ws_name):
        return workspace_incidents(self.doc, ws_name)

    # -- incidents ------------------------------------------------------------------------------
    def record_event(self, incident, now, window):
        """Record one validated incident event. Returns (notes, refusal): a refusal is a reason
        the event must not count (stale, replayed, or re-opening a closed incident)."""
        ws = self.workspace(incident["workspace"])
        deliveries = ws.setdefault("deliveries", {})
        # The rules are the policy's (_policy imports this module: import here).
        from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import (
            delivery_memory, event_refusal, redelivery_note, reopen_refusal, replay_refusal)
        keep = delivery_memory(window)
        for key, seen_at in list(deliveries.items()):
            if now - seen_at > keep:
                del deliveries[key]
        # Judged by its arrival, as the listener did.
        refusal = event_refusal(incident, now, window)
        if not refusal:
            again = redelivery_note(incident, deliveries)
            if again:
                return [again], None
            refusal = replay_refusal(incident.get("delivery"), deliveries)
        if refusal:
            return [], refusal
        known = ws["incidents"].get(incident["id"])
        refusal = incident["status"] == "started" and reopen_refusal(incident["id"], known)
        if refusal:
            return [], refusal
        if incident.get("delivery"):
            deliveries[incident["delivery"]] = now
        notes = []
        if incident["status"] == "started":
            if known:
                known["events"] = known.get("events", 1) + 1
                notes.append("incident %s was already active: duplicate event, nothing new" % incident["id"])
            else:
                ws["incidents"][incident["id"]] = {
                    "status": "active", "target": incident["target"], "started_at": now, "resolved_at": None,
                    "events": 1, "source": incident.get("source"), "attack": incident.get("attack"),
                    "details": incident.get("details") or {}}
            ws["quiet_since"] = None
            # active again: the promise of the last quiet period is void (the next one makes its own),
            # and the target is held by this incident now
            ws["held_until"] = None
            (ws.get("held_targets") or {}).pop(incident["target"], None)
        elif incident["status"] == "updated":
            if not known or known["status"] != "active":
                notes.append("incident %s is not active in workspace %s: its update changes nothing"
                             % (incident["id"], incident["workspace"]))
            else:
                known["events"] = known.get("events", 1) + 1
                known["attack"] = raise_attack(known.get("attack"), incident.get("attack"))
        else:
            if not known:
                notes.append("incident %s is unknown in workspace %s: nothing to withdraw for it"
                             % (incident["id"], incident["workspace"]))
            elif known["status"] == "resolved":
                notes.append("incident %s was already resolved: duplicate event" % incident["id"])
            else:
                known.update(status="resolved", resolved_at=now)
                if not self.active_incidents(incident["workspace"]):
                    ws["quiet_since"] = now
        self.prune()
        return notes, None

    def promise_hold(self, ws_name, until, targets, now):
        """Keep the hold-down deadlines announced at a resolution (``_policy.hold_promise``); a later
        run without ``scrubbing_hold_down`` keeps them. Expired target deadlines are dropped."""
        ws = self.workspace(ws_name)
        if until:
            ws["held_until"] = max(ws.get("held_until") or 0, until)
        held = ws.setdefault("held_targets", {})
        for target, deadline in targets.items():
            held[target] = max(held.get(target) or 0, deadline)
        for target, deadline in list(held.items()):
            if deadline <= now:
                del held[target]

    def clear_forced_off(self, names):
        for name in names:
            self.integration(name)["forced_off"] = False

    def prune(self, keep=KEEP_RESOLVED):
        for ws_name, ws in self.doc["workspaces"].items():
            resolved = sorted(((i, r) for i, r in ws["incidents"].items() if r.get("status") == "resolved"),
                              key=lambda item: item[1].get("resolved_at") or 0, reverse=True)
            if resolved[keep:]:
                self._touch("workspaces", ws_name)
            for incident_id, _rec in resolved[keep:]:
                del ws["incidents"][incident_id]

    # -- claims, intents, outcomes --------------------------------------------------------------
    def claim_all(self, names, who, now):
        """Take each of ``names`` for this run, all at once (one statement on PostgreSQL); returns
        the ones taken, leaving out those another live run is working on."""
        taken = self.ledger.take_claims({name: self.integration(name).get("claim") for name in names}, who, now)
        for name in taken:
            self.integration(name)["claim"] = who
        return taken

    def holder(self, name):
        """Who holds ``name``'s claim (the backend may know better than the record)."""
        return self.ledger.claim_holder(name, self.integration(name).get("claim"))

    def holds_claim(self, name, who):
        """Is ``name`` still claimed by ``who``? A run presumed lost may have been taken over meanwhile."""
        claim = self.integration(name).get("claim") or {}
        return claim.get("host") == who["host"] and claim.get("pid") == who["pid"] and self.ledger.holds_claim(name)

    def release(self, name):
        self.integration(name)["claim"] = None
        self.ledger.drop_claim(name)

    def write_intent(self, name, action, snapshot, now):
        """Before the first provider write: what we are about to do, with the snapshot to undo it."""
        self.integration(name)["pending"] = {"action": action, "snapshot": snapshot, "at": now}

    def record_success(self, name, wanted, snapshot, changed, now, incidents=(), targets=None, expired=None):
        rec = self.integration(name)
        if not wanted:
            # withdrawn by an expiry: those incidents no longer count for it; any other withdrawal
            # (the workspace quiet, by hand) ends that
            rec.update(expired=list(expired or []), expired_at=now if expired is not None else None)
        if wanted:
            from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import snapshot_to_keep
            rec["snapshot"] = snapshot_to_keep(rec["snapshot"], snapshot)
            if not rec["active"] or rec["since"] is None:
                rec["since"] = now
            rec["incidents"] = list(incidents)
            if targets is not None:
                rec["targets"] = list(targets)
        else:
            rec.update(snapshot=None, since=None, incidents=[], targets=[])
        if changed:
            rec["last_change_at"] = now
        # "active" means: we hold it on. An always-on prefix we were asked to activate is held
        # on too; its snapshot says it was on before, so withdrawal leaves it on.
        rec.update(active=bool(wanted), pending=None, last_error=None, last_error_at=None)

    def record_failure(self, name, message, now):
        """Keep the intent: the write may have landed; reconcile re-reads and finishes it."""
        rec = self.integration(name)
        rec.update(last_error=message, last_error_at=now)


def raise_attack(known, update):
    """An open incident's attack after an update: new details replace the old ones, but its size
    (bps, pps) only grows: a detector's later, smaller sample must not undo an escalation."""
    attack = dict(known or {})
    for field, value in (update or {}).items():
        attack[field] = max(value, attack.get(field) or 0) if field in ("bps", "pps") else value
    return attack or None


_ABSENT = object()  # a record that did not exist before the transaction


def integration_view(doc, name):
    """An integration's record with every field present, for reading (the document is not changed)."""
    rec = integration_defaults()
    rec.update(doc["integrations"].get(name) or {})
    return rec


def integration_defaults():
    """A new record of the defaults (its lists its own)."""
    return {key: list(value) if isinstance(value, list) else value for key, value in INTEGRATION_DEFAULTS.items()}


def json_copy(value):
    """A deep copy of what a ledger holds (JSON: dicts, lists, scalars), three times as fast as
    copy.deepcopy, which a 1,000-integration run calls thousands of times."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def workspace_incidents(doc, ws_name):
    """Every incident the ledger keeps for the workspace (active and recently resolved), by id."""
    return (doc["workspaces"].get(ws_name) or {}).get("incidents", {})


def active_incidents(doc, ws_name):
    return {i: rec for i, rec in workspace_incidents(doc, ws_name).items() if rec.get("status") == "active"}


def quiet_since(doc, ws_name):
    """When the workspace's last active incident resolved (None while one is active, or never)."""
    return (doc["workspaces"].get(ws_name) or {}).get("quiet_since")


def held_until(doc, ws_name):
    """The hold-down deadline promised when the workspace last went quiet (None: none)."""
    return (doc["workspaces"].get(ws_name) or {}).get("held_until")


def held_targets(doc, ws_name):
    """{target: hold-down deadline} promised for the routes of the workspace's resolved incidents."""
    return (doc["workspaces"].get(ws_name) or {}).get("held_targets") or {}


def workspace_names(doc):
    return sorted(doc["workspaces"])


def integration_names(doc):
    return sorted(doc["integrations"])
