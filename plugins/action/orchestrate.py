# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import os
import time

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.basic import env_fallback
from ansible.plugins.action import ActionBase

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import (
    ADDRESSES, INTEGRATION_VARS, POLICY_VARS, SERVER_VARS, UNKNOWN_VARS, unknown_host_vars)
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.operations import (
    ARGUMENT_SPEC, inventory_refusal, run_operation)
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import merge_reports
from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import provider_class
from ansible_collections.ddos.scrubbing.plugins.plugin_utils._role import (
    INTEGRATIONS, SERVERS, play_role_options, role_variables)


def as_data(value, where="incident", strict=True):
    """A plain copy of ``value`` that Ansible will never template.

    Extra vars (``-e``, an AWX launch, ansible-rulebook's ``extra_vars``) reach ansible-core 2.19
    tagged as trusted templates, so ``{{ ... }}`` inside an event field would be rendered, lookups
    included, the moment anything templates it. ``str()`` of a tagged string is a plain ``str``,
    which Ansible treats as data; rebuilding the containers drops the tags on them too.
    Not ``strict``: a value of another type is kept as it is, for the validation to name.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date)):  # an unquoted YAML timestamp in -e @file
        return value.isoformat()
    if isinstance(value, dict):
        return {as_data(k, where, strict): as_data(v, "%s.%s" % (where, k), strict) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_data(v, where, strict) for v in value]
    if not strict:
        return value
    raise AnsibleActionFail("%s: %s is not JSON data (a string, number, list or dict)" % (where, type(value).__name__))


class Unrenderable(Exception):
    """A host variable whose templates cannot be rendered (an undefined variable, a failed lookup)."""


class HostValues:
    """One inventory host's variables as the run reads them: rendered once, as plain data.

    Plain because the validation deep-copies every value, and Ansible's tagged strings copy about
    four times slower (a third of a second at 1,000 integrations); nothing templates them again,
    as nothing does on a remote state host, where they arrive as JSON.
    """

    def __init__(self, what, host):
        self.what, self.host = what, host

    def __contains__(self, var):
        return var in self.host

    def names(self):
        return list(self.host)

    def get(self, var, default=None):
        if var not in self.host:
            return default
        try:
            return as_data(self.host[var], "%s: %s" % (self.what, var), strict=False)
        except AnsibleError as exc:
            raise Unrenderable("%s: %s cannot be rendered: %s. Define what it uses (host or group vars, a vault "
                               "file, -e) or write the value itself" % (self.what, var, exc.message)) from None


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
        if self._task.args.get("from_role"):
            # Where the role's work ran, whatever happens next: the verdict task goes there to record the
            # protected servers' results, reading it here rather than working out scrubbing_state_host
            # again (a lookup and its plugin, about 3 ms of every run, issue 18).
            result["state_host"] = self._task.delegate_to or task_vars.get("inventory_hostname")
            # The options the role's variables set, checked here rather than by tasks of their own, and
            # read here rather than templated as task arguments (plugin_utils/_role.py).
            refusal, options = play_role_options(self._templar, task_vars)
            if refusal:
                result.update(failed=True, changed=False, msg=refusal)
                return result
            self._task.args = dict(options, **self._task.args)  # an argument given in the task wins
        self._server_results = None
        if self._task.args.get("operation") == "record":
            # What each protected server's own task reported (registered on that server's host).
            hostvars = task_vars["hostvars"]
            self._server_results = {name: as_data(hostvars[name].get("scrubbing_server_result"), name)
                                    for name in task_vars.get("groups", {}).get(SERVERS, [])
                                    if isinstance(hostvars[name].get("scrubbing_server_result"), dict)}
        try:
            self._integration_configs(task_vars)
            # Every event of the batch checked before the first one runs: one that cannot be read
            # refuses the batch before anything is written, rather than after the events before it.
            runs = [self._validated(incident, where) for where, incident in self._incident_events(task_vars)]
        except Unrenderable as exc:
            result.update(inventory_refusal(list(exc.args)))
            return result
        except AnsibleActionFail as exc:
            # Refused before anything is called or recorded: returned, not raised, so that the play
            # goes on to each integration's line and to the verdict, which says why (raised, it
            # would end the play on this task, without them).
            result.update(failed=True, changed=False, msg=exc.message)
            return result
        if self._connection.transport != "local":
            refusal = self._pipeline_or_refuse()
            if refusal:
                result.update(failed=True, changed=False, msg=refusal)
                return result
        # The rulebook hands over several incidents of one workspace at once (``incidents``):
        # one operation each, in the order given, so a storm costs one playbook run, not one each;
        # then the run takes in the workspace's next events from the rulebook while they come.
        feed = self._claim_feed(task_vars)
        recorded = False
        try:
            reports = [self._run(params, task_vars) for params in runs]
            recorded = True
            if feed is not None:
                for batch in feed.batches():
                    recorded = False
                    reports.extend(self._run(self._validated(as_data(incident, "incident_feed"), "incident_feed"),
                                             task_vars) for incident in batch)
                    recorded = True
        finally:
            if feed is not None:
                feed.close(recorded)
        report = reports[0] if len(reports) == 1 else merge_reports(reports)
        for warning in report.pop("warnings_list", []):
            self._display.warning(warning)
        result.update(report)
        return result

    def _validated(self, incident, where):
        """The operation's parameters for one event (``incident`` is None when the operation takes
        none), checked against the module's argument spec; a refusal names the event (``where``)."""
        self._incident = incident
        try:
            validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        except AnsibleActionFail as exc:
            raise AnsibleActionFail(exc.message if where == "incident" else "%s: %s" % (where, exc.message)) from None
        del validation
        return dict(params)

    def _run(self, params, task_vars):
        if self._connection.transport == "local":
            return run_operation(params, check_mode=bool(self._task.check_mode))
        return self._execute_module(module_name="ddos.scrubbing.orchestrate", module_args=params,
                                    task_vars=task_vars)

    def _claim_feed(self, task_vars):
        """The rulebook source's feed of the workspace's next events (plugin_utils/_feed.py), claimed
        before this run's own batch is recorded, so that they wait for it; none in check mode, where
        nothing is recorded."""
        if self._task.args.get("operation") != "incident" or self._task.check_mode or not task_vars.get("incident_feed"):
            return None
        # imported only here: a run from the command line has no feed, and every module a run imports
        # is compiled from source on every run (issue 18)
        from ansible_collections.ddos.scrubbing.plugins.plugin_utils._feed import claim_feed  # pylint: disable=import-outside-toplevel
        return claim_feed(task_vars["incident_feed"], time.monotonic())

    def validate_argument_spec(self, argument_spec=None, **kwargs):
        # The integration configs are gathered here from host vars, not given in the task.
        original = self._task.args
        self._task.args = dict(original, integration_configs=self._configs)
        if self._server_results is not None:
            self._task.args["server_results"] = self._server_results
        if self._incident is not None:
            self._task.args["incident"] = self._incident
        try:
            return super().validate_argument_spec(argument_spec=argument_spec, **kwargs)
        finally:
            self._task.args = original

    def _incident_events(self, task_vars):
        """The incidents to run, in order, each with where it came from: [("incident", None)] when the
        operation takes none."""
        incidents = task_vars.get("incidents") if self._task.args.get("operation") == "incident" else None
        if incidents is None or "incident" in self._task.args:
            return [("incident", self._incident_var(task_vars))]
        if not isinstance(incidents, (list, tuple)) or not incidents:
            # the type as written, not Ansible's tagged one (_AnsibleTaggedStr)
            raise AnsibleActionFail("incidents: a non-empty list of incident events is expected, got %s"
                                    % type(as_data(incidents, "incidents", strict=False)).__name__)
        return [("incidents[%d]" % n, as_data(incident, "incidents[%d]" % n)) for n, incident in enumerate(incidents)]

    def _incident_var(self, task_vars):
        # The role never templates ``incident`` (nor declares it in its argument spec, whose
        # validation would template it): the event is read here, raw, from the play variable and
        # kept as data. An ``incident`` task argument (the module used directly) was templated by
        # the task that wrote it; it wins, as data from then on.
        if "incident" in self._task.args:
            return as_data(self._task.args["incident"])
        if self._task.args.get("operation") != "incident" or task_vars.get("incident") is None:
            return None
        return as_data(task_vars["incident"])

    def _integration_configs(self, task_vars):
        hostvars, groups = task_vars["hostvars"], task_vars.get("groups", {})
        configs, unrenderable = {}, []
        for name in groups.get(INTEGRATIONS, []):
            try:
                configs[name] = integration_config(HostValues("integration %s" % name, hostvars[name]))
            except Unrenderable as exc:
                unrenderable.append(str(exc))
        for name in groups.get(SERVERS, []):
            try:
                configs[name] = server_config(name, HostValues("protected server %s" % name, hostvars[name]),
                                              name in configs)
            except Unrenderable as exc:
                unrenderable.append(str(exc))
        if unrenderable:
            raise Unrenderable(*unrenderable)
        self._configs = configs
        return configs

    def _pipeline_or_refuse(self):
        """Send the module to the state host on ssh's stdin, never as a file.

        Its arguments carry the credentials resolved here, so the file Ansible writes without
        pipelining (~/.ansible/tmp/.../AnsiballZ_orchestrate.py) would hold them on the state
        host's disk for the whole run. Returns an error message when pipelining is impossible.
        """
        connection = self._connection
        if not connection.is_pipelining_enabled():
            try:
                connection.set_option("pipelining", True)
            except KeyError:
                pass
        if connection.is_pipelining_enabled():
            return None
        return ("ddos.scrubbing.orchestrate: the connection to scrubbing_state_host (%s) cannot pipeline, so the "
                "module and the credentials in its arguments would be written to a file on that host. Unset "
                "ANSIBLE_KEEP_REMOTE_FILES, use a become method that pipelines (sudo without requiretty), or a "
                "connection plugin that supports pipelining (ssh)" % connection.transport)


def integration_config(host):
    """An integration host's config: its integration variables, the credentials it leaves to the
    controller's environment, and the scrubbing_* names it has that nobody reads (refused later)."""
    config = with_controller_credentials({var: host.get(var) for var in INTEGRATION_VARS if var in host})
    unknown = unknown_host_vars(host.names(), role_variables())  # refused by the validation, either path
    if unknown:
        config[UNKNOWN_VARS] = unknown
    return config


def with_controller_credentials(config):
    """Fill the options an integration leaves unset from the controller's environment.

    A provider option's env fallback (CLOUDFLARE_API_TOKEN, OVH_*, AWS_*, ...) would otherwise be
    read wherever the module runs: on a remote state host, where the variables that AWX's
    credential injectors, vault or the operator set on the controller do not exist. Resolving
    them here sends them inside integration_configs, which is no_log, over the connection.
    """
    options = config.get("scrubbing_options")
    if not isinstance(options, dict):
        return config  # the inventory validation reports it
    try:
        cls = provider_class(config.get("scrubbing_provider"))
    except InputError:
        return config
    resolved = dict(options)
    for name, spec in cls.options.items():
        fallback = spec.get("fallback") or (None,)
        if fallback[0] is not env_fallback:
            continue
        if any(key in options for key in [name] + list(spec.get("aliases") or [])):
            continue
        for var in fallback[1]:
            if var in os.environ:
                resolved[name] = os.environ[var]
                break
    return dict(config, scrubbing_options=resolved)


def server_config(name, host, also_integration=False):
    """A protected server as an integration config: the local_firewall options it keeps in
    scrubbing_local_firewall, and its own addresses (scrubbing_addresses, else ansible_host)."""
    config = {"scrubbing_provider": "local_firewall",
              "scrubbing_options": host.get("scrubbing_local_firewall") or {}}
    for var in ("scrubbing_workspace", "scrubbing_auto") + POLICY_VARS:
        if var in host:
            config[var] = host.get(var)
    addresses = host.get("scrubbing_addresses")
    if addresses is None:
        addresses = host.get("ansible_host", name)
    config[ADDRESSES] = addresses
    unknown = unknown_host_vars([v for v in host.names() if v not in SERVER_VARS and v not in INTEGRATION_VARS],
                                role_variables() + SERVER_VARS)
    if also_integration:
        raise AnsibleActionFail("%s is in both groups scrubbing_integrations and scrubbing_servers: an integration "
                                "host stands for a provider object, a server for itself; keep it in one" % name)
    if unknown:
        config[UNKNOWN_VARS] = unknown
    return config
