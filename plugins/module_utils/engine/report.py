# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""What a run tells the operator: one row per integration, the summary lines, the status
table, several incident reports merged into one, and the Test button's report."""

from __future__ import annotations

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
    return row


def failure_row(task, provider, message, landed=False):
    integ, decision = task.integ, task.decision
    if landed:
        message = ("the %s write LANDED (%s) but the outcome could not be recorded: %s" % (
            integ.provider, "activated" if decision.wanted else "withdrawn", message))
    return {"integration": integ.name, "provider": integ.provider, "workspace": integ.workspace,
            "action": "activate" if decision.wanted else "withdraw", "wanted": bool(decision.wanted),
            "changed": landed, "failed": True, "msg": message, "reason": decision.reason,
            "api_calls": len(provider.api_calls()), "warnings": provider.warnings}


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
    for name in sorted(report.get("integrations", {})):
        r = report["integrations"][name]
        if r.get("failed"):
            lines.append("%s: %s" % (name, outcome_line(r, check_mode)))
        else:
            lines.append("%s (%s): %s" % (name, r.get("provider"), outcome_line(r, check_mode)))
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


def build_test_report(provider):
    """Run the provider's Test and shape the report (shared with the ``test`` playbook)."""
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
