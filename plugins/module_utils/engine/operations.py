# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The entry point of every playbook operation, shared by the action plugin and the module.

The way an incident travels (one room each):

1. ``_inventory``          the inventory's integrations, validated before any call;
2. ``_incident``           the event's strict shape;
3. here                    the operation: incident, activate, withdraw, reconcile, test, status,
                           record (what the protected servers' own connections reported);
4. ``_policy``             whether each integration must be on (pure functions);
5. ``engine.converge``     claim -> one pipeline per integration (read, intent, write, outcome);
6. ``ledger``              the record: ``document`` (the layout and its accessors), ``file``,
                           ``postgres``, ``backend`` (which one);
7. ``engine.report``       what the operator sees: rows, summary, table, the Test report.
"""

from __future__ import annotations

import json

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import validate_incident
from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import _parse_targets, load_integrations
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import (
    decide, forced_off_cleared, hold_promise, manual_withdrawal, routes_for)
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.converge import Converger
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import (
    build_test_report, format_table, prometheus_text, status_document, summarise, write_atomically)
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.audit import (
    ACTIVE_WINDOW, active_seconds, open_audit, parse_since, select, write_export)
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.backend import open_ledger
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import (
    active_incidents, integration_names, integration_view, quiet_since, workspace_names)

OPERATIONS = ("incident", "activate", "withdraw", "test", "status", "reconcile", "record", "audit")
WRITING = ("incident", "activate", "withdraw", "reconcile", "record")  # the operations the trail and notify follow

ARGUMENT_SPEC = dict(
    operation=dict(type="str", required=True, choices=list(OPERATIONS)),
    incident=dict(type="dict"),
    integration_configs=dict(type="dict", required=True, no_log=True),
    integrations=dict(type="list", elements="str"),
    force=dict(type="bool", default=False),
    state_file=dict(type="path", required=True),
    ledger_dsn=dict(type="str", no_log=True),
    deadline=dict(type="int", default=120),
    event_window=dict(type="int", default=300),
    hold_down=dict(type="int", default=0),
    workers=dict(type="int", default=64),
    live=dict(type="bool", default=True),
    status_format=dict(type="str", default="table", choices=["table", "json", "prometheus"]),
    status_file=dict(type="path"),
    # ``record``: what each protected server's own connection reported (ddos.scrubbing.outcome)
    server_results=dict(type="dict", default={}),
    # the guardrails, notifications and audit trail (issue 22)
    safelist=dict(type="list", elements="str", default=[]),
    # no_log on the secret and the url (a Slack webhook's URL is its key) only: on the whole list, a module run
    # on a remote state host would mask every word of it ("generic", "activated") wherever it appears
    notify=dict(type="list", elements="dict", default=[], options=dict(
        url=dict(type="str", no_log=True), format=dict(type="str", default="generic"),
        secret=dict(type="str", no_log=True), events=dict(type="list", elements="str"))),
    audit_retention=dict(type="int", default=400),
    audit_file=dict(type="path"),
    audit_since=dict(type="str"),
    audit_integration=dict(type="str"),
    audit_incident=dict(type="str"),
    # set by the role: the action takes the other options from the role's variables, checked first
    # (plugin_utils/_role.py)
    from_role=dict(type="bool", default=False),
)


def inventory_refusal(errors):
    """The result of a run refused for the inventory's mistakes, before anything was called."""
    return {"failed": True, "changed": False, "errors": errors,
            "msg": "the inventory is not valid; nothing was called:\n- " + "\n- ".join(errors)}


def run_operation(params, check_mode=False, loaded=None):
    """Run one playbook operation; return an Ansible result dict (never raises ProviderError).
    ``loaded``: what load_integrations made of params' integration_configs, when the caller has it."""
    integrations, errors = loaded or load_integrations(params["integration_configs"])
    if errors:
        return inventory_refusal(errors)
    operation = params["operation"]
    safelist, bad = _parse_targets(params.get("safelist") or [])
    notify_errors = _notifications().validate(params["notify"]) if params.get("notify") else []
    if bad or notify_errors:
        errors = (["scrubbing_safelist: %s" % bad] if bad else []) + notify_errors
        return {"failed": True, "changed": False, "errors": errors,
                "msg": "the playbook-wide settings are not valid; nothing was called:\n- " + "\n- ".join(errors)}
    if operation == "audit" and not params.get("audit_file"):
        return {"failed": True, "changed": False, "msg": "the audit playbook writes the trail to a file: set "
                "-e scrubbing_audit_file=PATH (JSON lines; optional filters scrubbing_audit_since=7d, "
                "scrubbing_audit_integration=NAME, scrubbing_audit_incident=ID)"}
    names = params.get("integrations") or sorted(i.name for i in integrations)
    ledger = None
    orch = None
    try:
        incident = None
        if operation == "incident":
            if not params.get("incident"):
                raise InputError("incident", "the incident playbook needs -e incident={id, status, workspace, target}")
            incident = validate_incident(params["incident"])  # before the ledger: a refused event touches nothing
        if operation == "status" and params.get("status_format") == "prometheus" and not params.get("status_file"):
            raise InputError("status", "scrubbing_status_format=prometheus writes a node_exporter textfile: set "
                             "scrubbing_status_file too", hint="e.g. -e scrubbing_status_file=/var/lib/prometheus/"
                             "node-exporter/ddos_scrubbing.prom (the collector's --collector.textfile.directory)")
        ledger = open_ledger(params["state_file"], params.get("ledger_dsn"), operation=operation)
        orch = Orchestrator(integrations, ledger, check_mode=check_mode, hold_down=params.get("hold_down") or 0,
                            deadline=params.get("deadline"), event_window=params.get("event_window", 300),
                            operation=operation, workers=params.get("workers"), safelist=safelist)
        audit = open_audit(ledger, params["state_file"])
        if operation == "incident":
            report = orch.incident(incident)
        elif operation == "activate":
            report = orch.activate(names)
        elif operation == "withdraw":
            report = orch.withdraw(names, force=params.get("force"))
        elif operation == "reconcile":
            report = orch.reconcile()
        elif operation == "test":
            report = orch.test(names)
        elif operation == "record":
            report = orch.record(params.get("server_results") or {})
        elif operation == "audit":
            report = _export_audit(audit, params, orch.clock())
        else:
            status_format, status_file = params.get("status_format") or "table", params.get("status_file")
            report = orch.status(live=params.get("live", True))
            _active_time(report, audit, orch)
            report["table"] = format_table(report["rows"])
            report["ledger"] = {"backend": ledger.backend, "where": ledger.where}
            report["status_format"] = status_format
            if status_file and status_format != "table":
                _write_status(report, status_format, status_file, orch)
            elif status_file:
                orch.warnings.append("scrubbing_status_file is written only with scrubbing_status_format=json or "
                                     "prometheus; %s was not written" % status_file)
        if operation in WRITING and not check_mode:
            _after_the_writes(report, audit, orch, params, operation)
    except ProviderError as exc:
        return {"failed": True, "changed": False, "msg": orch._scrub(str(exc)) if orch else str(exc),
                "warnings_list": list(orch.warnings) if orch else []}
    finally:
        if ledger is not None:
            ledger.close()
    report["ledger"] = {"backend": ledger.backend, "where": ledger.where,
                        "longest_lock_wait": round(max(ledger.lock_waits or [0]), 3)}
    report["summary"] = summarise(operation, report, check_mode)
    report["warnings_list"] = list(orch.warnings) + [w for r in report.get("integrations", {}).values()
                                                     for w in (r.get("warnings") or [])]
    failed = report["failed_integrations"] = report.pop("failed")
    report["pending_integrations"] = sorted(n for n, r in report.get("integrations", {}).items() if r.get("pending"))
    if failed:
        report["msg"] = "%s: %d integration(s) failed: %s" % (operation, len(failed), "; ".join(
            "%s: %s" % (n, report["integrations"][n].get("msg")) for n in failed))
        report["failed"] = True
    else:
        report["msg"] = "%s: %s" % (operation, "ok" if operation != "status" else "%d integration(s)" % len(
            report.get("rows", [])))
    return report


def _notifications():
    """The notifications' module, imported only by a run that has receivers (scrubbing_notify): a
    module is compiled from source by every run that imports it, and most runs have none (issue 18)."""
    from ansible_collections.ddos.scrubbing.plugins.module_utils import _notify  # pylint: disable=import-outside-toplevel
    return _notify


def _after_the_writes(report, audit, orch, params, operation):
    """The trail and the notifications, once every write of the run is done (or pending): neither
    can delay a protection, and a failure of either is a warning, never a failed run."""
    rows = list((report.get("integrations") or {}).values())
    now = orch.clock()
    deliveries = []
    receivers = params.get("notify") or []
    if receivers:
        notify = _notifications()
        secrets = notify.secrets_of(receivers)
        deliveries = notify.deliver(receivers, rows, operation, now)
        for sent in deliveries:
            if not sent["ok"]:
                orch.warnings.append("notification %s (%s, %s) was not delivered: %s; the run itself is unaffected"
                                     % (sent["receiver"], sent["format"], sent["sent"],
                                        redact(sent["error"], secrets)))
        report["notifications"] = deliveries
    records = trail_records(report, rows, orch, operation, now) + [
        dict(orch.run_stamp(now), kind="notify", **sent) for sent in deliveries]
    try:
        audit.append(records, params.get("audit_retention"), now)
    except ProviderError as exc:
        orch.warnings.append("the audit trail was not written (%s): %s" % (audit.where, orch._scrub(str(exc))))


def trail_records(report, rows, orch, operation, now):
    """One record per decision and per provider write of the run. A scheduled reconcile that
    changed nothing leaves no line (it runs every 30 s); a detector's or a person's run records
    every decision, the ones that left an integration alone included."""
    incident = report.get("incident") or {}
    out = []
    for row in rows:
        wrote = row.get("action") not in (None, "none") or row.get("failed")
        if not wrote and operation in ("reconcile", "record"):
            continue
        if row.get("pending"):
            result = "pending"
        elif row.get("failed"):
            result = "failed"
        else:
            result = "changed" if row.get("changed") else ("unchanged" if wrote else "none")
        rec = dict(orch.run_stamp(now), kind="write" if wrote and not row.get("on_server") else "decision",
                   integration=row["integration"], provider=row.get("provider"), workspace=row.get("workspace"),
                   incidents=list(row.get("incidents") or ([incident["id"]] if incident.get("id") else [])),
                   action=row.get("action") or "none", why=row.get("reason"), result=result,
                   api_calls=row.get("api_calls", 0))
        if row.get("targets") is not None:
            rec["targets"] = row.get("targets")
        if row.get("failed"):
            rec["error"] = row.get("msg")
        if incident:
            rec["event"] = {"id": incident.get("id"), "status": incident.get("status"),
                            "target": incident.get("target"), "attack": incident.get("attack")}
        out.append(rec)
    return out


def _export_audit(audit, params, now):
    since = parse_since(params.get("audit_since"), now)
    records = select(audit.read(since), params.get("audit_integration"), params.get("audit_incident"))
    write_export(params["audit_file"], records)
    return {"changed": True, "failed": [], "integrations": {},
            "audit": {"file": params["audit_file"], "records": len(records), "trail": audit.where}}


def _active_time(report, audit, orch):
    """Each integration's time on over the last 30 days, from the trail (billing: on-demand
    scrubbing is paid by the hour)."""
    now = orch.clock()
    try:
        seconds = active_seconds(audit.read(now - ACTIVE_WINDOW), now)
    except ProviderError as exc:
        orch.warnings.append("the active time was not computed: %s" % orch._scrub(str(exc)))
        return
    for row in report["rows"]:
        row["active_30d"] = int(seconds.get(row["integration"], 0))


def _write_status(report, status_format, path, orch):
    now = orch.clock()
    if status_format == "json":
        text = json.dumps(status_document(report, now), indent=2, sort_keys=True) + "\n"
    else:
        text = prometheus_text(report, now)
        if not path.endswith(".prom"):
            orch.warnings.append("%s does not end in .prom: node_exporter's textfile collector reads only *.prom "
                                 "files" % path)
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise InputError("status", "cannot write scrubbing_status_file %s: %s" % (path, exc.strerror or exc),
                         hint="Give a path in an existing directory the state host's user can write")
    report["status_file"] = {"path": path, "format": status_format}


class Orchestrator(Converger):
    """The playbook operations, each one run of the converge loop (or a read)."""

    def incident(self, incident):
        ws_name = incident["workspace"]
        notes = []

        def record(book):
            found, refusal = book.record_event(incident, self.clock(), self.event_window)
            if refusal:
                raise InputError("incident", "refused: incident %s (%s): %s" % (incident["id"], incident["status"],
                                                                                refusal),
                                 hint="Nothing was recorded or called")
            notes[:] = found  # idempotent: a group commit may run this change again
            if incident["status"] == "resolved":
                until, targets = hold_promise(book.doc, ws_name, incident["id"], self.hold_down)
                book.promise_hold(ws_name, until, targets, self.clock())
            if incident["status"] == "resolved" and forced_off_cleared(book.doc, ws_name):
                book.clear_forced_off(n for n, i in self.integrations.items() if i.workspace == ws_name)

        scope = [n for n, i in self.integrations.items() if i.workspace == ws_name]
        if not scope:
            known = sorted({i.workspace for i in self.integrations.values()})
            self.warnings.append("workspace %r has no integration in this inventory (workspaces with integrations: "
                                 "%s): the incident is recorded but nothing is diverted. A typo in the detector's "
                                 "URL or the inventory's scrubbing_workspace?" % (ws_name, ", ".join(known) or "none"))
        report = self._converge(scope, record)
        self.warnings.extend(notes)
        report["incident"] = incident
        report["notes"] = notes
        return report

    def activate(self, names):
        self._known(names)

        def pin(book):
            for name in names:
                book.integration(name).update(pinned=True, forced_off=False)
        return self._converge(names, pin)

    def withdraw(self, names, force=False):
        self._known(names)
        refused = {}

        def unpin(book):
            now = self.clock()
            for name in names:
                rec = book.integration(name)
                rec["pinned"] = False
                refusal, forced_off = manual_withdrawal(book.doc, self.integrations[name], now, self.hold_down, force,
                                                        self.safelist)
                if refusal:
                    refused[name] = refusal
                elif forced_off:
                    rec["forced_off"] = True  # auto-activation leaves it off until the workspace is quiet
        return self._converge(list(names), unpin, force_state={n: False for n in names}, refused=refused)

    def record(self, server_results):
        """Record what each protected server's own firewall did, as its task reported it: the
        outcome after the write, like any provider's (the intent was recorded by the run before)."""
        rows = {}
        now = self.clock()
        for name, result in sorted(server_results.items()):
            integ = self.integrations.get(name)
            if integ is None or not integ.on_server or not isinstance(result, dict):
                continue
            if result.get("skipped"):
                continue
            failed = bool(result.get("failed") or result.get("unreachable"))
            rows[name] = {"integration": name, "provider": integ.provider, "workspace": integ.workspace,
                          "changed": bool(result.get("changed")), "failed": failed, "active": result.get("active"),
                          "action": result.get("action") or "none", "reason": result.get("reason"),
                          "msg": self._scrub(str(result.get("msg") or "")) if failed else None}
        if rows and not self.check_mode:
            with self._txn() as book:
                for name, row in rows.items():
                    result = server_results[name]
                    if row["failed"]:
                        reason = "unreachable: " if result.get("unreachable") else ""
                        book.record_failure(name, "%s%s" % (reason, row["msg"]), now)
                    else:
                        book.record_success(name, bool(result.get("active")), {"present": False}, row["changed"],
                                            now, result.get("incidents") or (), result.get("targets") or [])
        return {"integrations": rows, "changed": any(r["changed"] for r in rows.values()),
                "failed": sorted(n for n, r in rows.items() if r["failed"])}

    def reconcile(self):
        return self._converge(sorted(self.integrations), None)

    def test(self, names):
        self._known(names)

        def one(name):
            if self.integrations[name].on_server:
                return {"ok": True, "on_server": True, "provider": self.integrations[name].provider, "findings": [],
                        "msg": "tested on the server itself by the next task (local_firewall_info)"}
            provider = self.integrations[name].new_provider()
            try:
                report = build_test_report(provider, check_mode=self.check_mode)
            finally:
                provider.close()
            report["warnings"] = provider.warnings
            return self._scrub(report)
        rows = self._bounded(names, one, lambda name, why: {"ok": False, "msg": why, "findings": [],
                                                            "provider": self.integrations[name].provider})
        return {"integrations": rows, "failed": [n for n, r in rows.items() if not r["ok"]], "changed": False}

    def status(self, live=True):
        doc = self.ledger.read()
        live_state = {}
        if live:
            def one(name):
                integ = self.integrations[name]
                if integ.on_server:
                    return {"active": None, "error": None, "says": "on the server: the test playbook reads it"}
                rec = integration_view(doc, name)
                provider = integ.new_provider(routes=routes_for(doc, integ, rec.get("targets") or []))
                try:
                    state = provider.read()
                    said = provider.is_active(state)
                    describe = getattr(provider, "describe", None)
                    return {"active": said, "error": None, "says": describe(state) if describe else None}
                except ProviderError as exc:
                    return {"active": None, "error": self._scrub(str(exc)), "says": None}
                finally:
                    provider.close()
            live_state = self._bounded(sorted(self.integrations), one,
                                       lambda name, why: {"active": None, "error": why, "says": None})
        rows = []
        now = self.clock()
        for name in sorted(set(self.integrations) | set(integration_names(doc))):
            rec = integration_view(doc, name)
            integ = self.integrations.get(name)
            live_row = live_state.get(name, {})
            # what a hold-down keeps on, and until when (the policy's own answer, stored promises included)
            decision = decide(doc, integ, now, self.hold_down, self.safelist) if integ is not None else None
            held = decision.held if decision is not None and rec["active"] else None
            # a guardrail holding it back: expired (scrubbing_max_active), waiting to escalate, below the size
            guard = None
            if decision is not None and not rec["active"] and rec.get("expired") and \
                    set(rec["expired"]) & set(active_incidents(doc, integ.workspace)):
                guard = "expired"
            elif decision is not None and decision.wanted is None and any(
                    word in decision.reason for word in ("escalates at", "below the threshold", "never acted for")):
                guard = decision.reason.partition(": ")[2] or decision.reason
            rows.append({
                "integration": name,
                "provider": integ.provider if integ else rec["provider"],
                "workspace": integ.workspace if integ else rec["workspace"],
                "active": rec["active"],
                "provider_active": live_row.get("active"),
                "provider_says": live_row.get("says"),
                "since": rec["since"],
                "held_until": held if not isinstance(held, dict) else None,
                "held_targets": held if isinstance(held, dict) else {},
                "incidents": rec["incidents"],
                "targets": rec.get("targets") or [],
                "pinned": rec["pinned"],
                "pending": (rec.get("pending") or {}).get("action"),
                "last_error": rec["last_error"] or live_row.get("error"),
                "last_error_at": rec["last_error_at"] if rec["last_error"] else None,
                "in_inventory": integ is not None,
                "guard": guard,
            })
        workspaces = {name: {"active_incidents": sorted(active_incidents(doc, name)),
                             "quiet_since": quiet_since(doc, name)}
                      for name in workspace_names(doc)}
        return {"rows": rows, "workspaces": workspaces, "changed": False, "failed": []}
