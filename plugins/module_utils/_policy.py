# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""When must an integration be on? The whole policy, as pure functions of the ledger document.

- An automatic integration is on while an active incident of its workspace needs it (its
  target inside ``scrubbing_targets``, when set), and stays on while *any* incident of the
  workspace is active, then for the hold-down once the workspace is quiet.
- A manual activation pins it on until a manual withdrawal; a manual withdrawal of something
  an incident needs is refused unless forced, and a forced one stays off until the workspace
  is quiet.
- The per-target mechanisms (BGP) hold one route per attacked address inside their
  ``owned_prefixes``: exactly the targets of the workspace's active incidents, each kept for
  the hold-down after its last incident resolved.
- The guardrails (issue 22) narrow which active incidents an integration acts for
  (``incident_gate``): never for a target in the playbook-wide ``scrubbing_safelist`` or its own
  ``scrubbing_never``; only when the reported size reaches ``scrubbing_min_bps`` /
  ``scrubbing_min_pps`` (an incident that reports no size counts, with a warning: protection
  first); only once the incident has been active ``scrubbing_escalate_after`` seconds. An
  integration on for ``scrubbing_max_active`` seconds in a row expires: it is withdrawn, and the
  incidents it was on for no longer count for it; a new incident re-arms it. These depend on the
  clock, not only on events: ``reconcile`` (the rulebook's tick, a schedule) applies them.
- A hold-down announced when an incident resolves is a promise: ``hold_promise`` computes the
  deadlines the ledger stores (per workspace, and per target for the per-target mechanisms), so
  a later run without ``scrubbing_hold_down`` still keeps it until then.
"""

from __future__ import annotations

import ipaddress
import time

from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import (
    active_incidents, held_targets, held_until, integration_view, quiet_since, workspace_incidents)


class Decision:
    """``wanted``: True = must be on, False = must be withdrawn, None = leave it alone."""

    def __init__(self, wanted, reason, incidents=(), targets=None, held=None, expired=None, warnings=()):
        self.wanted = wanted
        self.reason = reason
        self.incidents = sorted(incidents)
        self.targets = targets  # per-target mechanisms: the sorted addresses to hold, else None
        # kept by a hold-down only: until when ({target: deadline} for the per-target mechanisms)
        self.held = held
        # scrubbing_max_active ran out: the incidents that no longer count for it (withdrawal only)
        self.expired = expired
        self.warnings = list(warnings)

    def key(self):
        """What a converged run has achieved: the same key twice needs no second write."""
        return (self.wanted, tuple(self.targets) if self.targets is not None else None)

    def __iter__(self):  # (wanted, reason, incidents), as the decision table's tests read it
        return iter((self.wanted, self.reason, self.incidents))


def recorded_active(rec):
    """Did we (or a run that died mid-write) switch this integration on?"""
    return bool(rec["active"] or (rec.get("pending") or {}).get("action") == "activate")


def decide(doc, integ, now, hold_down, safelist=()):
    """The decision for one integration; ``safelist``: the playbook-wide scrubbing_safelist (networks)."""
    rec = integration_view(doc, integ.name)
    was_on = recorded_active(rec)
    # the incidents an expiry (scrubbing_max_active) took away from this integration count no more
    expired = set(rec.get("expired") or ())
    incidents = {i: r for i, r in active_incidents(doc, integ.workspace).items() if i not in expired}
    if integ.per_target:
        return _decide_targets(doc, integ, rec, was_on, incidents, now, hold_down, safelist)
    if rec["pinned"]:
        return Decision(True, "pinned by a manual activation")
    if rec["forced_off"]:
        return Decision(False if was_on else None, "withdrawn by hand with force while incidents are active")
    if not integ.auto:
        return Decision(None, "scrubbing_auto is false")
    if was_on and expiry_due(integ, rec, now):
        return _expire(integ, rec, incidents)
    gates = {i: incident_gate(integ, i, r, now, safelist)
             for i, r in incidents.items() if integ.covers(r.get("target"))}
    needing = [i for i, (acts, _why, _warn) in gates.items() if acts]
    warnings = [warn for i, (_acts, _why, warn) in sorted(gates.items()) if warn and i in needing]
    if needing:
        return Decision(True, "needed by incident %s" % ", ".join(sorted(needing)), needing, warnings=warnings)
    if not was_on:
        # Say why an active incident leaves it alone (no target, outside scrubbing_targets, a guardrail).
        why = next((w for w in (integ.left_alone_because(r.get("target")) for r in incidents.values()) if w), None)
        why = next((w for _acts, w, _warn in (gates[i] for i in sorted(gates))), None) or why
        if not why and expired and set(active_incidents(doc, integ.workspace)) & expired:
            why = expired_reason(integ, rec)
        return Decision(None, why or "no incident needs it")
    if incidents:
        return Decision(True, "kept: incident %s of workspace %s still active" % (
            ", ".join(sorted(incidents)), integ.workspace), incidents)
    quiet = quiet_since(doc, integ.workspace) or 0
    # this run's hold-down, or the one promised (stored) when the workspace went quiet
    until = max(quiet + hold_down if hold_down and quiet else 0, held_until(doc, integ.workspace) or 0)
    if now < until:
        return Decision(True, "kept: workspace %s quiet since %s, hold-down until %s" % (
            integ.workspace, ts(quiet), ts(until)), held=until)
    return Decision(False, "workspace %s has no active incident" % integ.workspace)


def incident_gate(integ, incident_id, inc, now, safelist=()):
    """Does this active incident make the integration act? (acts, why not, warning): the guardrails
    of one integration (scrubbing_never, min size, escalation) and the playbook-wide safelist."""
    target = inc.get("target")
    for nets, setting in ((safelist, "the playbook-wide scrubbing_safelist"), (integ.never, "its scrubbing_never")):
        if target and nets and touches(target, nets):
            return False, "incident %s: target %s is in %s: never acted for" % (incident_id, target, setting), None
    below, warning = size_gate(integ, incident_id, inc)
    if below:
        return False, below, None
    if integ.escalate_after:
        due = (inc.get("started_at") or now) + integ.escalate_after
        if now < due:
            return False, ("incident %s: escalates at %s if still active (scrubbing_escalate_after=%ss)" % (
                incident_id, ts(due), integ.escalate_after)), None
    return True, None, warning


def size_gate(integ, incident_id, inc):
    """(why it is too small, warning): the incident reaches any threshold set, or reports no size."""
    thresholds = [(field, getattr(integ, "min_" + field)) for field in ("bps", "pps") if getattr(integ, "min_" + field)]
    if not thresholds:
        return None, None
    attack = inc.get("attack") or {}
    reported = [(field, least, attack[field]) for field, least in thresholds if attack.get(field) is not None]
    settings = " / ".join("scrubbing_min_%s=%s" % (field, least) for field, least in thresholds)
    if not reported:
        return None, ("%s acts for incident %s, which reports no attack size (attack.bps / attack.pps), although "
                      "%s: protection first. Have the detector send the size" % (integ.name, incident_id, settings))
    if any(size >= least for _field, least, size in reported):
        return None, None
    return "incident %s: below the threshold (%s; %s)" % (incident_id, ", ".join(
        "%s %s" % (field, size) for field, _least, size in reported), settings), None


def expiry_due(integ, rec, now):
    return bool(integ.max_active and rec.get("since") and now >= rec["since"] + integ.max_active)


def _expire(integ, rec, incidents, targets=None):
    return Decision(False, "expired: on since %s, scrubbing_max_active=%ss; incident(s) %s still open, a new "
                    "incident re-arms it" % (ts(rec["since"]), integ.max_active, ", ".join(sorted(incidents)) or "-"),
                    targets=targets, expired=sorted(incidents))


def expired_reason(integ, rec):
    return "expired at %s after scrubbing_max_active=%ss; a new incident re-arms it" % (
        ts(rec.get("expired_at")), integ.max_active)


def touches(target, nets):
    """Does the target (an address or a block) meet any of ``nets``? A block that holds one
    safelisted address is not blackholed either."""
    try:
        net = ipaddress.ip_network(target, strict=False)
    except ValueError:
        return False
    return any(net.version == n.version and net.overlaps(n) for n in nets)


def inside(target, nets):
    try:
        net = ipaddress.ip_network(target, strict=False)
    except ValueError:
        return False
    return any(net.version == n.version and net.subnet_of(n) for n in nets)


def _decide_targets(doc, integ, rec, was_on, incidents, now, hold_down, safelist=()):
    owned = integ.owned_networks()
    holding = {}  # target -> incident ids holding it
    warnings, held_back = [], None
    if integ.auto and not rec["forced_off"] and was_on and expiry_due(integ, rec, now):
        return _expire(integ, rec, incidents, targets=[])
    if integ.auto and not rec["forced_off"]:
        for incident_id, inc in sorted(incidents.items()):
            target = inc.get("target")
            if target and integ.covers(target) and inside(target, owned):
                acts, why, warning = incident_gate(integ, incident_id, inc, now, safelist)
                if acts:
                    holding.setdefault(target, []).append(incident_id)
                    warnings.extend([warning] if warning else [])
                else:
                    held_back = held_back or why
    # a route no incident holds any more stays for this run's hold-down or the promised one
    deadlines = dict(held_targets(doc, integ.workspace))
    if hold_down:
        for inc in workspace_incidents(doc, integ.workspace).values():
            target = inc.get("target")
            if inc.get("status") == "resolved" and target:
                deadlines[target] = max(deadlines.get(target) or 0, (inc.get("resolved_at") or 0) + hold_down)
    kept = {t: until for t, until in deadlines.items()
            if t in (rec.get("targets") or []) and t not in holding and now < until}
    targets = sorted(set(holding) | set(kept))
    ids = sorted({i for ids in holding.values() for i in ids})
    if targets:
        reason = "routes for %s" % ", ".join(
            "%s (incident %s)" % (t, ", ".join(sorted(holding[t]))) if t in holding
            else "%s (hold-down until %s)" % (t, ts(kept[t])) for t in targets)
        return Decision(True, reason, ids, targets, held=kept or None, warnings=warnings)
    if held_back and not was_on:
        return Decision(None, held_back)
    if rec["pinned"]:
        return Decision(None, "pinned by a manual activation, but no active incident targets an owned prefix")
    # Even when the ledger never had it on: the speaker is read and a route of ours that nothing
    # holds (one with our marker outside owned_prefixes, say) is withdrawn by the next run.
    del was_on
    return Decision(False, "no active incident of workspace %s targets an address in owned_prefixes"
                    % integ.workspace, targets=[])


def manual_withdrawal(doc, integ, now, hold_down, force, safelist=()):
    """(refusal, forced_off) of a manual withdrawal: a refusal (None: go ahead) when an active
    incident still needs it; with ``force`` it goes ahead and stays off until the workspace is quiet."""
    decision = decide(doc, integ, now, hold_down, safelist)
    if not (decision.wanted and decision.incidents):
        return None, False  # nothing active needs it (a hold-down does not block a manual withdrawal)
    if force:
        return None, True
    return ("not withdrawn: %s. Run the withdraw playbook with -e force=true to withdraw it anyway"
            % decision.reason), False


def event_refusal(incident, now, window, setting="scrubbing_event_window"):
    """Why an event must not count (None: it counts), judged once, by when it arrived.

    ``incident["timestamp"]`` is when the detector sent it; ``incident["received"]`` when the
    listener took it (both epoch seconds; without ``received``, the event arrives ``now``: a
    playbook run from the command line). An event is stale when its timestamp is more than
    ``window`` seconds from its arrival. The listener judges with its own clock at the door; the
    ledger judges the same way with the stamp the listener put on it, so an event that waited
    in the queue behind a hung provider is not refused later for the time it spent waiting.
    An arrival stamp later than now (beyond the window: clocks of two machines) is refused.
    ``setting`` names the window's setting in the message (the listener's is ``event_window``).
    """
    stamp = incident.get("timestamp")
    if stamp is None or not window:
        return None
    arrival = incident.get("received")
    if arrival is None:
        arrival, when = now, "now"
    else:
        when = "its arrival at %s" % ts(arrival)
        if arrival - now > window:
            return ("the event's arrival stamp %s is %d s after now, outside the %d s window (%s): a forged "
                    "stamp, or a listener whose clock is wrong" % (ts(arrival), arrival - now, window, setting))
    skew = arrival - stamp
    if abs(skew) > window:
        return ("stale event: its timestamp %s is %d s %s %s, outside the %d s window (%s): a replay, or a "
                "clock that is wrong" % (ts(stamp), abs(skew), "before" if skew > 0 else "after", when, window,
                                         setting))
    return None


# -- the per-target decision, the record's rules (engine and ledger ask, nobody re-derives them) --
class Routes:
    """The per-target decision handed to a per-target provider as an argument of its own (never as
    options, which are the inventory's): the addresses to hold and each one's attack details."""

    def __init__(self, targets, attacks):
        self.targets = list(targets)
        self.attacks = dict(attacks)


def routes_for(doc, integ, targets):
    """The Routes for ``targets`` of a per-target integration (None for the others): each target's
    attack details from the first active incident of the workspace on it."""
    if not integ.per_target:
        return None
    attacks = {}
    for inc in workspace_incidents(doc, integ.workspace).values():
        if inc.get("status") == "active" and inc.get("target") in (targets or []):
            attacks.setdefault(inc["target"], inc.get("attack"))
    return Routes(targets or [], attacks)


def route_limit_refusal(count, limit):
    """Why ``count`` routes must not be announced under ``max_routes=limit`` (None: they may)."""
    if limit is None or count <= limit:
        return None
    return "%d targets need %d routes, more than max_routes=%d; nothing was announced" % (count, count, limit)


def snapshot_to_restore(rec):
    """The pre-incident snapshot a run works from: the recorded one, else the one of a run that
    died between its intent and its outcome (its write may have landed)."""
    if rec.get("snapshot") is not None:
        return rec["snapshot"]
    return (rec.get("pending") or {}).get("snapshot")


def snapshot_to_keep(recorded, taken):
    """The first pre-incident snapshot wins: a state read while already active is ours, not the original."""
    return recorded if recorded is not None else taken


def replay_refusal(delivery, deliveries):
    """Why a delivery id must not count again (None: first time); ``deliveries`` maps id -> first seen."""
    if delivery and delivery in deliveries:
        return "this delivery was already received at %s: a replayed event" % ts(deliveries[delivery])
    return None


def redelivery_note(incident, deliveries):
    """Why an event the rulebook's listener sent again is nothing new (None: it is not one, or the
    ledger never recorded it). The run the feed gave it to ended (killed) before it said it had
    recorded it: the ledger's copy is that same event, not a replay (plugins/plugin_utils/_feed.py)."""
    delivery = incident.get("delivery")
    if not incident.get("redelivered") or not delivery or delivery not in deliveries:
        return None
    return ("incident %s (%s) was already recorded at %s, by a run that ended before it told the rulebook: "
            "nothing new" % (incident["id"], incident["status"], ts(deliveries[delivery])))


def delivery_memory(window):
    """Seconds to remember delivery ids: long enough to recognise a replay inside any window."""
    return 2 * max(window or 0, 300)


def reopen_refusal(incident_id, known):
    """A start of an incident already resolved: closed for good (a detector opens a new id)."""
    if known and known.get("status") == "resolved":
        return ("incident %s was resolved at %s and is closed; a detector opens a new incident with a new id"
                % (incident_id, ts(known.get("resolved_at"))))
    return None


def forced_off_cleared(doc, ws_name):
    """A forced withdrawal lasts until the workspace is quiet: is it quiet now?"""
    return not active_incidents(doc, ws_name)


def hold_promise(doc, ws_name, incident_id, hold_down):
    """The deadlines resolving ``incident_id`` with ``hold_down`` promises, for the ledger to keep:
    (the workspace's, when it is quiet now, else None; {target: deadline} for its route)."""
    inc = workspace_incidents(doc, ws_name).get(incident_id) or {}
    if not hold_down or inc.get("status") != "resolved" or not inc.get("resolved_at"):
        return None, {}
    quiet = quiet_since(doc, ws_name)
    return (quiet + hold_down if quiet else None), ({inc["target"]: inc["resolved_at"] + hold_down}
                                                    if inc.get("target") else {})


def ts(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else "-"
