# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Incidents in, provider calls out: the logic behind every playbook of the collection.

One run works in four phases, so that a run killed anywhere can be finished by
``reconcile`` and never loses the real pre-incident snapshot:

1. ledger transaction: record the event, decide which integrations must change, *claim* them
   (a concurrent run leaves claimed integrations to their claimant, which re-checks at its end);
2. read every claimed provider in parallel and plan (reads only);
3. ledger transaction: write the *intent* (action + snapshot) of every change; then write to
   the providers in parallel;
4. ledger transaction: write the outcomes, release the claims, and re-decide: if events
   arrived meanwhile, loop.

Everything runs in the controller's process, in threads: one Ansible task serves any number
of integrations, which is what keeps an incident with 8 integrations close to the cost of a
playbook with one no-op task.
"""

from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import execute, plan_change
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._ledger import (
    active_incidents, claim_is_live, integration, new_claim, prune, workspace)
from ansible_collections.ddos.scrubbing.plugins.module_utils._module import argument_spec, build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import provider_class
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import shape_errors

# Options the playbooks set themselves; an inventory must not.
RESERVED_OPTIONS = ("state", "snapshot")
MAX_ROUNDS = 5


# -- inventory ---------------------------------------------------------------------------------
class Integration:
    """One inventory host of the group scrubbing_integrations, validated."""

    def __init__(self, name, provider_cls, options, workspace_name, auto, targets, secrets):
        self.name = name
        self.provider_cls = provider_cls
        self.provider = provider_cls.name
        self.options = options
        self.workspace = workspace_name
        self.auto = auto
        self.targets = targets
        self.secrets = secrets

    def covers(self, target):
        """Does an incident on ``target`` concern this integration?"""
        if not self.targets or not target:
            return True
        try:
            net = ipaddress.ip_network(target, strict=False)
        except ValueError:
            return False
        return any(net.version == t.version and net.subnet_of(t) for t in self.targets)

    def new_provider(self):
        return self.provider_cls(dict(self.options))


def load_integrations(hosts):
    """Validate every integration's host vars; return (integrations, errors).

    ``hosts`` maps host name -> dict with scrubbing_provider, scrubbing_options,
    scrubbing_workspace, scrubbing_auto, scrubbing_targets. Nothing is called on any provider.
    """
    integrations, errors = [], []
    for name in sorted(hosts):
        hv = hosts[name]
        where = "integration %s" % name
        provider_name = hv.get("scrubbing_provider")
        if not provider_name:
            errors.append("%s: scrubbing_provider is not set; set it to one of the provider module names" % where)
            continue
        try:
            cls = provider_class(provider_name)
        except InputError as exc:
            errors.append("%s: scrubbing_provider %r is unknown. %s" % (where, provider_name, exc.hint))
            continue
        where = "integration %s (%s)" % (name, provider_name)
        options = hv.get("scrubbing_options") or {}
        if not isinstance(options, dict):
            errors.append("%s: scrubbing_options must be a dict of %s options, got %s" % (
                where, provider_name, type(options).__name__))
            continue
        reserved = [k for k in RESERVED_OPTIONS if k in options]
        if reserved:
            errors.append("%s: scrubbing_options must not set %s; the playbooks set it" % (where, ", ".join(reserved)))
            continue
        spec = argument_spec(cls)
        for key in RESERVED_OPTIONS:
            spec.pop(key, None)
        result = ArgumentSpecValidator(spec, mutually_exclusive=cls.mutually_exclusive,
                                       required_together=cls.required_together,
                                       required_one_of=cls.required_one_of,
                                       required_if=cls.required_if).validate(dict(options))
        if result.error_messages:
            for message in result.error_messages:
                errors.append("%s: scrubbing_options: %s" % (where, _plain(message)))
            continue
        params = result.validated_parameters
        bad = shape_errors(cls, params)
        if bad:
            errors.extend("%s: scrubbing_options: %s" % (where, message) for message in bad)
            continue
        params.setdefault("state", "active")
        params.setdefault("snapshot", None)
        ws = hv.get("scrubbing_workspace", "default")
        if not isinstance(ws, str) or not ws:
            errors.append("%s: scrubbing_workspace must be a non-empty string" % where)
            continue
        auto = hv.get("scrubbing_auto", True)
        if not isinstance(auto, bool):
            errors.append("%s: scrubbing_auto must be true or false, got %r" % (where, auto))
            continue
        targets, bad = _parse_targets(hv.get("scrubbing_targets") or [])
        if bad:
            errors.append("%s: scrubbing_targets: %s" % (where, bad))
            continue
        secrets = sorted(set(str(v) for v in result._no_log_values if v))
        integrations.append(Integration(name, cls, params, ws, auto, targets, secrets))
    return integrations, errors


def _parse_targets(raw):
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return [], "must be a list of IP addresses or CIDRs"
    targets = []
    for item in raw:
        try:
            targets.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            return [], "%r is not an IP address or CIDR (e.g. 203.0.113.7 or 203.0.113.0/24)" % (item,)
    return targets, None


def _plain(message):
    return message.replace("argument ", "option ")


def validate_incident(incident):
    """Check the ``incident`` extra var; return it normalised, or raise InputError."""
    if not isinstance(incident, dict):
        raise InputError("incident", "the incident variable must be a dict like "
                         "{id: A1, status: started, workspace: default, target: 203.0.113.7}")
    incident_id = incident.get("id")
    if incident_id in (None, ""):
        raise InputError("incident", "incident.id is missing", hint="Give each incident a stable id")
    status = incident.get("status")
    if status not in ("started", "resolved"):
        raise InputError("incident", "incident.status must be 'started' or 'resolved', got %r" % (status,))
    ws = incident.get("workspace") or "default"
    if not isinstance(ws, str):
        raise InputError("incident", "incident.workspace must be a string")
    target = incident.get("target")
    if target not in (None, ""):
        try:
            ipaddress.ip_network(str(target), strict=False)
        except ValueError:
            raise InputError("incident", "incident.target %r is not an IP address or CIDR" % (target,))
        target = str(target)
    else:
        target = None
    normalised = dict(incident)
    normalised.update(id=str(incident_id), status=status, workspace=ws, target=target)
    return normalised


# -- deciding ----------------------------------------------------------------------------------
def recorded_active(rec):
    """Did we (or a run that died mid-write) switch this integration on?"""
    return bool(rec["active"] or (rec.get("pending") or {}).get("action") == "activate")


def decide(doc, integ, now, hold_down):
    """(wanted, reason, incident ids): True = must be active, False = must be withdrawn,
    None = leave it alone (we never switched it on and nothing needs it)."""
    rec = integration(doc, integ.name)
    was_on = recorded_active(rec)
    incidents = active_incidents(doc, integ.workspace)
    if rec["pinned"]:
        return True, "pinned by a manual activation", []
    if rec["forced_off"]:
        return (False if was_on else None), "withdrawn by hand with force while incidents are active", []
    if not integ.auto:
        return None, "scrubbing_auto is false", []
    needing = sorted(i for i, r in incidents.items() if integ.covers(r.get("target")))
    if needing:
        return True, "needed by incident %s" % ", ".join(needing), needing
    if not was_on:
        return None, "no incident needs it", []
    if incidents:
        return True, "kept: incident %s of workspace %s still active" % (
            ", ".join(sorted(incidents)), integ.workspace), sorted(incidents)
    quiet_since = workspace(doc, integ.workspace).get("quiet_since") or 0
    if hold_down and now < quiet_since + hold_down:
        return True, "kept: workspace %s quiet since %s, hold-down until %s" % (
            integ.workspace, _ts(quiet_since), _ts(quiet_since + hold_down)), []
    return False, "workspace %s has no active incident" % integ.workspace, []


def _ts(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else "-"


# -- running -----------------------------------------------------------------------------------
class Orchestrator:
    def __init__(self, integrations, ledger, check_mode=False, hold_down=0, workers=16, clock=time.time,
                 wait_override=None):
        self.integrations = {i.name: i for i in integrations}
        self.ledger = ledger
        self.check_mode = check_mode
        self.hold_down = hold_down or 0
        self.workers = max(1, workers)
        self.clock = clock
        self.wait_override = wait_override
        self.secrets = sorted({s for i in integrations for s in i.secrets})
        self.warnings = []

    # public operations ---------------------------------------------------------------------
    def incident(self, incident):
        incident = validate_incident(incident)
        ws_name = incident["workspace"]
        notes = []

        def record(doc):
            ws = workspace(doc, ws_name)
            now = self.clock()
            known = ws["incidents"].get(incident["id"])
            if incident["status"] == "started":
                if known and known["status"] == "active":
                    known["events"] = known.get("events", 1) + 1
                    notes.append("incident %s was already active: duplicate event, nothing new" % incident["id"])
                else:
                    ws["incidents"][incident["id"]] = {
                        "status": "active", "target": incident["target"], "started_at": now, "resolved_at": None,
                        "events": 1, "source": incident.get("source"), "details": _details(incident)}
                ws["quiet_since"] = None
            else:
                if not known:
                    notes.append("incident %s is unknown in workspace %s: nothing to withdraw for it"
                                 % (incident["id"], ws_name))
                    return
                if known["status"] == "resolved":
                    notes.append("incident %s was already resolved: duplicate event" % incident["id"])
                    return
                known.update(status="resolved", resolved_at=now)
                if not active_incidents(doc, ws_name):
                    ws["quiet_since"] = now
                    for name, integ in self.integrations.items():
                        if integ.workspace == ws_name:
                            integration(doc, name)["forced_off"] = False
            prune(doc)

        scope = [n for n, i in self.integrations.items() if i.workspace == ws_name]
        report = self._converge(scope, record)
        self.warnings.extend(notes)
        report["incident"] = incident
        report["notes"] = notes
        return report

    def activate(self, names):
        self._known(names)

        def pin(doc):
            for name in names:
                rec = integration(doc, name)
                rec.update(pinned=True, forced_off=False)
        return self._converge(names, pin)

    def withdraw(self, names, force=False):
        self._known(names)
        refused = {}

        def unpin(doc):
            now = self.clock()
            for name in names:
                rec = integration(doc, name)
                rec["pinned"] = False
                wanted, reason, ids = decide(doc, self.integrations[name], now, self.hold_down)
                if not (wanted and ids):
                    continue  # nothing active needs it (a hold-down does not block a manual withdrawal)
                if force:
                    rec["forced_off"] = True  # auto-activation leaves it off until the workspace is quiet
                else:
                    refused[name] = ("not withdrawn: %s. Run the withdraw playbook with -e force=true to "
                                     "withdraw it anyway" % reason)
        return self._converge(list(names), unpin, force_state={n: False for n in names}, refused=refused)

    def reconcile(self):
        return self._converge(sorted(self.integrations), None)

    def test(self, names):
        self._known(names)

        def one(name):
            provider = self.integrations[name].new_provider()
            try:
                report = build_test_report(provider)
            finally:
                provider.close()
            report["warnings"] = provider.warnings
            return name, self._scrub(report)
        rows = dict(self._parallel(one, names))
        return {"integrations": rows, "failed": [n for n, r in rows.items() if not r["ok"]], "changed": False}

    def status(self, live=True):
        doc = self.ledger.read()
        live_state = {}
        if live:
            def one(name):
                provider = self.integrations[name].new_provider()
                try:
                    state = provider.read()
                    # A provider may say more than active/inactive (an always-on prefix).
                    says = provider.describe(state) if hasattr(provider, "describe") else None
                    return name, {"active": provider.is_active(state), "says": says, "error": None}
                except ProviderError as exc:
                    return name, {"active": None, "error": self._scrub(str(exc))}
                finally:
                    provider.close()
            live_state = dict(self._parallel(one, sorted(self.integrations)))
        rows = []
        for name in sorted(set(self.integrations) | set(doc["integrations"])):
            rec = doc["integrations"].get(name) or integration({"integrations": {}}, name)
            integ = self.integrations.get(name)
            rows.append({
                "integration": name,
                "provider": integ.provider if integ else rec.get("provider"),
                "workspace": integ.workspace if integ else rec.get("workspace"),
                "active": bool(rec["active"]),
                "provider_active": live_state.get(name, {}).get("active"),
                "provider_says": live_state.get(name, {}).get("says"),
                "since": rec["since"],
                "incidents": rec["incidents"],
                "pinned": rec["pinned"],
                "pending": (rec.get("pending") or {}).get("action"),
                "last_error": rec["last_error"] or live_state.get(name, {}).get("error"),
                "in_inventory": integ is not None,
            })
        workspaces = {name: {"active_incidents": sorted(active_incidents(doc, name)),
                             "quiet_since": ws.get("quiet_since")}
                      for name, ws in doc["workspaces"].items()}
        return {"rows": rows, "workspaces": workspaces, "table": format_table(rows), "changed": False,
                "failed": []}

    # the four phases -------------------------------------------------------------------------
    def _converge(self, scope, event, force_state=None, refused=None):
        force_state = dict(force_state or {})
        refused = refused if refused is not None else {}
        results = {}
        rounds = 0
        pending_event = event
        while True:
            rounds += 1
            with self._txn() as doc:
                if pending_event is not None:
                    pending_event(doc)
                    pending_event = None
                tasks = self._claim(doc, scope, force_state, refused, results)
            if not tasks:
                break
            self._run(tasks, results)
            force_state = {}
            if self.check_mode or rounds >= MAX_ROUNDS:
                break
        for name, message in refused.items():
            results[name] = {"integration": name, "action": "none", "changed": False, "failed": True,
                             "msg": message}
        failed = sorted(n for n, r in results.items() if r.get("failed"))
        return {"integrations": results, "changed": any(r.get("changed") for r in results.values()),
                "failed": failed}

    def _claim(self, doc, scope, force_state, refused, results):
        now = self.clock()
        tasks = []
        for name in scope:
            if name in refused:
                continue
            integ = self.integrations[name]
            rec = integration(doc, name)
            rec.update(provider=integ.provider, workspace=integ.workspace)
            if name in force_state:
                wanted, ids = force_state[name], []
                reason = "manual activation" if wanted else "manual withdrawal"
            else:
                wanted, reason, ids = decide(doc, integ, now, self.hold_down)
            if wanted is None:
                if name not in results:
                    results[name] = {"integration": name, "provider": integ.provider, "action": "none",
                                     "changed": False, "active": rec["active"], "reason": reason}
                continue
            if results.get(name, {}).get("failed") and name not in force_state:
                continue  # failed this run already; reconcile retries it
            done = results.get(name)
            if done is not None and done.get("wanted") == wanted and not rec.get("pending"):
                continue  # converged by this run already
            if claim_is_live(rec.get("claim"), now) and rec["claim"].get("pid") != new_claim()["pid"]:
                results.setdefault(name, {"integration": name, "provider": integ.provider, "action": "none",
                                          "changed": False, "active": rec["active"],
                                          "reason": "another run is changing it now"})
                continue
            if wanted:
                rec["incidents"] = ids
            snapshot = rec["snapshot"] if rec["snapshot"] is not None else (rec.get("pending") or {}).get("snapshot")
            rec["claim"] = new_claim()
            tasks.append((integ, wanted, reason, snapshot))
        return tasks

    def _run(self, tasks, results):
        def plan_one(task):
            integ, wanted, reason, snapshot = task
            provider = integ.new_provider()
            try:
                return task, provider, plan_change(provider, "active" if wanted else "inactive", snapshot), None
            except ProviderError as exc:
                return task, provider, None, exc
            except Exception as exc:  # a provider bug must not kill the other integrations
                return task, provider, None, ProviderError(integ.provider, "unexpected error: %r" % exc)

        planned = self._parallel(plan_one, tasks)
        now = self.clock()
        to_write = []
        with self._txn() as doc:
            for task, provider, plan, error in planned:
                integ, wanted, reason, _snap = task
                rec = integration(doc, integ.name)
                if error is not None:
                    self._record_failure(rec, integ, wanted, reason, error, results, provider)
                    continue
                if plan.changed and not self.check_mode:
                    # The intent, with the pre-change snapshot, is on disk before the first write.
                    rec["pending"] = {"action": "activate" if wanted else "withdraw",
                                      "snapshot": plan.snapshot if wanted else rec["snapshot"], "at": now}
                    to_write.append((task, provider, plan))
                else:
                    self._record_success(rec, integ, wanted, reason, plan, None, results, provider, now)

        def write_one(item):
            task, provider, plan = item
            wait = self.wait_override if self.wait_override is not None else provider.params.get("wait", True)
            try:
                after = execute(plan, wait=wait, wait_timeout=provider.params.get("wait_timeout", 300),
                                wait_sleep=provider.params.get("wait_sleep"))
                return item, after, None
            except ProviderError as exc:
                return item, None, exc
            except Exception as exc:
                return item, None, ProviderError(task[0].provider, "unexpected error: %r" % exc)

        written = self._parallel(write_one, to_write)
        now = self.clock()
        with self._txn() as doc:
            for (task, provider, plan), after, error in written:
                integ, wanted, reason, _snap = task
                rec = integration(doc, integ.name)
                if error is not None:
                    # Keep the intent: the write may have landed; reconcile re-reads and finishes.
                    self._record_failure(rec, integ, wanted, reason, error, results, provider)
                else:
                    self._record_success(rec, integ, wanted, reason, plan, after, results, provider, now)
            for task, _provider, _plan, _error in planned:
                integration(doc, task[0].name)["claim"] = None
        for _task, provider, _plan, _error in planned:
            provider.close()

    def _record_success(self, rec, integ, wanted, reason, plan, after, results, provider, now):
        result = plan.result(after, check_mode=self.check_mode)
        if not self.check_mode:
            if wanted:
                if rec["snapshot"] is None:
                    rec["snapshot"] = plan.snapshot
                if not rec["active"] or rec["since"] is None:
                    rec["since"] = now
            else:
                rec["snapshot"] = None
                rec["since"] = None
                rec["incidents"] = []
            if plan.changed:
                rec["last_change_at"] = now
            # "active" in the ledger means: we hold it on. An always-on prefix we were asked to
            # activate is held on too; its snapshot says it was on before, so withdrawal keeps it.
            rec.update(active=bool(wanted), pending=None, last_error=None, last_error_at=None)
        results[integ.name] = self._scrub({
            "integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
            "action": ("activate" if wanted else "withdraw") if plan.changed else "none",
            "wanted": wanted, "changed": plan.changed, "active": result["active"], "reason": reason,
            "before": result["before"], "after": result["after"], "snapshot": result["snapshot"],
            "api_calls": len(provider.api_calls()), "warnings": provider.warnings, "failed": False})

    def _record_failure(self, rec, integ, wanted, reason, error, results, provider):
        message = self._scrub(str(error))
        if not self.check_mode:
            rec["last_error"] = message
            rec["last_error_at"] = self.clock()
        results[integ.name] = {"integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
                               "action": "activate" if wanted else "withdraw", "wanted": wanted, "changed": False,
                               "failed": True, "msg": message, "reason": reason,
                               "api_calls": len(provider.api_calls())}

    # helpers ------------------------------------------------------------------------------------
    def _txn(self):
        return self.ledger.transaction(dry_run=True) if self.check_mode else self.ledger.transaction()

    def _parallel(self, func, items):
        items = list(items)
        if len(items) <= 1:
            return [func(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(func, items))

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


def _details(incident):
    return {k: v for k, v in incident.items() if k not in ("id", "status", "workspace", "target")}


def format_table(rows):
    headers = ("INTEGRATION", "PROVIDER", "WORKSPACE", "ACTIVE", "PROVIDER SAYS", "SINCE", "INCIDENTS", "PINNED",
               "LAST ERROR")
    lines = []
    for r in rows:
        said = {True: "active", False: "inactive", None: "-"}[r["provider_active"]]
        if r.get("provider_says"):
            said += " (%s)" % r["provider_says"]
        lines.append((r["integration"], r["provider"] or "-", r["workspace"] or "-",
                      "yes" if r["active"] else "no", said, _ts(r["since"]),
                      ",".join(r["incidents"]) or "-", "yes" if r["pinned"] else "no",
                      (r["last_error"] or "-")[:80] + ("" if not r["pending"] else " [pending %s]" % r["pending"])))
    widths = [max([len(h)] + [len(str(line[i])) for line in lines]) for i, h in enumerate(headers)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    return [fmt % headers] + [fmt % line for line in lines]


# -- the operation entry point (shared by the action plugin and the module) ------------------------
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
    from ansible_collections.ddos.scrubbing.plugins.module_utils._ledger import Ledger

    integrations, errors = load_integrations(params["integration_configs"])
    if errors:
        return {"failed": True, "changed": False, "errors": errors,
                "msg": "the inventory is not valid; nothing was called:\n- " + "\n- ".join(errors)}
    operation = params["operation"]
    names = params.get("integrations") or sorted(i.name for i in integrations)
    try:
        orch = Orchestrator(integrations, Ledger(params["state_file"]), check_mode=check_mode,
                            hold_down=params.get("hold_down") or 0, workers=params.get("workers") or 64)
        if operation == "incident":
            if not params.get("incident"):
                raise InputError("incident", "the incident playbook needs -e incident={id, status, workspace, target}")
            report = orch.incident(params["incident"])
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
    except ProviderError as exc:
        return {"failed": True, "changed": False, "msg": str(exc)}
    report["summary"] = summarise(operation, report)
    report["warnings_list"] = list(orch.warnings) + [w for r in report.get("integrations", {}).values()
                                                     for w in (r.get("warnings") or [])]
    failed = report["failed_integrations"] = report.pop("failed")
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
        if r.get("failed"):
            lines.append("%s: FAILED: %s" % (name, r.get("msg")))
            continue
        action = {"activate": "activated", "withdraw": "withdrawn"}.get(r.get("action"), "unchanged")
        lines.append("%s (%s): %s, now %s; %s" % (name, r.get("provider"), action,
                                                  "active" if r.get("active") else "inactive", r.get("reason")))
    return lines
