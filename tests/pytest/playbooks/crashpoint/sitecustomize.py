"""TEST-ONLY crash point, loaded by the killed ansible-playbook through PYTHONPATH (never part
of the collection): the rename that would record an integration's outcome in the ledger
(the new file says it is active) waits, so the test can kill -9 the run at that exact point.

    DDOS_CRASH_LEDGER=<ledger path>   the ledger whose rename to hold
    DDOS_CRASH_INTEGRATION=<name>     the integration whose outcome it records
    DDOS_CRASH_ARRIVED=<file>         created when a rename is held (the test waits for it)
    DDOS_CRASH_RELEASE=<file>         the rename goes on once this file exists
"""

import json
import os
import time

_LEDGER = os.environ.get("DDOS_CRASH_LEDGER")
_real_replace = os.replace


def _records_outcome(src):
    try:
        with open(src, encoding="utf-8") as handle:
            doc = json.load(handle)
        return bool(doc["integrations"][os.environ["DDOS_CRASH_INTEGRATION"]]["active"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _held_replace(src, dst, *args, **kwargs):
    if os.path.abspath(os.fspath(dst)) == _LEDGER and _records_outcome(src):
        with open(os.environ["DDOS_CRASH_ARRIVED"], "w", encoding="utf-8"):
            pass
        deadline = time.time() + 300  # a test that never releases must not leave a process forever
        while not os.path.exists(os.environ["DDOS_CRASH_RELEASE"]) and time.time() < deadline:
            time.sleep(0.02)
    return _real_replace(src, dst, *args, **kwargs)


if _LEDGER:
    os.replace = _held_replace
