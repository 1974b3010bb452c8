# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import outcome_line

SERVERS = "scrubbing_servers"


class ActionModule(ActionBase):
    """Writes one protected server's own firewall, over that server's own connection.

    The orchestrate task decided, for every host of the group ``scrubbing_servers``, whether its
    nftables table must exist and for which of its addresses, and recorded that intent in the
    ledger. This task runs on each such server (in parallel, as Ansible runs any task) and runs
    ``ddos.scrubbing.local_firewall`` there with the server's own options
    (``scrubbing_local_firewall``) and the run's decision; for the Test button it runs
    ``ddos.scrubbing.local_firewall_info``. Its result is the server's own line in the PLAY RECAP,
    and the next task records it in the ledger.
    """

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("report_var",))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname")
        report = task_vars.get(self._task.args.get("report_var") or "scrubbing_result")
        row = handed_over(host, report)
        if host not in task_vars.get("groups", {}).get(SERVERS, ()) or row is None:
            result.update(skipped=True, changed=False, skip_reason="no decision for this server in this run")
            return result
        # The server's own options come from the inventory (templated as inventory values are); the
        # decision (targets, attack details) comes from the run's result and is data, never templated.
        options = self._templar.template(task_vars.get("scrubbing_local_firewall") or {})
        if row.get("ok") is not None and "findings" in row:  # the Test button
            args = {k: v for k, v in options.items() if k not in ("state", "targets", "target_attacks")}
            out = self._execute_module(module_name="ddos.scrubbing.local_firewall_info", module_args=args,
                                       task_vars=task_vars)
            result.update(out)
            return result
        args = dict(options, **row["module_args"])
        out = self._execute_module(module_name="ddos.scrubbing.local_firewall", module_args=args,
                                   task_vars=task_vars)
        failed = bool(out.get("failed"))
        summary = {k: v for k, v in row.items() if k not in ("on_server", "module_args")}
        summary.update(changed=bool(out.get("changed")), failed=failed, active=out.get("active"), msg=out.get("msg"))
        result.update(out)
        result.update(msg=outcome_line(summary, bool(self._task.check_mode)), incidents=row.get("incidents") or [],
                      targets=row.get("targets") or [], action=row.get("action"), reason=row.get("reason"))
        if not self._task.diff:
            result.pop("diff", None)
        return result


def handed_over(host, report):
    """The run's last decision for ``host`` (a batch of incidents: the last one decided)."""
    if not isinstance(report, dict):
        return None
    for one in reversed(report.get("reports") or [report]):
        row = (one.get("integrations") or {}).get(host)
        if isinstance(row, dict) and row.get("on_server"):
            return row
    return None
