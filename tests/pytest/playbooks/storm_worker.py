"""The storm's driver: runs incident events as separate processes of the public operation
(the ``ddos.scrubbing.orchestrate`` module, what the incident playbook and a remote state host
run), up to ``concurrency`` at a time. It imports the collection once and forks one child per
event, so 200 events cost 200 forks, not 200 interpreter start-ups; each child has its own pid,
as separate runs have.

    python storm_worker.py PLAN_JSON_FILE [--break-lock]

PLAN: {"concurrency": N, "common": {module args}, "events": [{"incident": {...}, "after": [i, ...]}]}
where ``after`` lists the events that must have finished first. Prints one JSON line per event:
{"event", "start", "end", "rc", "output"}.

``--break-lock`` is the test's deliberately broken product: the ledger's lock is replaced by
nothing, in this process and its children only, so the storm test can show it catches lost
updates.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time

from ansible.module_utils.testing import patch_module_args


def run_child(args, out_path):
    from ansible_collections.ddos.scrubbing.plugins.modules import orchestrate

    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 1
    try:
        with patch_module_args(args):
            orchestrate.main()
    except SystemExit as done:
        code = done.code or 0
    finally:
        sys.stdout.flush()
        os._exit(code)  # pylint: disable=protected-access


def shorten(output, keep=3000):
    """The head (a module's result starts with its msg) and the tail of a child's output."""
    return output if len(output) <= 2 * keep else output[:keep] + " [...] " + output[-keep:]


def main(argv):
    with open(argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    if "--break-lock" in argv[2:]:
        from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger import file as _ledger

        _ledger.FileLedger._locked = contextlib.contextmanager(lambda self: iter([None]))
    from ansible_collections.ddos.scrubbing.plugins.modules import orchestrate  # noqa: F401 (import before forking)

    events, outdir = plan["events"], tempfile.mkdtemp(prefix="storm-")
    running, finished, started_at, nxt = {}, set(), {}, 0
    while nxt < len(events) or running:
        ready = (nxt < len(events) and len(running) < plan["concurrency"]
                 and all(i in finished for i in events[nxt]["after"]))
        if ready:
            args = dict(plan["common"], incident=events[nxt]["incident"])
            out = os.path.join(outdir, "%d.out" % nxt)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                run_child(args, out)
            running[pid] = (nxt, out)
            started_at[nxt] = time.time()
            nxt += 1
            continue
        pid, status = os.wait()
        index, out = running.pop(pid)
        end = time.time()
        finished.add(index)
        with open(out, encoding="utf-8", errors="replace") as handle:
            output = handle.read()
        os.unlink(out)
        print(json.dumps({"event": index, "start": started_at[index], "end": end,
                          "rc": os.waitstatus_to_exitcode(status), "output": shorten(output)}), flush=True)
    os.rmdir(outdir)


if __name__ == "__main__":
    main(sys.argv)
