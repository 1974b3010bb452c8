# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-side observer (never shipped): a callback that notes when each ansible-playbook run
started, when its orchestrate task started, and the provider write times the run reports.

Enabled by the FastNetMon end-to-end test through ANSIBLE_CALLBACK_PLUGINS and
ANSIBLE_CALLBACKS_ENABLED; one JSON line per note in $DDOS_TIMELINE_FILE.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: ddos_timeline
type: aggregate
short_description: test-side timeline of a playbook run
description: Notes the run's start, the orchestrate task's start and the writes the run reports.
requirements: [DDOS_TIMELINE_FILE in the environment]
"""


def process_start():
    """This process's start on the time.time() clock: /proc gives it in ticks since boot."""
    with open("/proc/self/stat", encoding="ascii") as handle:
        ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="ascii") as handle:
        uptime = float(handle.read().split()[0])
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ddos_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def _note(self, **note):
        path = os.environ.get("DDOS_TIMELINE_FILE")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(dict(note, pid=os.getpid())) + "\n")

    def v2_playbook_on_start(self, playbook):
        self._note(event="process", t=process_start())
        self._note(event="playbook", t=time.time())

    def v2_playbook_on_task_start(self, task, is_conditional):
        if task.action.endswith("orchestrate") and task.args.get("operation") != "record":
            self._note(event="orchestrate", t=time.time())

    def v2_runner_on_ok(self, result):
        if not result._task.action.endswith("orchestrate"):
            return
        # A run that recorded several events (a batch, or what the feed brought) reports each one under
        # "reports"; a write keeps the first time it was sent.
        reports = result._result.get("reports") or [result._result]
        written = {}
        for report in reports:
            for name, row in (report.get("integrations") or {}).items():
                if row.get("written") and name not in written:
                    written[name] = row["written"]
        if any(isinstance(report.get("integrations"), dict) for report in reports):
            self._note(event="result", t=time.time(), written=written)
