"""The hold-down promise, per target: an incident resolved with -e scrubbing_hold_down keeps its
blackhole route on BIRD through a reconcile run that does not know the variable (while another
incident of the workspace keeps the workspace busy), and reconcile withdraws it once it passed."""

from __future__ import annotations

import json
import re
import time

# The lab fixtures, used by name.
from bgp_lab import bgp_lab, lab  # noqa: F401  # pylint: disable=unused-import
from conftest import hold_down_for, read_ledger, run_playbook


def test_a_route_is_held_until_the_promised_time(lab, tmp_path):
    inv, ledger = tmp_path / "inventory.json", tmp_path / "ledger.json"
    inv.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}},
        "scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {"rtbh": {
            "scrubbing_provider": "bgp_blackhole",
            "scrubbing_options": {"speaker_address": lab.speaker_address, "owned_prefixes": ["203.0.113.0/24"],
                                  "timeout": 10}}}}}))

    def play(name, extra=None):
        proc = run_playbook(name, None, ledger, extra, inventory=str(inv))
        assert proc.returncode == 0, proc.output[-4000:]
        return proc

    def event(ident, status, target):
        return {"incident": {"id": ident, "status": status, "workspace": "default", "target": target}}

    began = time.time()
    play("incident", event("A", "started", "203.0.113.10"))
    hold = hold_down_for(time.time() - began, runs=3)  # the resolution, a reconcile, a status
    play("incident", event("B", "started", "203.0.113.11"))
    lab.wait_routes("master4", lambda r: "203.0.113.10/32" in r and "203.0.113.11/32" in r, "both routes")

    resolved = play("incident", dict(event("A", "resolved", "203.0.113.10"), scrubbing_hold_down=hold))
    announced = re.search(r"203\.0\.113\.10 \(hold-down until (\S+Z)\)", resolved.stdout)
    assert announced, resolved.stdout
    play("reconcile")  # without the variable
    routes = lab.routes("master4")
    assert "203.0.113.10/32" in routes and "203.0.113.11/32" in routes, "reconcile withdrew a held route"
    until = read_ledger(ledger)["workspaces"]["default"]["held_targets"]["203.0.113.10"]
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)) == announced.group(1)
    assert time.time() < until, "the machine is too slow for this test's %d s hold-down" % hold
    status = play("status")
    assert "203.0.113.10 until %s" % announced.group(1) in status.stdout, status.stdout

    time.sleep(max(0.0, until - time.time()) + 1)
    play("reconcile")
    lab.wait_routes("master4", lambda r: "203.0.113.10/32" not in r, "the withdrawal once the hold-down passed")
    assert "203.0.113.11/32" in lab.routes("master4"), "B's route is still needed"
