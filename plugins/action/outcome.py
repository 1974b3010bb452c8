# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.operations import WRITING
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import outcome_line
from ansible_collections.ddos.scrubbing.plugins.plugin_utils._role import (
    INTEGRATIONS, SERVERS, play_role_options)


class ActionModule(ActionBase):
    """Books one integration's part of a run to its own inventory host.

    The orchestrate task does the work once, on the state host, and its result would be booked
    to whichever host the play ran it for. This task runs on every host of the play and turns
    that one registered report into each integration host's own ok / changed / failed (what the
    PLAY RECAP, AWX's host summaries and its notifications count), with the one-line reason and,
    under --diff, the integration's before and after. It runs in the controller's process, reads
    the registered report without templating it, and calls nothing: it is the play's only task
    per host, so its cost is what an integration adds to a run.

    With ``whole_run: true`` (once per play) it is the run's verdict instead: it prints the
    summary and fails when the operation as a whole failed (an invalid inventory, a refused event,
    an unreachable ledger), naming why. For the role (``from_role: true``, delegated to the state
    host) it first records in the ledger what the protected servers' own firewalls did: one task
    where two cost an 8-integration incident a tenth of its time over a one-task play (issue 18).
    """

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("report_var", "whole_run", "show", "from_role"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        var = self._task.args.get("report_var") or "scrubbing_result"
        report = task_vars.get(var)
        if not isinstance(report, dict):
            raise AnsibleActionFail("ddos.scrubbing.outcome: %s is not defined: register the result of the "
                                    "ddos.scrubbing.orchestrate task as %s first" % (var, var))
        check_mode = bool(self._task.check_mode)
        reports = report.get("reports") or [report]
        if boolean(self._task.args.get("whole_run", False)):
            played = task_vars.get("ansible_play_hosts_all") or ()
            from_role = boolean(self._task.args.get("from_role", False))
            show = self._task.args.get("show") or (role_show(report) if from_role else "summary")
            if show not in ("summary", "rows"):
                raise AnsibleActionFail("ddos.scrubbing.outcome: show must be summary or rows, got %r" % show)
            not_recorded = self._record_servers(report, task_vars) if from_role else None
            result.update(run_verdict(report, reports, played, show, not_recorded))
            return result
        host = task_vars.get("inventory_hostname")
        if host in task_vars.get("groups", {}).get(SERVERS, ()):
            # a protected server: its own firewall, written here over its own connection (imported here:
            # most runs protect no server, and every module a run imports is compiled on every run)
            from ansible_collections.ddos.scrubbing.plugins.plugin_utils._server import server_outcome  # pylint: disable=import-outside-toplevel
            result.update(server_outcome(self, host, report, task_vars))
        elif host in task_vars.get("groups", {}).get(INTEGRATIONS, ()):
            result.update(host_outcome(host, reports, check_mode, bool(self._task.diff)))
        else:
            result.update(changed=False, msg="not an integration: the run's results are on the integrations' hosts")
        return result

    def _record_servers(self, report, task_vars):
        """Book what each protected server's own task reported (``scrubbing_server_result``) to the
        ledger, through the orchestrate action's ``record`` operation on this task's connection (the
        state host's, as the role delegates it). Returns why it could not, or None.

        Only after an operation that writes, and that reached the integrations; the ledger is the
        one the role's variables name (state file, DSN). In check mode nothing is recorded.
        """
        if not task_vars.get("groups", {}).get(SERVERS) or "integrations" not in report:
            return None
        refusal, options = play_role_options(self._templar, task_vars)
        if refusal or options.get("operation") not in RECORDING:
            return None  # refused already by the orchestrate task, which named why
        task = self._task.copy()
        task.args = dict({name: options[name] for name in ("state_file", "ledger_dsn", "audit_retention")
                          if name in options}, operation="record")
        record = self._shared_loader_obj.action_loader.get(
            "ddos.scrubbing.orchestrate", task=task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        recorded = record.run(task_vars=task_vars)
        if "integrations" in recorded:
            return None
        return "the protected servers' firewalls were not recorded in the ledger: %s" % (
            recorded.get("msg") or "failed without a message")


def role_show(report):
    """What the role's verdict prints: the status rows when the status was asked for as JSON
    (scrubbing_status_format, as the orchestrate task reports it), else the summary."""
    return "rows" if report.get("status_format") == "json" else "summary"


def run_failures(reports):
    """Why the operation as a whole failed, one message per failed operation; [] when it ran.

    A report without per-integration results (``integrations``, or ``rows`` for status) is an
    operation that never reached the integrations: the inventory was refused, the event was
    refused, the ledger could not be opened, the state host's module crashed.
    """
    return [r.get("msg") or "failed without a message" for r in reports
            if "integrations" not in r and "rows" not in r]


# The operations after which the protected servers' own results are recorded: the writing ones.
RECORDING = tuple(operation for operation in WRITING if operation != "record")


def run_verdict(report, reports, played, show="summary", not_recorded=None):
    failures = run_failures(reports) + ([not_recorded] if not_recorded else [])
    # An integration that failed but is not a host of this play (a --limit left it out) has no
    # host of its own to fail here: the run fails for it, naming it.
    played = set(played)
    unplayed = sorted({name for r in reports for name in (r.get("failed_integrations") or ()) if name not in played})
    if unplayed:
        failures.append("failed, and not in this play's hosts (--limit): " + "; ".join(
            "%s: %s" % (name, _last_failure(name, reports)) for name in unplayed))
    if failures:
        return dict(failed=True, changed=False, msg="; ".join(failures))
    # Likewise a change to an integration that is not a host of this play is booked here, so that
    # a play without the integrations' hosts (--limit localhost, a role run on localhost) still
    # reports that something changed.
    changed = any(name not in played and row.get("changed")
                  for r in reports for name, row in (r.get("integrations") or {}).items())
    # Shown at default verbosity, like a debug task: this is what the operator reads.
    status_file = report.get("status_file")
    written = "%s status written to %s" % (status_file["format"], status_file["path"]) if status_file else None
    if show == "rows":
        result = dict(changed=changed, rows=report.get("rows") or [], _ansible_verbose_always=True)
        if written:
            result["msg"] = written
        return result
    summary = list(report.get("summary") or [r.get("msg", "") for r in reports])
    if written:
        summary.append(written)
    return dict(changed=changed, msg=summary, _ansible_verbose_always=True)


def _last_failure(name, reports):
    for r in reversed(reports):
        row = (r.get("integrations") or {}).get(name)
        if row is not None and (row.get("failed") or name in (r.get("failed_integrations") or ())):
            return row.get("msg") or row.get("reason") or "failed"
    return "failed"


def host_outcome(host, reports, check_mode, with_diff):
    """This integration host's ok / changed / failed over one or several (batched) operations."""
    rows = []
    for r in reports:
        row = _row_of(host, r)
        if row is not None:
            rows.append((r, row))
    if not rows:
        return _not_in_run(host, reports)
    labelled = len(reports) > 1
    lines, failed, changed = [], False, False
    for r, row in rows:
        row_failed = bool(row.get("failed")) or host in (r.get("failed_integrations") or ())
        failed = failed or row_failed
        changed = changed or bool(row.get("changed"))
        line = _line(row, row_failed, check_mode)
        if labelled and r.get("incident"):
            line = "incident %s %s: %s" % (r["incident"].get("id"), r["incident"].get("status"), line)
        lines.append(line)
    result = dict(changed=changed, msg="; ".join(lines))
    if failed:
        result["failed"] = True
    last = rows[-1][1]
    if "active" in last:
        result["active"] = last["active"]
    diff = _diff(host, [row for _r, row in rows]) if with_diff else None
    if diff:
        result["diff"] = diff
    return result


def _row_of(host, report):
    if "integrations" in report:
        return report["integrations"].get(host)
    for row in report.get("rows") or ():
        if row.get("integration") == host:
            return dict(row, status_row=True)
    return None


def _line(row, failed, check_mode):
    if row.get("status_row"):
        said = {True: "active", False: "inactive"}.get(row.get("provider_active"), "not read")
        return "%s in the ledger; the provider says %s" % ("active" if row.get("active") else "inactive", said)
    if "ok" in row and "findings" in row:  # the Test button
        return row.get("msg") or ("Test failed" if failed else "Test passed")
    if failed and not row.get("failed"):
        return "FAILED: %s" % (row.get("msg") or row.get("reason"))
    return outcome_line(row, check_mode)


def _not_in_run(host, reports):
    """No result for this integration: the run failed before reaching it, or it was not concerned."""
    own = [line for r in reports for line in (r.get("errors") or ()) if _names(line, host)]
    if own:
        return dict(failed=True, changed=False, msg="; ".join(own) + "; nothing was called")
    failures = run_failures(reports)
    if failures:
        return dict(skipped=True, changed=False, skip_reason="not run: %s" % failures[0].splitlines()[0])
    return dict(skipped=True, changed=False, skip_reason="not concerned by this run (another workspace, or not "
                                                         "selected)")


def _names(line, host):
    return re.search(r"(?<![\w.-])%s(?![\w.-])" % re.escape(host), line) is not None


def _diff(host, rows):
    """The integration's state before its first change and after its last one, for --diff."""
    changed = [row for row in rows if row.get("changed") and "before" in row]
    if not changed:
        return None
    provider = changed[0].get("provider") or ""
    return dict(before=_text(changed[0].get("before")), after=_text(changed[-1].get("after")),
                before_header="%s (%s)" % (host, provider), after_header="%s (%s)" % (host, provider))


def _text(state):
    return json.dumps(state, indent=2, sort_keys=True, default=str) + "\n"
