"""What the operator sees, through ``ansible-playbook`` as users run it: the PLAY RECAP books each
integration's ok / changed / failed to its own host (AWX's host summaries are built from it),
--check says "would ..." and writes nothing, --diff shows each changed integration's before and
after, and a failed run names each failed integration on one line, without the states.

The inventory is the user's own shape: the state host listed, four integrations of which one is
in another workspace.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

from conftest import VENV_BIN, ansible_env

CF_ACCOUNT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
DO_FIREWALL = "6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c"


def inventory(tmp_path, sandbox, broken=None):
    cf = {"api_url": sandbox.url + "/cloudflare/client/v4", "api_token": "sandbox-cf-token-rw",
          "account_id": CF_ACCOUNT, "wait_sleep": 0.05}
    hosts = {
        "mt-edge": {"scrubbing_provider": "cloudflare_magic_transit",
                    "scrubbing_options": dict(cf, prefix_id="1f2e3d4c5b6a79880716253443526170")},
        "mt-always-on": {"scrubbing_provider": "cloudflare_magic_transit",
                         "scrubbing_options": dict(cf, prefix_id="3c4d5e6f708192a3b4c5d6e7f8091a2b")},
        "do-web": {"scrubbing_provider": "digitalocean_firewall",
                   "scrubbing_options": {"api_url": sandbox.url + "/digitalocean", "api_token": "sandbox-do-token-rw",
                                         "firewall_id": DO_FIREWALL, "wait_sleep": 0.05}},
        "zone-staging": {"scrubbing_provider": "cloudflare_under_attack", "scrubbing_workspace": "staging",
                         "scrubbing_options": {"api_url": cf["api_url"], "api_token": cf["api_token"],
                                               "zone_name": "example.test"}},
    }
    hosts.update(broken or {})
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}},
        "scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}))
    return str(path)


def play(name, inv, ledger, extra=None, *args):
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing." + name, "-i", inv,
           "-e", "scrubbing_state_file=%s" % ledger]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, env=ansible_env(), timeout=300,
                          check=False)
    proc.output = proc.stdout + proc.stderr
    return proc


def recap(proc):
    """{host: (ok, changed, failed, skipped)} from the PLAY RECAP."""
    found = {m[0]: (int(m[1]), int(m[2]), int(m[4]), int(m[5])) for m in RECAP.findall(proc.stdout)}
    assert found, proc.output
    return found


def fails_do(sandbox):
    return sandbox.add_fault(provider="digitalocean", status=503, count=-1)


def clear(sandbox, fault):
    with sandbox.lock:
        sandbox.faults.remove(fault)


def started(incident_id="A"):
    return {"incident": {"id": incident_id, "status": "started", "target": "203.0.113.7"}}


def test_each_integration_books_its_own_outcome(sandbox, tmp_path):
    """One provider fails, one is activated, one stays, one is not concerned: each host says so."""
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    fault = fails_do(sandbox)
    run = play("incident", inv, ledger, started())
    assert run.returncode == 2, run.output
    counts = recap(run)
    assert counts["mt-edge"][1:3] == (1, 0), run.stdout          # changed, not failed
    assert counts["do-web"][1:3] == (0, 1), run.stdout           # failed, not changed
    assert counts["mt-always-on"][1:3] == (0, 0), run.stdout     # stays active
    assert counts["zone-staging"][1:4] == (0, 0, 1), run.stdout  # another workspace: skipped
    assert counts["localhost"][1:3] == (0, 0), run.stdout        # the state host did the work, owns none of it

    # The same without a fault: the one that failed is now the one changed; no other host changes.
    clear(sandbox, fault)
    again = play("reconcile", inv, ledger)
    assert again.returncode == 0, again.output
    counts = recap(again)
    assert counts["do-web"][1:3] == (1, 0), again.stdout
    assert counts["mt-edge"][1:3] == (0, 0) and counts["localhost"][1:3] == (0, 0), again.stdout


def test_a_failed_run_prints_one_line_per_failed_integration(sandbox, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    fails_do(sandbox)
    run = play("incident", inv, ledger, started())
    assert run.returncode == 2, run.output
    fatal = [line for line in run.stdout.splitlines() if line.startswith("fatal: ")]
    assert len(fatal) == 1 and fatal[0].startswith("fatal: [do-web]: FAILED!"), run.stdout
    assert "HTTP 503" in fatal[0] and "digitalocean_firewall" in fatal[0], fatal
    # No provider state at default verbosity (the firewall's rules, Magic Transit's prefix)...
    assert '"before"' not in run.output and '"snapshot"' not in run.output, run.output
    assert "inbound_rules" not in run.output and '"advertised"' not in run.output, run.output
    # ... they are at -v (the same run again, from the start).
    sandbox.reset()
    fails_do(sandbox)
    verbose = play("incident", inv, tmp_path / "ledger-v.json", started(), "-v")
    assert verbose.returncode == 2, verbose.output
    assert '"before"' in verbose.output and '"advertised"' in verbose.output, verbose.output


def test_check_mode_says_would_and_writes_nothing(sandbox, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    run = play("incident", inv, ledger, started(), "--check")
    assert run.returncode == 0, run.output
    assert sandbox.requests(writes_only=True) == [], "check mode must not write"
    assert not ledger.exists(), "check mode must not write the ledger"
    assert "mt-edge (cloudflare_magic_transit): would activate, because needed by incident A" in run.stdout
    assert "mt-always-on (cloudflare_magic_transit): would stay active, because needed by incident A" in run.stdout
    assert "activated" not in run.stdout and "withdrawn" not in run.stdout, run.stdout
    counts = recap(run)
    assert counts["mt-edge"][1] == 1 and counts["do-web"][1] == 1 and counts["mt-always-on"][1] == 0, run.stdout

    # Active for real, then a check-mode resolution: "would withdraw", still no write.
    assert play("incident", inv, ledger, started()).returncode == 0
    before = ledger.read_bytes()
    mark = len(sandbox.requests(writes_only=True))
    run = play("incident", inv, ledger, {"incident": {"id": "A", "status": "resolved"}}, "--check")
    assert run.returncode == 0, run.output
    assert "mt-edge (cloudflare_magic_transit): would withdraw, because workspace default has no active " \
           "incident" in run.stdout, run.stdout
    assert len(sandbox.requests(writes_only=True)) == mark and ledger.read_bytes() == before


def test_diff_shows_each_changed_integration(sandbox, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    plain = play("incident", inv, tmp_path / "plain.json", started(), "--check")
    assert "--- before" not in plain.stdout and "+++ after" not in plain.stdout, plain.stdout

    run = play("incident", inv, ledger, started(), "--diff")
    assert run.returncode == 0, run.output
    assert "--- before: mt-edge (cloudflare_magic_transit)" in run.stdout, run.stdout
    assert "+++ after: mt-edge (cloudflare_magic_transit)" in run.stdout
    assert re.search(r'^-\s+"advertised": false', run.stdout, re.M), run.stdout
    assert re.search(r'^\+\s+"advertised": true', run.stdout, re.M), run.stdout
    assert "--- before: do-web (digitalocean_firewall)" in run.stdout
    assert "before: mt-always-on" not in run.stdout, "an unchanged integration has no diff"


def test_a_limit_that_leaves_out_a_failed_integration_still_fails_the_run(sandbox, tmp_path):
    """AWX or the operator limits the play; the work covers the workspace, so does the verdict."""
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    fault = fails_do(sandbox)
    run = play("incident", inv, ledger, started(), "--limit", "localhost,mt-edge")
    assert run.returncode == 2, run.output
    assert "do-web: " in run.stdout and "--limit" in run.stdout, run.stdout
    counts = recap(run)
    assert set(counts) == {"localhost", "mt-edge"} and counts["mt-edge"][1:3] == (1, 0), run.stdout
    assert counts["localhost"][1] == 0, "mt-edge's change is booked on mt-edge, not again on the state host"

    # A change to an integration outside the play is booked on the play's first host: with only
    # the state host in the play, reconcile still reports that do-web was activated.
    clear(sandbox, fault)
    run = play("reconcile", inv, ledger, None, "--limit", "localhost")
    assert run.returncode == 0, run.output
    assert recap(run)["localhost"][1:3] == (1, 0), run.stdout
    assert "do-web (digitalocean_firewall): activated" in run.stdout, run.stdout


def test_a_batch_of_incidents_books_each_integration_once(sandbox, tmp_path):
    """What the rulebook sends for one workspace: several events in one run."""
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    batch = {"incidents": [{"id": "A", "status": "started"}, {"id": "B", "status": "started"}]}
    run = play("incident", inv, ledger, batch, "-v")
    assert run.returncode == 0, run.output
    counts = recap(run)
    assert counts["mt-edge"][1:3] == (1, 0) and counts["mt-always-on"][1:3] == (0, 0), run.stdout
    assert counts["zone-staging"][3] == 1, run.stdout
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("changed: [mt-edge]"))
    assert "incident A started: activated, because needed by incident A" in line, line
    assert "incident B started: stays active, because needed by incident A, B" in line, line


def test_a_run_that_fails_as_a_whole_says_why_once_and_writes_nothing(sandbox, tmp_path):
    broken = {"do-broken": {"scrubbing_provider": "digitalocean_firewall",
                            "scrubbing_options": {"api_url": sandbox.url + "/digitalocean"}}}
    inv, ledger = inventory(tmp_path, sandbox, broken), tmp_path / "ledger.json"
    run = play("incident", inv, ledger, started())
    assert run.returncode == 2, run.output
    counts = recap(run)
    assert counts["do-broken"][2] == 1, run.stdout                     # its own inventory error
    assert counts["mt-edge"][2:4] == (0, 1), run.stdout                # not run
    fatal = [line for line in run.stdout.splitlines() if line.startswith("fatal: ")]
    assert any(line.startswith("fatal: [do-broken]") and "api_token" in line for line in fatal), fatal
    assert any("the inventory is not valid" in line for line in fatal), fatal
    assert sandbox.requests(writes_only=True) == [] and not ledger.exists()

    # A refused event: the state host's verdict says why; no integration is failed for it.
    inv = inventory(tmp_path, sandbox)
    run = play("incident", inv, ledger, {"incident": {"id": "A", "status": "over"}})
    assert run.returncode == 2, run.output
    counts = recap(run)
    assert counts["localhost"][2] == 1 and counts["mt-edge"][2] == 0, run.stdout
    assert "incident.status must be 'started', 'updated' or 'resolved'" in run.stdout
    assert sandbox.requests(writes_only=True) == []

    # Events that cannot be read at all, refused before the work started: each integration still has
    # its line, and the verdict says why, once. In a batch, the good event before the bad one is not
    # run either.
    for events, why in (({"incidents": "A started"},
                         "incidents: a non-empty list of incident events is expected, got str"),
                        ({"incident": "A started"}, "argument 'incident' is of type str"),
                        ({"incidents": [{"id": "A", "status": "started"}, 5]},
                         "incidents[1]: argument 'incident' is of type int")):
        run = play("incident", inv, ledger, events)
        assert run.returncode == 2, run.output
        counts = recap(run)
        assert counts["localhost"][2] == 1 and counts["mt-edge"][2:4] == (0, 1), run.stdout
        verdict = run.stdout.split("TASK [The run as a whole]", 1)[1]
        fatal = [line for line in run.stdout.splitlines() if line.startswith("fatal: ")]
        assert len(fatal) == 1 and fatal[0] in verdict, run.stdout
        assert why in fatal[0], fatal
        assert sandbox.requests() == [] and not ledger.exists()

    # An inventory the run cannot take (a host in both groups): refused the same way, before any call.
    doc = json.loads(open(inv, encoding="utf-8").read())
    doc["scrubbing_servers"] = {"hosts": {"mt-edge": {}}}
    both = tmp_path / "both.json"
    both.write_text(json.dumps(doc))
    run = play("incident", str(both), ledger, started())
    assert run.returncode == 2, run.output
    counts = recap(run)
    assert counts["localhost"][2] == 1 and counts["mt-always-on"][2:4] == (0, 1), run.stdout
    fatal = [line for line in run.stdout.splitlines() if line.startswith("fatal: ")]
    assert len(fatal) == 1 and fatal[0] in run.stdout.split("TASK [The run as a whole]", 1)[1], run.stdout
    assert "mt-edge is in both groups scrubbing_integrations and scrubbing_servers" in fatal[0], fatal
    assert sandbox.requests() == [] and not ledger.exists()


def test_the_roles_variables_are_validated_once(sandbox, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    run = play("status", inv, ledger, {"scrubbing_status_format": "xml"})
    assert run.returncode == 2, run.output
    assert "scrubbing_status_format" in run.stdout and "xml" in run.stdout, run.stdout
    assert run.stdout.count("fatal: ") == 1, run.stdout
    assert sandbox.requests() == [], "nothing is read before the variables are valid"
