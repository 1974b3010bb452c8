# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The entry point of every playbook operation, shared by the action plugin and the module.

Where things are decided (one room each):

- ``_inventory``  the integrations of the inventory, validated before any call;
- ``_incident``   the incident event's strict shape;
- ``_policy``     when an integration must be on (pure functions: decide, manual withdraw);
- ``_ledger``     the record (event, claim, intent, outcome) and its file backend;
  ``_ledger_pg``  the same in PostgreSQL;
- ``_engine``     one pipeline per integration, a deadline per run;
- here            the operation's parameters in, the Ansible result (summary, table) out.
"""

from __future__ import annotations

from ansible_collections.ddos.scrubbing.plugins.module_utils._engine import Orchestrator
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import validate_incident
from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import load_integrations
from ansible_collections.ddos.scrubbing.plugins.module_utils._ledger import open_ledger
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import ts

OPERATIONS = ("incident", "activate", "withdraw", "test", "status", "reconcile")

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
)


def run_operation(params, check_mode=False):
    """Run one playbook operation; return an Ansible result dict (never raises ProviderError)."""
    integrations, errors = load_integrations(params["integration_configs"])
    if errors:
        return {"failed": True, "changed": False, "errors": errors,
                "msg": "the inventory is not valid; nothing was called:\n- " + "\n- ".join(errors)}
    operation = params["operation"]
    names = params.get("integrations") or sorted(i.name for i in integrations)
    ledger = None
    orch = None
    try:
        incident = None
        if operation == "incident":
            if not params.get("incident"):
                raise InputError("incident", "the incident playbook needs -e incident={id, status, workspace, target}")
            incident = validate_incident(params["incident"])  # before the ledger: a refused event touches nothing
        ledger = open_ledger(params["state_file"], params.get("ledger_dsn"), operation=operation)
        orch = Orchestrator(integrations, ledger, check_mode=check_mode, hold_down=params.get("hold_down") or 0,
                            deadline=params.get("deadline"), event_window=params.get("event_window", 300),
                            operation=operation)
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
        else:
            report = orch.status(live=params.get("live", True))
            report["table"] = format_table(report["rows"])
    except ProviderError as exc:
        return {"failed": True, "changed": False, "msg": orch._scrub(str(exc)) if orch else str(exc),
                "warnings_list": list(orch.warnings) if orch else []}
    finally:
        if ledger is not None:
            ledger.close()
    report["ledger"] = {"backend": ledger.backend, "where": ledger.where,
                        "longest_lock_wait": round(max(ledger.lock_waits or [0]), 3)}
    report["summary"] = summarise(operation, report)
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


def summarise(operation, report):
    """One line per integration, for the playbook's output."""
    if operation == "status":
        return report["table"]
    lines = []
    if report.get("incident"):
        inc = report["incident"]
        target = " (target %s)" % inc["target"] if inc["target"] else ""
        lines.append("incident %s %s in workspace %s%s" % (inc["id"], inc["status"], inc["workspace"], target))
    lines.extend(report.get("notes") or [])
    for name in sorted(report.get("integrations", {})):
        r = report["integrations"][name]
        if operation == "test":
            lines.append("%s: %s" % (name, r["msg"]))
            continue
        if r.get("pending"):
            lines.append("%s: PENDING: %s" % (name, r.get("msg")))
            continue
        if r.get("failed"):
            lines.append("%s: FAILED: %s" % (name, r.get("msg")))
            continue
        action = {"activate": "activated", "withdraw": "withdrawn"}.get(r.get("action"), "unchanged")
        lines.append("%s (%s): %s, now %s; %s" % (name, r.get("provider"), action,
                                                  "active" if r.get("active") else "inactive", r.get("reason")))
    return lines


def format_table(rows):
    headers = ("INTEGRATION", "PROVIDER", "WORKSPACE", "ACTIVE", "PROVIDER SAYS", "SINCE", "INCIDENTS", "PINNED",
               "LAST ERROR")
    lines = []
    for r in rows:
        said = {True: "active", False: "inactive", None: "-"}[r["provider_active"]]
        if r.get("provider_says"):
            said += " (%s)" % r["provider_says"]
        incidents = ",".join(r["incidents"]) or "-"
        if r.get("targets"):
            incidents += " routes:" + ",".join(r["targets"])
        lines.append((r["integration"], r["provider"] or "-", r["workspace"] or "-",
                      "yes" if r["active"] else "no", said, ts(r["since"]), incidents,
                      "yes" if r["pinned"] else "no",
                      (r["last_error"] or "-")[:80] + ("" if not r["pending"] else " [pending %s]" % r["pending"])))
    widths = [max([len(h)] + [len(str(line[i])) for line in lines]) for i, h in enumerate(headers)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    return [fmt % headers] + [fmt % line for line in lines]
