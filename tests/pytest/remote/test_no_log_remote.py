# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No credential reaches anything the state host or the controller keeps, at -vvv, when the
orchestrator runs as a module on a remote state host (Debian's sshd on 127.0.0.1).

One integration has its credential in the inventory, the other takes it from the controller's
environment; both travel to the state host inside the module's arguments. Scanned for them:
what the controller prints, the state host's syslog (where every module logs its invocation),
its sshd log, every file under its HOME and TMPDIR while the run goes on, and the ledger.
"""

from __future__ import annotations

import json
import os
import stat
import sys

from conftest import run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
# The sshd fixture, used by name.
from test_state_host_ssh import ssh  # noqa: F401  # pylint: disable=unused-import
from test_state_host_ssh import DiskWatch, mt_advertised, robot_status

CAPTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "syslog_capture")
FROM_ENVIRONMENT = {"CLOUDFLARE_API_TOKEN": "sandbox-cf-token-rw"}
SECRETS = ("sandbox-cf-token-rw", "sandbox-robot-password")


def state_host_python(ssh, syslog_file):
    """The state host's interpreter: this Python, its syslog calls also kept in ``syslog_file``."""
    wrapper = os.path.join(ssh.dir, "python-with-syslog")
    with open(wrapper, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\nPYTHONPATH=%s DDOS_SYSLOG_CAPTURE=%s exec %s \"$@\"\n"
                     % (CAPTURE, syslog_file, sys.executable))
    os.chmod(wrapper, stat.S_IRWXU)
    return wrapper


def write_inventory(path, sandbox, ssh, python):
    hosts = {
        "edge-mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_workspace": "prod",
                    "scrubbing_options": {"api_url": sandbox.api_url("cloudflare"), "account_id": ACCOUNT,
                                          "prefix_id": PREFIX, "wait_sleep": 0.05}},
        "robot": {"scrubbing_provider": "hetzner_firewall", "scrubbing_workspace": "prod",
                  "scrubbing_options": {"api_url": sandbox.api_url("hetzner"), "server_number": 321,
                                        "robot_user": "#ws+sandbox", "robot_password": "sandbox-robot-password",
                                        "wait_sleep": 0.05}},
    }
    path.write_text(json.dumps({
        "all": {"hosts": {"statehost": ssh.inventory_vars(python)}, "vars": {"scrubbing_state_host": "statehost"}},
        "scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}},
    }))
    return str(path)


def leaks(text):
    return [s for s in SECRETS if s in text]


def test_no_credential_reaches_the_state_host_or_the_output_at_vvv(sandbox, ssh, tmp_path):
    syslog_file = os.path.join(ssh.dir, "syslog")
    inventory = write_inventory(tmp_path / "inventory.json", sandbox, ssh, state_host_python(ssh, syslog_file))
    ledger = os.path.join(ssh.home, "ddos", "ledger.json")
    env = dict(FROM_ENVIRONMENT, ANSIBLE_VERBOSITY="3")

    with DiskWatch(ssh.home) as watch:
        started = run_playbook("incident", sandbox, ledger, {"incident": {"id": "N1", "status": "started",
                                                                          "workspace": "prod"}},
                               inventory=inventory, env=env)
        tested = run_playbook("test", sandbox, ledger, inventory=inventory, env=env)
    assert started.returncode == 0, started.output[-4000:]
    assert tested.returncode == 0, tested.output[-4000:]
    # The credentials were used: both providers were changed, and the run was verbose.
    assert mt_advertised(sandbox) and robot_status(sandbox) == "active"
    assert "<127.0.0.1>" in started.output, "not a -vvv run over SSH"
    assert watch.seen_payload, "the module never ran under the state host's TMPDIR"
    with open(syslog_file, encoding="utf-8") as handle:
        syslog = handle.read()
    assert "integration_configs" in syslog, "the module's invocation never reached the state host's syslog"

    with open(ledger, encoding="utf-8") as handle:
        ledger_text = handle.read()
    found = {place: leaks(text) for place, text in (
        ("controller output (incident)", started.output), ("controller output (test)", tested.output),
        ("state host syslog", syslog), ("state host sshd log", ssh.output()), ("ledger", ledger_text))}
    found.update(("state host file %s" % path, [secret]) for path, secret in watch.found.items())
    assert {place: what for place, what in found.items() if what} == {}, "credentials found"
