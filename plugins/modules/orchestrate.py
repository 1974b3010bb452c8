#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: orchestrate
short_description: Run an incident, activate, withdraw, test, status, reconcile or audit operation over all integrations
version_added: 0.1.0
description:
  - The engine behind the collection's playbooks and role. It reads the integrations from the
    inventory group C(scrubbing_integrations) (host vars C(scrubbing_provider),
    C(scrubbing_options), C(scrubbing_workspace), C(scrubbing_auto), C(scrubbing_targets)),
    validates all of them before any API call, keeps the incident ledger, and calls every
    provider that must change in parallel.
  - With a local state host (default) it runs inside the controller process (an action
    plugin); with a remote state host it runs there as a module, so the ledger lives on that host.
  - Use the playbooks (C(ddos.scrubbing.incident), C(activate), C(withdraw), C(test), C(status),
    C(reconcile)) or the role C(ddos.scrubbing.scrubbing) rather than this module directly.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.attributes
attributes:
  check_mode:
    support: full
    details: Reads the providers and reports what would change; writes neither to a provider nor to the ledger.
  diff_mode:
    support: none
    details:
      - It returns every integration's C(before) and C(after); the role's C(ddos.scrubbing.outcome) task shows them
        as each changed integration's diff, on its own host.
  idempotent:
    support: full
    details: Operations converge; a second identical run makes only read calls.
options:
  operation:
    description: What to do.
    type: str
    required: true
    choices: [incident, activate, withdraw, test, status, reconcile, record, audit]
  server_results:
    description:
      - For O(operation=record), what each protected server's own firewall did, by integration name
        (the outcome of its task). Filled in by the action plugin from the hosts' results; do not set it.
    type: dict
    default: {}
  incident:
    description:
      - For O(operation=incident), the incident event C({id, status, workspace, target}); C(status) is
        V(started) or V(resolved), C(workspace) defaults to V(default), C(target) is an optional IP or CIDR.
    type: dict
  integration_configs:
    description:
      - The integrations, by name. Filled in by the action plugin from the inventory; do not set it.
    type: dict
    required: true
  integrations:
    description: For O(operation=activate), V(withdraw) and V(test), the integrations to act on (default all).
    type: list
    elements: str
  force:
    description: Withdraw even integrations that an active incident still needs.
    type: bool
    default: false
  state_file:
    description: Path of the ledger on the state host (the file backend).
    type: path
    required: true
  ledger_dsn:
    description:
      - A PostgreSQL conninfo string or URI (libpq conventions, C(PG*) environment variables and C(.pgpass)
        apply). When set, the ledger lives in PostgreSQL instead of O(state_file).
    type: str
  deadline:
    description:
      - Seconds the run may take. Integrations not done by then are reported pending, with their reason;
        the reconcile operation finishes them.
    type: int
    default: 120
  event_window:
    description:
      - Seconds an incident event's timestamp may differ from now before the event is refused as stale.
    type: int
    default: 300
  hold_down:
    description: Seconds a workspace must stay quiet (no active incident) before its integrations are withdrawn.
    type: int
    default: 0
  workers:
    description:
      - How many integrations' pipelines (provider reads and writes) run at once; bounds a burst of
        connections to the providers.
      - A pipeline still busy after 2 seconds gives its slot back and goes on running, so a hung
        provider delays the integrations queued behind it by 2 seconds at most.
    type: int
    default: 64
  live:
    description: For O(operation=status), also read every provider's current state.
    type: bool
    default: true
  status_format:
    description:
      - For O(operation=status), what O(status_file) receives. V(json) is one JSON document (schema
        C(ddos.scrubbing/status/1), docs/status.md); V(prometheus) is a node_exporter textfile. V(table)
        writes no file (the table is in RV(summary) either way).
    type: str
    choices: [table, json, prometheus]
    default: table
  status_file:
    description:
      - For O(operation=status) with O(status_format=json) or V(prometheus), the file on the state host to
        write, atomically (a temporary file in the same directory, then a rename). Required with V(prometheus).
    type: path
  safelist:
    description: Addresses or CIDR blocks no integration ever acts for (the role's C(scrubbing_safelist)).
    type: list
    elements: str
    default: []
  notify:
    description:
      - Receivers told what the run changed, each C(url), C(format) (V(generic), V(slack), V(pagerduty)), C(secret)
        and C(events) (any of V(activated), V(withdrawn), V(failed), V(pending), V(expired)). Sent after the writes;
        a failed delivery is a warning and an audit record (docs/notifications.md).
    type: list
    elements: dict
    default: []
    suboptions:
      url:
        description: The receiver, https:// (http:// only to a loopback address). Default for V(pagerduty) its Events API.
        type: str
      format:
        description: V(generic), V(slack) or V(pagerduty).
        type: str
        default: generic
      secret:
        description: The HMAC key of V(generic), the routing key of V(pagerduty).
        type: str
      events:
        description: Which changes it is told (default all).
        type: list
        elements: str
  audit_retention:
    description: Days the audit trail keeps its records (older ones are dropped when a run appends).
    type: int
    default: 400
  audit_file:
    description: For O(operation=audit), the file on the state host that receives the trail as JSON lines.
    type: path
  audit_since:
    description: For O(operation=audit), only records since then (ISO-8601, epoch seconds, or an age such as V(7d)).
    type: str
  audit_integration:
    description: For O(operation=audit), only this integration's records.
    type: str
  audit_incident:
    description: For O(operation=audit), only the records of this incident.
    type: str
  from_role:
    description:
      - Set by the role C(ddos.scrubbing.scrubbing), whose task passes no other option. Every option the task
        does not give is taken from the role's variables as the play sets them (C(scrubbing_operation) gives
        O(operation), C(scrubbing_selected) O(integrations), C(scrubbing_state_file) O(state_file), and so on;
        an empty one leaves its option at the default; O(ledger_dsn) falls back to E(SCRUBBING_LEDGER_DSN) on the
        controller).
      - Before anything else, those variables are checked against the role's C(meta/argument_specs.yml), that
        C(scrubbing_state_host) is a host of the inventory, and that the playbook-wide numbers are in range; the
        task fails naming the variable, and nothing is called or recorded.
      - One task doing these checks and the work costs a run less than a task per check, and reading the
        variables here less than templating each as an argument.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Record an incident and divert
  ddos.scrubbing.orchestrate:
    operation: incident
    incident: {id: A1, status: started, workspace: default, target: 203.0.113.7}
    state_file: /var/lib/ddos-scrubbing/ledger.json
"""

RETURN = r"""
integrations:
  description:
    - Per integration, what was done (C(action), C(changed), C(active), C(reason), C(before), C(after),
      C(snapshot), C(msg) on failure).
    - C(written) when the run wrote to the provider - C(sent) and C(answered), epoch seconds (answered
      means settled when the run waits for the provider), to line the write up with the detector's,
      the rulebook's and the ledger's times.
  returned: always
  type: dict
summary:
  description: One human-readable line per integration (for status, the table).
  returned: always
  type: list
  elements: str
failed_integrations:
  description: Names of the integrations that failed; the others were still processed.
  returned: always
  type: list
  elements: str
rows:
  description:
    - For O(operation=status), one entry per integration with C(integration), C(provider), C(workspace),
      C(active), C(provider_active), C(since), C(held_until), C(held_targets), C(incidents), C(pinned),
      C(last_error), C(guard) (a guardrail holding it back, such as V(expired)) and C(active_30d) (seconds on
      over the last 30 days).
  returned: when operation is status
  type: list
  elements: dict
status_file:
  description: The file written (C(path)) and its C(format).
  returned: when operation is status and status_file was written
  type: dict
status_format:
  description: The O(status_format) the status was asked in (the role's verdict shows the rows for V(json)).
  returned: when operation is status
  type: str
state_host:
  description:
    - The host the work ran on, C(scrubbing_state_host) (the role's verdict task is delegated there).
  returned: when run by the role (from_role)
  type: str
notifications:
  description: One entry per POST to a receiver (C(receiver), C(format), C(sent), C(events), C(ok), C(error)).
  returned: when notify is set and the run changed something
  type: list
  elements: dict
audit:
  description: For O(operation=audit), the export (C(file), C(records), C(trail)).
  returned: when operation is audit
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.parameters import _list_no_log_values

from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import load_integrations
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.operations import ARGUMENT_SPEC, run_operation
# Every provider, imported here so that Ansible's module packer sees it and ships it with this module to
# a remote state host: the registry imports a provider by name, the first time an inventory names it,
# which the packer cannot see (tests/pytest/remote/test_packaging.py).
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers import (
    aws_shield, bgp_blackhole, bgp_flowspec, cloudflare_magic_transit, cloudflare_under_attack,
    digitalocean_firewall, hetzner_firewall, linode_firewall, local_firewall, ovh_mitigation, vultr_firewall)

SHIPPED_PROVIDERS = (aws_shield, bgp_blackhole, bgp_flowspec, cloudflare_magic_transit, cloudflare_under_attack,
                     digitalocean_firewall, hetzner_firewall, linode_firewall, local_firewall, ovh_mitigation,
                     vultr_firewall)


def result_no_log_values(params, integrations):
    """What the module's result must not show.

    integration_configs is no_log as a whole, so that Ansible never logs it on the state host. In
    the result, though, Ansible would then mask each of its values wherever it appears: the
    workspaces' and providers' names in the summary (``edge-mt (********): activated``), a server
    number or a wait of 0.05 s wherever the same number is a count. Of the configs, only the
    credentials (each provider's no_log options) are secrets; the other no_log options stay so.
    """
    others = dict(ARGUMENT_SPEC, integration_configs=dict(ARGUMENT_SPEC["integration_configs"], no_log=False))
    return _list_no_log_values(others, params) | {secret for integ in integrations for secret in integ.secrets}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    loaded = load_integrations(module.params["integration_configs"])
    integrations, refused = loaded
    if not refused:  # a refused config keeps all of its values masked: what is secret in it is unknown
        module.no_log_values = result_no_log_values(module.params, integrations)
    report = run_operation(module.params, check_mode=module.check_mode, loaded=loaded)
    for warning in report.pop("warnings_list", []):
        module.warn(warning)
    if report.get("failed"):
        msg = report.pop("msg")
        report.pop("failed")
        module.fail_json(msg=msg, **report)
    module.exit_json(**report)


if __name__ == "__main__":
    main()
