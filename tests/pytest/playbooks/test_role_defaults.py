"""The role's defaults, as the playbooks see them: they run the role's tasks without the role (a role
costs a task per host), so an unset variable takes its default in the actions. What a user sees:
a default applies when nothing sets the variable, and anything that sets it wins over the default."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import VENV_BIN, ansible_env, read_ledger
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX


def write_inventory(path, sandbox, group_vars=None):
    options = {"api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw",
               "account_id": ACCOUNT, "prefix_id": PREFIX, "wait_sleep": 0.05, "retries": 1}
    hosts = {"mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": options}}
    inventory = {"all": {"vars": group_vars or {}},
                 "scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}
    path.write_text(json.dumps(inventory))
    return str(path)


def incident_without_a_state_file(sandbox, inventory, home):
    """The incident playbook as an operator runs it: no -e scrubbing_state_file."""
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i", inventory,
           "-e", json.dumps({"incident": {"id": "D1", "status": "started"}})]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300,
                          env=ansible_env({"HOME": str(home), "DDOS_SANDBOX_URL": sandbox.url}))
    proc.output = proc.stdout + proc.stderr
    return proc


def test_the_state_file_defaults_to_the_controllers_home(sandbox, tmp_path):
    proc = incident_without_a_state_file(sandbox, write_inventory(tmp_path / "inv.json", sandbox), tmp_path)
    assert proc.returncode == 0, proc.output[-3000:]
    ledger = tmp_path / ".ansible" / "ddos_scrubbing" / "ledger.json"
    assert read_ledger(ledger)["integrations"]["mt"]["active"] is True, proc.output[-3000:]


def test_the_inventorys_value_wins_over_the_default(sandbox, tmp_path):
    chosen = tmp_path / "chosen" / "ledger.json"
    inventory = write_inventory(tmp_path / "inv.json", sandbox, {"scrubbing_state_file": str(chosen),
                                                                 "scrubbing_state_host": "localhost"})
    proc = incident_without_a_state_file(sandbox, inventory, tmp_path)
    assert proc.returncode == 0, proc.output[-3000:]
    assert read_ledger(chosen)["integrations"]["mt"]["active"] is True, proc.output[-3000:]
    assert not (tmp_path / ".ansible" / "ddos_scrubbing" / "ledger.json").exists(), "the default was used"
