# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE plugin_utils: not a public API, may change without notice.
"""A protected server's own firewall, written over that server's own connection.

The orchestrate task decided, for every host of the group ``scrubbing_servers``, whether its
nftables table must exist and for which of its addresses, and recorded that intent in the
ledger. The per-host outcome task (``ddos.scrubbing.outcome``) then runs on each such server, in
parallel as Ansible runs any task, and calls this: ``ddos.scrubbing.local_firewall`` runs there
with the server's own options (``scrubbing_local_firewall``) and the run's decision (for the Test
button, ``ddos.scrubbing.local_firewall_info``). The result is the server's own line in the PLAY
RECAP, and the role's next task records it in the ledger.
"""

from __future__ import annotations

import signal

from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import outcome_line


class _Overdue(Exception):
    pass


def within(seconds, call):
    """``call()``, or None when it has not returned after ``seconds``.

    The per-host task bounds itself here rather than with a ``timeout: "{{ scrubbing_deadline }}"``
    keyword: every integration host's worker process compiles such a template (and loads the
    filter plugins it names) anew, 4.5 ms per host, about 0.9 s of a 200-integration run. Only a
    server does anything that can hang. SIGALRM, as Ansible's own task timeout: the action runs
    in the main thread of its worker process.
    """
    def alarm(_signum, _frame):
        raise _Overdue()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(max(1, int(seconds)))
    try:
        return call()
    except _Overdue:
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def server_outcome(action, host, report, task_vars):
    """Run the decision for ``host`` on it through ``action``'s connection; the host's result."""
    row = handed_over(host, report)
    if row is None:
        return dict(skipped=True, changed=False, skip_reason="no decision for this server in this run")
    # The server's own options come from the inventory (templated as inventory values are); the
    # decision (targets, attack details) comes from the run's result and is data, never templated.
    options = action._templar.template(task_vars.get("scrubbing_local_firewall") or {})
    deadline = int(action._templar.template(task_vars.get("scrubbing_deadline", 120)))
    if row.get("ok") is not None and "findings" in row:  # the Test button
        args = {k: v for k, v in options.items() if k not in ("state", "targets", "target_attacks")}
        out = within(deadline, lambda: action._execute_module(
            module_name="ddos.scrubbing.local_firewall_info", module_args=args, task_vars=task_vars))
        return out if out is not None else not_answered(host, deadline, "tested")
    out = within(deadline, lambda: action._execute_module(
        module_name="ddos.scrubbing.local_firewall", module_args=dict(options, **row["module_args"]),
        task_vars=task_vars))
    if out is None:
        return not_answered(host, deadline, "written")
    summary = {k: v for k, v in row.items() if k not in ("on_server", "module_args")}
    summary.update(changed=bool(out.get("changed")), failed=bool(out.get("failed")), active=out.get("active"),
                   msg=out.get("msg"))
    result = dict(out, msg=outcome_line(summary, bool(action._task.check_mode)), targets=row.get("targets") or [],
                  incidents=row.get("incidents") or [], action=row.get("action"), reason=row.get("reason"))
    if not action._task.diff:
        result.pop("diff", None)
    return result


def not_answered(host, deadline, what):
    """The server's result when its step did not return within the deadline."""
    return dict(failed=True, changed=False, msg=(
        "%s: its firewall was not %s within scrubbing_deadline (%d s): the connection or the module on the "
        "server did not answer. Check that the server is up and its connection works (ansible -m ping %s); "
        "the next incident run or reconcile tries again" % (host, what, deadline, host)))


def handed_over(host, report):
    """The run's last decision for ``host`` (a batch of incidents: the last one decided)."""
    if not isinstance(report, dict):
        return None
    for one in reversed(report.get("reports") or [report]):
        row = (one.get("integrations") or {}).get(host)
        if isinstance(row, dict) and row.get("on_server"):
            return row
    return None
