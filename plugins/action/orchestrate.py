# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.ddos.scrubbing.plugins.module_utils._orchestrator import ARGUMENT_SPEC, run_operation

# Host vars that describe an integration (DESIGN.md, "Inventory-driven configuration").
INTEGRATION_VARS = ("scrubbing_provider", "scrubbing_options", "scrubbing_workspace", "scrubbing_auto",
                    "scrubbing_targets")
GROUP = "scrubbing_integrations"


class ActionModule(ActionBase):
    """Runs a scrubbing operation for every integration of the inventory in ONE task.

    With a local state host (the default, localhost) everything runs here, in the controller's
    process: the provider calls go out in parallel threads and no module process is started,
    which is what makes an incident with many integrations cost about as much as one no-op
    task. With a remote state host the same code runs there as the ddos.scrubbing.orchestrate
    module, so the ledger and its lock live on that host.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_args = dict(self._task.args)
        task_args["integration_configs"] = self._integration_configs(task_vars)
        validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        params = dict(params)
        if self._connection.transport == "local":
            report = run_operation(params, check_mode=bool(self._task.check_mode))
        else:
            report = self._execute_module(module_name="ddos.scrubbing.orchestrate", module_args=params,
                                          task_vars=task_vars)
        for warning in report.pop("warnings_list", []):
            self._display.warning(warning)
        result.update(report)
        return result

    def validate_argument_spec(self, argument_spec=None, **kwargs):
        # The integration configs are gathered here from host vars, not given in the task.
        original = self._task.args
        self._task.args = dict(original, integration_configs=self._configs)
        try:
            return super().validate_argument_spec(argument_spec=argument_spec, **kwargs)
        finally:
            self._task.args = original

    def _integration_configs(self, task_vars):
        hostvars = task_vars["hostvars"]
        configs = {}
        for name in task_vars.get("groups", {}).get(GROUP, []):
            host = hostvars[name]
            configs[name] = {var: host[var] for var in INTEGRATION_VARS if var in host}
        self._configs = configs
        return configs
