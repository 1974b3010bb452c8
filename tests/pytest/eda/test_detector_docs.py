"""docs/detectors.md, run as written against a real ansible-rulebook: the Flowtriq example body and
signing command, what a replayed attack_update gets, and the FastNetMon adapter's test by hand."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import ROOT
from eda_helpers import ADAPTER, FLOWTRIQ_SECRET, INTERNAL_TOKEN, ledger_incidents, wait_for
from eda_helpers import rulebook  # noqa: F401 pylint: disable=unused-import

DOC = os.path.join(ROOT, "docs", "detectors.md")


def block(containing):
    """The doc's one ```sh block that contains ``containing``."""
    with open(DOC, encoding="utf-8") as handle:
        found = [b for b in re.findall(r"```sh\n(.*?)```", handle.read(), re.S) if containing in b]
    assert len(found) == 1, "docs/detectors.md: %d sh blocks contain %r" % (len(found), containing)
    return found[0]


def bash(script, env):
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=dict(os.environ, **env), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, script + "\n" + proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_the_flowtriq_example_is_queued_once_and_an_update_raises_its_size_once(rulebook):  # noqa: F811
    env = {"FLOWTRIQ_SECRET": FLOWTRIQ_SECRET, "FLOWTRIQ_URL": rulebook.flowtriq_url + "/default"}
    first, again = bash(block('"event_type": "attack_start"'), env)
    assert first.endswith("HTTP 202") and '"status": "queued"' in first and '"flowtriq-4711"' in first, first
    assert again.endswith("HTTP 409") and '"status": "duplicate"' in again, again
    assert wait_for(lambda: ledger_incidents(rulebook.ledger, "default").get("flowtriq-4711")), \
        rulebook.output()[-3000:]
    incident = ledger_incidents(rulebook.ledger, "default")["flowtriq-4711"]
    assert incident["target"] == "203.0.113.7" and incident["details"]["title"] == "UDP flood on edge-1"

    # an update with a peak raises the open incident's size (issue 22); its replay is a duplicate
    update = bash(block('"event_type": "attack_update"'), env)
    assert len(update) == 2 and update[0].endswith("HTTP 202") and '"status": "queued"' in update[0], update
    assert update[1].endswith("HTTP 409") and '"status": "duplicate"' in update[1], update
    assert wait_for(lambda: (ledger_incidents(rulebook.ledger, "default")["flowtriq-4711"].get("attack") or {}).get(
        "pps") == 2500000), rulebook.output()[-3000:]


def test_the_adapter_test_by_hand(rulebook, tmp_path):  # noqa: F811
    log = tmp_path / "notify.log"
    script = block("ddos_scrubbing_notify.py 203.0.113.7").replace(
        "/usr/local/bin/ddos_scrubbing_notify.py", "python3 " + ADAPTER).replace(
        "/var/log/ddos-scrubbing-notify.log", str(log))
    ini = tmp_path / "fastnetmon.ini"
    ini.write_text("[ddos_scrubbing]\nwebhook_url = %s\ntoken = %s\nworkspace = production\nstate_dir = %s\n" % (
        rulebook.internal_url, INTERNAL_TOKEN, tmp_path / "state"))
    lines = bash(script, {"DDOS_SCRUBBING_NOTIFY_CONFIG": str(ini), "DDOS_SCRUBBING_LOG_FILE": str(log)})
    assert len(lines) == 2 and "delivered (HTTP 202, queued) on attempt 1" in lines[0], lines
    assert "delivered (HTTP 202, queued)" in lines[1], lines
    assert wait_for(lambda: any(r["status"] == "resolved" for r in
                                ledger_incidents(rulebook.ledger, "adapter-test").values())), rulebook.output()[-3000:]
