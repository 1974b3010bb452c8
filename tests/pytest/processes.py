"""Process trees, for tests that kill -9 a run (ansible's workers run in their own session, so
killing the parent alone leaves them running) or stop what a server started."""

from __future__ import annotations

import os
import signal


def descendants(root):
    """Every process below ``root`` (children, grandchildren, ...), read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def kill_tree(pid):
    """SIGKILL a process and all its descendants."""
    for member in [pid] + descendants(pid):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
