"""Processes a benchmark watches: the playbook runs ansible-rulebook starts."""

from __future__ import annotations

import os


def children(pid):
    """The processes ``pid`` started and has not yet waited for (a rulebook's playbook runs)."""
    found = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task), encoding="ascii") as handle:
            found += handle.read().split()
    return found
