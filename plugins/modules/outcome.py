#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: outcome
short_description: Book each integration's part of a scrubbing run to its own inventory host
version_added: 0.1.0
description:
  - The C(ddos.scrubbing.orchestrate) task does the work once, for every integration; its result is
    booked to a single host. Run on every host of the play, this action gives each integration host
    of the group C(scrubbing_integrations) its own outcome, which the PLAY RECAP, AWX's job host
    summaries and AWX notifications count.
  - V(changed) when the integration was activated or withdrawn (in check mode, when it would be);
    V(failed) with the provider's reason when its activation or withdrawal failed or is pending, or
    when its inventory entry is invalid; V(ok) when it stays as it is; skipped when the run did not
    concern it (another workspace) or never reached it (the operation as a whole failed).
  - Hosts of the play that are not integrations (the state host, localhost) get V(ok).
  - Under C(--diff), a changed integration returns its provider state before and after, shown by
    Ansible's diff display for that host.
  - With O(whole_run=true), run once per play, it prints the run's summary and fails when the
    operation as a whole failed (an invalid inventory, a refused event, an unreachable ledger).
  - It runs on the controller as an action plugin and calls no provider. On an integration host it opens no
    connection. On a protected server (a host of the group C(scrubbing_servers)) it writes the server's own
    firewall as the run decided, running M(ddos.scrubbing.local_firewall) there over the server's own connection
    (M(ddos.scrubbing.local_firewall_info) for the Test button), and that is the server's own result.
    The role C(ddos.scrubbing.scrubbing) uses it; you need it only when you call
    C(ddos.scrubbing.orchestrate) yourself.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.attributes
attributes:
  check_mode:
    support: full
    details: Reports what the orchestrate task found in check mode ("would activate").
  diff_mode:
    support: full
    details: Returns the integration's provider state before and after as C(diff).
  idempotent:
    support: full
    details: Changes nothing itself; C(changed) repeats what the orchestrate task did for this integration.
options:
  report_var:
    description: The name of the variable the C(ddos.scrubbing.orchestrate) task's result was registered as.
    type: str
    default: scrubbing_result
  whole_run:
    description: The run's verdict (run it once, with C(run_once)) instead of one host's outcome.
    type: bool
    default: false
  show:
    description:
      - With O(whole_run=true), what to print. V(summary) is one line per integration (for the status
        operation, its table); V(rows) is the status operation's rows (the JSON status).
      - Without it, V(summary), or what the role's variables ask for with O(from_role=true).
    type: str
    choices: [summary, rows]
  from_role:
    description:
      - Set by the role C(ddos.scrubbing.scrubbing), with O(whole_run=true), on the task delegated to
        C(scrubbing_state_host).
      - Without O(show), shows V(rows) when the registered report is a status asked for as JSON
        (C(status_format=json), the role's C(scrubbing_status_format)), else V(summary).
      - After an operation that writes (incident, activate, withdraw, reconcile) that reached the integrations,
        it first records in the ledger what each protected server's own task reported (C(scrubbing_server_result),
        registered by the per-host task), in the ledger the role's variables name (C(scrubbing_state_file),
        C(scrubbing_ledger_dsn) or E(SCRUBBING_LEDGER_DSN)), through M(ddos.scrubbing.orchestrate)'s
        V(record) operation on the task's connection. The run fails, naming why, when the ledger cannot take it.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Run the incident once, on the state host
  ddos.scrubbing.orchestrate:
    operation: incident
    state_file: /var/lib/ddos-scrubbing/ledger.json
  run_once: true
  register: scrubbing_result
  failed_when: false
  changed_when: false

- name: Each integration's own outcome
  ddos.scrubbing.outcome:

- name: The run as a whole
  ddos.scrubbing.outcome:
    whole_run: true
  run_once: true
"""

RETURN = r"""
msg:
  description:
    - What happened to this integration, with the reason, for example V(activated, because needed by incident A),
      or V(would withdraw, because ...) in check mode, or the failure and its reason.
    - For O(whole_run=true), the summary lines.
  returned: always
  type: raw
rows:
  description: With O(show=rows), the status operation's rows.
  returned: with O(whole_run=true) and O(show=rows)
  type: list
  elements: dict
active:
  description: Whether the integration is active after the run (in check mode, would be).
  returned: when known
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(report_var=dict(type="str", default="scrubbing_result"),
                                              whole_run=dict(type="bool", default=False),
                                              show=dict(type="str", choices=["summary", "rows"]),
                                              from_role=dict(type="bool", default=False)),
                           supports_check_mode=True)
    module.fail_json(msg="ddos.scrubbing.outcome runs on the controller as an action plugin; it cannot run as a module")


if __name__ == "__main__":
    main()
