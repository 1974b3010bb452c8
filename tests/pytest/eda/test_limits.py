"""The playbooks on an inventory laid out as the README shows (integrations only, no explicit
localhost), with the limits ansible-rulebook and AWX pass and from the command line; a run
that cannot find its state host, or a manual button whose limit selects no integration,
fails loudly and calls nothing. And ``-e`` (the AWX launch and command line path): templates
in the incident stay characters."""

from __future__ import annotations

import json
import os
import subprocess

from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from eda_helpers import ledger_incidents, write_inventory

from conftest import VENV_BIN, ansible_env, run_playbook


def advertised(sandbox):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"]


def started(incident_id, workspace="prod"):
    return {"incident": {"id": incident_id, "status": "started", "workspace": workspace, "target": "203.0.113.7"}}


def test_every_playbook_runs_with_the_limits_rulebook_and_awx_pass(sandbox, tmp_path):
    inventory = write_inventory(tmp_path / "inventory.json", sandbox, tmp_path / "ledger.json")
    ledger = tmp_path / "ledger.json"
    for limit in ("all", "edge", None):  # ansible-rulebook's, an AWX job template's, the command line's
        proc = run_playbook("incident", sandbox, ledger, extra=started("L-%s" % limit), limit=limit,
                            inventory=inventory)
        assert proc.returncode == 0 and "no hosts matched" not in proc.output, proc.output
        assert "L-%s" % limit in ledger_incidents(str(ledger), "prod"), proc.output
    assert advertised(sandbox)
    for name in ("status", "reconcile"):
        for limit in ("all", "edge", None):
            proc = run_playbook(name, sandbox, ledger, limit=limit, inventory=inventory)
            assert proc.returncode == 0 and "no hosts matched" not in proc.output, (name, limit, proc.output)
            if name == "status":
                assert "edge" in proc.output and "L-all" in proc.output, proc.output
    for name in ("test", "withdraw", "activate"):
        proc = run_playbook(name, sandbox, ledger, limit="edge", extra={"force": True}, inventory=inventory)
        assert proc.returncode == 0 and "no hosts matched" not in proc.output, (name, proc.output)
    assert advertised(sandbox), "activate ran last"


def test_a_limit_without_integrations_or_a_missing_state_host_fails_loudly(sandbox, tmp_path):
    inventory = write_inventory(tmp_path / "inventory.json", sandbox, tmp_path / "ledger.json")
    ledger = tmp_path / "ledger.json"
    # The demo's layout (the state host listed): --limit localhost selects no integration, and a
    # manual button must then refuse, never act on all of them.
    with_state_host = json.loads(open(inventory).read())
    with_state_host["all"]["hosts"] = {"localhost": {"ansible_connection": "local"}}
    (tmp_path / "with-state-host.json").write_text(json.dumps(with_state_host))
    for name in ("activate", "withdraw", "test"):
        proc = run_playbook(name, sandbox, ledger, limit="localhost", inventory=str(tmp_path / "with-state-host.json"))
        assert proc.returncode != 0, (name, proc.output)
        assert "no host of group scrubbing_integrations is selected" in proc.output, proc.output
        proc = run_playbook(name, sandbox, ledger, limit="edge-typo", inventory=inventory)
        assert proc.returncode != 0 and "no hosts to target" in proc.output, (name, proc.output)
    for name, extra in (("incident", started("S1")), ("status", None), ("reconcile", None)):
        extra = dict(extra or {}, scrubbing_state_host="ddos-state-typo")
        proc = run_playbook(name, sandbox, ledger, extra=extra, limit="all", inventory=inventory)
        assert proc.returncode != 0, (name, proc.output)
        assert "scrubbing_state_host ddos-state-typo matches no host of the inventory" in proc.output, proc.output
    assert sandbox.requests() == [], "a refused run called a provider"
    assert ledger_incidents(str(ledger), "prod") == {}


def test_templates_given_with_e_are_data(sandbox, tmp_path):
    """ansible-core 2.19 trusts -e as templates: the incident still stays characters, from JSON
    and from a YAML file; an id with a template is refused with the orchestrator's message."""
    inventory = write_inventory(tmp_path / "inventory.json", sandbox, tmp_path / "ledger.json")
    ledger = tmp_path / "ledger.json"
    marker = tmp_path / "pwned"
    lookup = "{{ lookup('pipe', 'touch %s') }}" % marker
    refused = {"incident": {"id": "T-{{ 7*7 }}", "status": "started", "workspace": "quiet", "source": lookup,
                            "target": "203.0.113.7", "details": {"x": lookup}}}
    proc = run_playbook("incident", sandbox, ledger, extra=refused, limit="all", inventory=inventory)
    assert proc.returncode != 0 and "incident.id 'T-{{ 7*7 }}'" in proc.output, proc.output
    assert "Traceback" not in proc.output and "T-49" not in proc.output
    kept = {"incident": {"id": "E-1", "status": "started", "workspace": "quiet", "target": "203.0.113.7",
                         "details": {"x": lookup, "y": "{{ 7*7 }}", "z": "{{ hostvars['edge'] }}"}}}
    proc = run_playbook("incident", sandbox, ledger, extra=kept, limit="all", inventory=inventory)
    assert proc.returncode == 0, proc.output
    from_file = tmp_path / "event.yml"
    from_file.write_text("incident:\n  id: E-2\n  status: started\n  workspace: quiet\n"
                         "  details:\n    x: \"%s\"\n" % lookup.replace('"', '\\"'))
    run = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i", inventory,
                          "--limit", "all", "-e", "scrubbing_state_file=%s" % ledger, "-e", "@%s" % from_file],
                         capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    incidents = ledger_incidents(str(ledger), "quiet")
    assert set(incidents) == {"E-1", "E-2"}, incidents
    assert json.dumps(lookup)[1:-1] in json.dumps(incidents["E-1"]) and "{{ 7*7 }}" in json.dumps(incidents["E-1"])
    assert "{{ hostvars['edge'] }}" in json.dumps(incidents["E-1"]) and "sandbox-cf-token" not in json.dumps(incidents)
    assert json.dumps(lookup)[1:-1] in json.dumps(incidents["E-2"])
    assert not marker.exists(), "a lookup given with -e ran on the controller"
    assert sandbox.requests() == [], "workspace quiet has no integration"
