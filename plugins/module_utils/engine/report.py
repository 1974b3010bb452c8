# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""What a run tells the operator: one row per integration, the summary lines, the status
table, several incident reports merged into one, and the Test button's report."""

from __future__ import annotations

import os
import tempfile
import textwrap

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import ts


# -- one integration's row in a run ------------------------------------------------------------
def success_row(task, provider, plan, after, check_mode):
    integ, decision = task.integ, task.decision
    result = plan.result(after, check_mode=check_mode)
    row = {"integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
           "action": ("activate" if decision.wanted else "withdraw") if plan.changed else "none",
           "wanted": bool(decision.wanted), "changed": plan.changed, "active": result["active"],
           "reason": decision.reason, "before": result["before"], "after": result["after"],
           "snapshot": result["snapshot"], "api_calls": len(provider.api_calls()),
           "warnings": provider.warnings, "failed": False}
    if decision.targets is not None:
        row["targets"] = decision.targets
    return with_times(row, task)


def with_times(row, task):
    """``written``: when the provider write was sent and answered (settled, when the run waits for
    it), epoch seconds; how long a provider took, next to the ledger's times."""
    times = getattr(task, "times", None)
    if times and "sent" in times:
        row["written"] = {key: round(value, 3) for key, value in times.items()}
    return row


def failure_row(task, provider, message, landed=False):
    integ, decision = task.integ, task.decision
    if landed:
        message = ("the %s write LANDED (%s) but the outcome could not be recorded: %s" % (
            integ.provider, "activated" if decision.wanted else "withdrawn", message))
    return with_times({"integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
                       "action": "activate" if decision.wanted else "withdraw", "wanted": bool(decision.wanted),
                       "changed": landed, "failed": True, "msg": message, "reason": decision.reason,
                       "api_calls": len(provider.api_calls()), "warnings": provider.warnings}, task)


def handed_over_row(task):
    """A protected server's decision, for the play's next task to write over the server's connection."""
    integ, decision = task.integ, task.decision
    wanted = bool(decision.wanted)
    attacks = task.routes.attacks if task.routes is not None else {}  # the per-target decision (_policy.Routes)
    return {"integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
            "action": "activate" if wanted else "withdraw", "wanted": wanted, "changed": False, "failed": False,
            "on_server": True, "reason": decision.reason, "incidents": decision.incidents,
            "targets": decision.targets or [],
            "module_args": {"state": "active" if wanted else "inactive", "targets": decision.targets or [],
                            "target_attacks": attacks}}


def superseded_row(task):
    integ = task.integ
    return {"integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
            "action": "none", "changed": False, "superseded": True, "wanted": bool(task.decision.wanted),
            "reason": "not written: an event arrived meanwhile (%s); decided again" % task.decision.reason}


def pending_row(task, deadline):
    integ = task.integ
    return {"integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
            "action": "activate" if task.decision.wanted else "withdraw", "wanted": bool(task.decision.wanted),
            "changed": False, "failed": True, "pending": True, "reason": task.decision.reason,
            "msg": "pending: not done within scrubbing_deadline=%ss (still %s); the other integrations did not "
                   "wait for it. Run the reconcile playbook to finish it" % (deadline, task.phase)}


# -- the whole run ---------------------------------------------------------------------------
def outcome_line(row, check_mode=False):
    """What happened to one integration, in words: "activated, because ..." (in check mode,
    "would activate, because ..."), or its failure. Shared by the run's summary and the
    integration host's own result in the PLAY RECAP."""
    if row.get("pending"):
        return "PENDING: %s" % row.get("msg")
    if row.get("failed"):
        return "FAILED: %s" % row.get("msg")
    reason = row.get("reason")
    if row.get("on_server") and "module_args" in row:
        targets = ", ".join(row.get("targets") or []) or "no address"
        return "%s on the server itself (its own task, next) for %s, because %s" % (
            "to be written" if row.get("wanted") else "to be withdrawn", targets, reason)
    because = ", because %s" % reason if reason else ""
    action = row.get("action")
    if action in ("activate", "withdraw") and row.get("changed"):
        if check_mode:
            return "would %s%s" % (action, because)
        return "%s%s" % ("activated" if action == "activate" else "withdrawn", because)
    if row.get("superseded"):
        return reason
    stays = "active" if row.get("active") else "inactive"
    return "%s %s%s" % ("would stay" if check_mode else "stays", stays, because)


def summarise(operation, report, check_mode=False):
    """One line per integration, for the playbook's output."""
    if operation == "status":
        return report["table"]
    if operation == "test":
        return format_test_table(report.get("integrations", {}))
    lines = []
    if report.get("incident"):
        inc = report["incident"]
        target = " (target %s)" % inc["target"] if inc["target"] else ""
        lines.append("incident %s %s in workspace %s%s" % (inc["id"], inc["status"], inc["workspace"], target))
    lines.extend(report.get("notes") or [])
    if report.get("audit"):
        audit = report["audit"]
        lines.append("audit: %d record(s) of %s written to %s" % (audit["records"], audit["trail"], audit["file"]))
    for sent in report.get("notifications") or []:
        lines.append("notified %s (%s): %s%s" % (sent["receiver"], sent["format"], sent["sent"],
                                                 "" if sent["ok"] else " NOT DELIVERED (see the warning)"))
    for name in sorted(report.get("integrations", {})):
        r = report["integrations"][name]
        if r.get("failed"):
            lines.append("%s: %s" % (name, outcome_line(r, check_mode)))
        else:
            lines.append("%s (%s): %s" % (name, r.get("provider"), outcome_line(r, check_mode)))
    return lines


def drift(row):
    """Does the provider disagree with the ledger? "provider off": the ledger holds it on and the
    provider says off (withdrawn by hand, lost); "provider on": the reverse (switched on outside
    this collection, or on before it). None when they agree or the provider was not read."""
    said = row.get("provider_active")
    if said is None or bool(said) == bool(row["active"]):
        return None
    return "provider on" if said else "provider off"


def _held(row):
    if row.get("held_targets"):
        return ", ".join("%s until %s" % (t, ts(u)) for t, u in sorted(row["held_targets"].items()))
    return ts(row.get("held_until"))


ERROR_WIDTH = 60  # the last error is wrapped at this width (between words: a path stays whole), never cut


def format_table(rows):
    headers = ("INTEGRATION", "PROVIDER", "WORKSPACE", "ACTIVE", "PROVIDER SAYS", "DRIFT", "SINCE", "HELD UNTIL",
               "INCIDENTS", "PINNED", "ON 30D", "GUARD", "LAST ERROR")
    lines, errors = [], []
    for r in rows:
        said = {True: "active", False: "inactive", None: "-"}[r["provider_active"]]
        if r.get("provider_says"):
            said += " (%s)" % r["provider_says"]
        incidents = ",".join(r["incidents"]) or "-"
        if r.get("targets"):
            incidents += " routes:" + ",".join(r["targets"])
        lines.append((r["integration"], r["provider"] or "-", r["workspace"] or "-",
                      "yes" if r["active"] else "no", said, drift(r) or "-", ts(r["since"]), _held(r), incidents,
                      "yes" if r["pinned"] else "no", _duration(r.get("active_30d")), r.get("guard") or "-"))
        error = (r["last_error"] or "-") + ("" if not r["pending"] else " [pending %s]" % r["pending"])
        errors.append(textwrap.wrap(error, ERROR_WIDTH, break_long_words=False, break_on_hyphens=False) or ["-"])
    widths = [max([len(h)] + [len(str(line[i])) for line in lines]) for i, h in enumerate(headers[:-1])]
    fmt = "  ".join("%%-%ds" % w for w in widths) + "  %s"
    indent = " " * (sum(widths) + 2 * len(widths))
    out = [fmt % headers]
    for line, error in zip(lines, errors):
        out.append(fmt % (line + (error[0],)))
        out.extend(indent + more for more in error[1:])
    return out


def _duration(seconds):
    if seconds is None:
        return "-"
    return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60) if seconds >= 60 else "%ds" % seconds


# -- status for machines -----------------------------------------------------------------------
STATUS_SCHEMA = "ddos.scrubbing/status/1"
ROW_FIELDS = ("integration", "provider", "workspace", "active", "provider_active", "provider_says", "since",
              "held_until", "held_targets", "incidents", "targets", "pinned", "pending", "last_error",
              "last_error_at", "in_inventory", "guard", "active_30d")


def status_document(report, now):
    """The status as one JSON document a script can read (its schema is in docs/status.md)."""
    return {
        "schema": STATUS_SCHEMA,
        "generated_at": now,
        "ledger": {k: report["ledger"][k] for k in ("backend", "where")},
        "integrations": [dict({k: r.get(k) for k in ROW_FIELDS}, drift=drift(r)) for r in report["rows"]],
        "workspaces": report["workspaces"],
    }


def _label(value):
    """A label value as the exposition format wants it: backslash, double quote and newline escaped."""
    return str(value if value is not None else "").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


PROMETHEUS_METRICS = (
    # name, help, value of a row
    ("ddos_scrubbing_active", "1 while the ledger holds the integration on", lambda r: r["active"]),
    ("ddos_scrubbing_drift", "1 when the provider disagrees with the ledger (either way)",
     lambda r: drift(r) is not None),
    ("ddos_scrubbing_provider_off_drift", "1 when the ledger holds it on and the provider says off",
     lambda r: drift(r) == "provider off"),
    ("ddos_scrubbing_active_since_timestamp_seconds", "when it was switched on (0: not on)",
     lambda r: r["since"] or 0),
    ("ddos_scrubbing_held_until_timestamp_seconds", "until when a hold-down keeps it on (0: no hold-down)",
     lambda r: max([r.get("held_until") or 0] + list((r.get("held_targets") or {}).values()))),
    ("ddos_scrubbing_incidents", "active incidents it serves", lambda r: len(r["incidents"])),
    ("ddos_scrubbing_pending", "1 while a run's write is unfinished (reconcile finishes it)",
     lambda r: bool(r["pending"])),
    ("ddos_scrubbing_last_error", "1 when its last run failed (the message: the status playbook)",
     lambda r: bool(r["last_error"])),
)


def prometheus_text(report, now):
    """The status as a node_exporter textfile (the Prometheus text exposition format)."""
    out = []
    for name, text, value in PROMETHEUS_METRICS:
        out += ["# HELP %s %s" % (name, text), "# TYPE %s gauge" % name]
        for r in report["rows"]:
            labels = 'integration="%s",provider="%s",workspace="%s"' % (
                _label(r["integration"]), _label(r["provider"]), _label(r["workspace"]))
            out.append("%s{%s} %s" % (name, labels, _number(value(r))))
    out += ["# HELP ddos_scrubbing_workspace_active_incidents active incidents of the workspace",
            "# TYPE ddos_scrubbing_workspace_active_incidents gauge"]
    for ws_name, ws in sorted(report["workspaces"].items()):
        out.append('ddos_scrubbing_workspace_active_incidents{workspace="%s"} %d' % (
            _label(ws_name), len(ws["active_incidents"])))
    out += ["# HELP ddos_scrubbing_status_timestamp_seconds when the status playbook wrote this file",
            "# TYPE ddos_scrubbing_status_timestamp_seconds gauge",
            "ddos_scrubbing_status_timestamp_seconds %s" % _number(now)]
    return "\n".join(out) + "\n"


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def write_atomically(path, text, mode=0o644):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename, so a
    reader (node_exporter's textfile collector, a script) never sees half a file. The temporary
    name does not end in .prom: the collector reads only *.prom files."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    handle, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def merge_reports(reports):
    """One result for several incident operations: every line, failed if any failed."""
    merged = {"changed": any(r.get("changed") for r in reports), "incidents": [r.get("incident") for r in reports],
              "summary": [line for r in reports for line in (r.get("summary") or [r.get("msg", "")])],
              "warnings_list": [w for r in reports for w in r.pop("warnings_list", [])], "reports": reports}
    failed = [r.get("msg", "failed") for r in reports if r.get("failed")]
    if failed:
        merged.update(failed=True, msg="incident: %d of %d events failed: %s" % (len(failed), len(reports),
                                                                                 "; ".join(failed)))
    else:
        merged["msg"] = "incident: %d events: ok" % len(reports)
    return merged


# -- the Test button ---------------------------------------------------------------------------
# How a finding is graded on screen: "ok" (nothing to do), "warn" (the Test passes, but the
# integration will not do what an operator expects during an incident: read it before one),
# "fail" (activation would fail or do nothing: fix it). Each provider grades its own findings
# (docs/test-button.md lists them); a Test that could not run at all is one "fail" line.
GRADES = {"ok": "ok", "warning": "warn", "error": "fail"}


def format_test_table(results):
    """The Test report at default verbosity: per integration, its verdict and one graded line per finding."""
    lines = []
    for name in sorted(results):
        r = results[name]
        findings = r.get("findings") or []
        warned = sum(1 for f in findings if f.get("level") == "warning")
        if not r.get("ok"):
            verdict = "FAILED"
        elif warned:
            verdict = "passed with %d warning%s" % (warned, "" if warned == 1 else "s")
        else:
            verdict = "passed"
        lines.append("%s (%s): %s" % (name, r.get("provider") or "-", verdict))
        rows = [(GRADES.get(f.get("level"), "fail"), f.get("check") or "-", f.get("detail") or "") for f in findings]
        if not r.get("ok") and not any(grade == "fail" for grade, _check, _detail in rows):
            # the Test stopped before a finding (a refused token, an unknown object, no answer)
            rows.append(("fail", "-", r.get("msg") or "failed"))
        width = max([len(check) for _grade, check, _detail in rows] or [0])
        lines.extend("  %-4s  %-*s  %s" % (grade, width, check, detail) for grade, check, detail in rows)
    return lines


def build_test_report(provider, check_mode=False):
    """Run the provider's Test and shape the report (shared with the ``test`` playbook). In check
    mode the provider sends no request that writes, not even a harmless write probe."""
    provider.check_mode = check_mode
    try:
        findings = provider.test()
    except ProviderError as exc:
        return dict(ok=False, msg=str(exc), provider=provider.name, findings=[], state=None, active=None,
                    error=exc.as_dict())
    state = findings.state if hasattr(findings, "state") else None
    errors = [f for f in findings if f["level"] == "error"]
    warnings = [f for f in findings if f["level"] == "warning"]
    if errors:
        msg = "%s: Test failed: %s" % (provider.name, "; ".join(f["detail"] for f in errors))
    elif warnings:
        msg = "%s: Test passed with warnings: %s" % (provider.name, "; ".join(f["detail"] for f in warnings))
    else:
        msg = "%s: Test passed" % provider.name
    return dict(ok=not errors, msg=msg, provider=provider.name, findings=list(findings), state=state,
                active=provider.is_active(state) if state is not None else None,
                warnings_count=len(warnings))
