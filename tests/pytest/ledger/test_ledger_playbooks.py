"""The playbooks on the PostgreSQL ledger, and one hung provider through the real sandbox."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import VENV_BIN, ansible_env, run_playbook
from processes import descendants, kill_tree
from services import PostgresServer


@pytest.fixture(scope="module")
def pg():
    reason = PostgresServer.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


def writes(sandbox, provider=None):
    return sandbox.requests(provider=provider, writes_only=True)


def test_incident_on_the_postgresql_ledger(sandbox, tmp_path, pg):
    unused = tmp_path / "no-file-ledger.json"
    dsn = {"scrubbing_ledger_dsn": pg.dsn}
    started = run_playbook("incident", sandbox, unused, dict(dsn, incident={"id": "PG-1", "status": "started"}))
    assert started.returncode == 0, started.output
    assert writes(sandbox), "the incident activated the integrations"
    assert not unused.exists(), "the file ledger is not used when a DSN is set"
    doc = json.loads(pg.psql_value("SELECT doc FROM ddos_scrubbing_ledger"))
    assert doc["workspaces"]["default"]["incidents"]["PG-1"]["status"] == "active"
    assert all(rec["claim"] is None for rec in doc["integrations"].values())
    status = run_playbook("status", sandbox, unused, dsn)
    assert status.returncode == 0 and "PG-1" in status.output, status.output
    resolved = run_playbook("incident", sandbox, unused, dict(dsn, incident={"id": "PG-1", "status": "resolved"}))
    assert resolved.returncode == 0, resolved.output
    doc = json.loads(pg.psql_value("SELECT doc FROM ddos_scrubbing_ledger"))
    assert not any(rec["active"] for rec in doc["integrations"].values())


def test_dsn_from_the_environment(sandbox, tmp_path, pg):
    run = run_playbook("incident", sandbox, tmp_path / "unused.json", {"incident": {"id": "ENV-1", "status": "started"}},
                       env={"SCRUBBING_LEDGER_DSN": pg.dsn})
    assert run.returncode == 0, run.output
    assert "ENV-1" in pg.psql_value("SELECT doc FROM ddos_scrubbing_ledger")


def test_unreachable_database_fails_the_run_and_writes_nothing(sandbox, tmp_path):
    dsn = "host=127.0.0.1 port=9 dbname=ddos user=ddos password=Sup3rSecretPw connect_timeout=2"
    # as AWX injects it (ansible-playbook itself echoes a DSN given with -e at -vvvv)
    run = run_playbook("incident", sandbox, tmp_path / "unused.json", {"incident": {"id": "X", "status": "started"}},
                       env={"SCRUBBING_LEDGER_DSN": dsn, "ANSIBLE_VERBOSITY": "4"})
    assert run.returncode != 0
    assert "PostgreSQL 127.0.0.1 port 9 database ddos" in run.output, run.output
    assert "Sup3rSecretPw" not in run.output
    assert writes(sandbox) == [], "no provider write without a ledger"


def test_a_hung_provider_holds_back_nobody_through_the_sandbox(sandbox, tmp_path):
    """Every Hetzner Robot request is parked by the sandbox; the other providers are written while
    it is still parked, the run ends at its deadline with Robot pending, reconcile finishes it."""
    ledger = tmp_path / "ledger.json"
    sandbox.add_fault(provider="hetzner", hold=True, count=-1, name="robot-hangs")
    run = run_playbook("incident", sandbox, ledger, {"scrubbing_deadline": 15,
                                                     "incident": {"id": "H", "status": "started"}})
    still_parked_at = time.time()
    assert run.returncode != 0, "a pending integration fails the run loudly"
    assert "hetzner-robot: PENDING" in run.output and "reconcile" in run.output, run.output
    healthy = {e["provider"] for e in writes(sandbox)}
    assert {"cloudflare", "ovh", "digitalocean", "vultr", "linode"} <= healthy, healthy
    assert all(e["time"] < still_parked_at for e in writes(sandbox))
    assert not writes(sandbox, "hetzner")
    sandbox.release("robot-hangs", drop=True)
    sandbox.faults.clear()  # the held requests were released (dropped) above
    again = run_playbook("reconcile", sandbox, ledger)
    assert again.returncode == 0, again.output
    assert writes(sandbox, "hetzner"), "reconcile activated Robot"


def test_retry_after_beyond_the_deadline_fails_at_once(sandbox, tmp_path):
    ledger = tmp_path / "ledger.json"
    sandbox.add_fault(provider="vultr", status=429, headers={"Retry-After": "3600"}, count=-1)
    run = run_playbook("incident", sandbox, ledger, {"scrubbing_deadline": 60,
                                                     "incident": {"id": "V", "status": "started"}})
    assert run.returncode != 0
    assert "retry after 3600 s" in run.output and "Retry after 20" in run.output, run.output
    assert {"cloudflare", "linode"} <= {e["provider"] for e in writes(sandbox)}


# -- 16.5: a DSN is a secret, whatever is wrong with it ------------------------------------------
@pytest.mark.parametrize("dsn,pieces,says", [
    # a bad percent escape: libpq quotes the token, i.e. the password
    ("postgresql://ddos:Pw%zzSecretLedger@127.0.0.1:9/ddos", ["zzSecretLedger", "Pw%zz"], "not a valid conninfo"),
    # '/' and '@' unencoded: libpq reads pieces of the password as host, port and database
    ("postgresql://ddos:Qx7kk/Vq9ault@Kz9ey@127.0.0.1:9/ddos", ["Qx7kk", "Vq9ault", "Kz9ey"], "unencoded"),
    ("postgresql://ddos:Dd0sPw/x@127.0.0.1:9/ddos", ["Dd0sPw"], "unencoded"),
    # a stray word in a conninfo string (a password with a space)
    ("host=127.0.0.1 port=9 dbname=ddos password=Stray9Secret Zq8Tail", ["Stray9Secret", "Zq8Tail"],
     "not a valid conninfo"),
    # a correct URI with an encoded '%' and '/': the password decoded or not never shows
    ("postgresql://ddos:Pc%25Wd%2FSecret7@127.0.0.1:9/ddos?connect_timeout=2",
     ["Pc%Wd/Secret7", "Pc%25Wd%2FSecret7", "Secret7"], "PostgreSQL 127.0.0.1 port 9 database ddos"),
])
def test_a_broken_dsn_never_shows_its_password_at_any_verbosity(sandbox, tmp_path, dsn, pieces, says):
    run = run_playbook("incident", sandbox, tmp_path / "unused.json", {"incident": {"id": "S", "status": "started"}},
                       env={"SCRUBBING_LEDGER_DSN": dsn, "ANSIBLE_VERBOSITY": "4"})
    assert run.returncode != 0
    assert says in run.output and "scrubbing_ledger_dsn" in run.output, run.output[-3000:]
    leaked = [p for p in pieces if p in run.output]
    assert not leaked, "the DSN's password showed: %s\n%s" % (leaked, run.output[-3000:])
    assert writes(sandbox) == [], "no provider write without a ledger"


# -- 16.5: a controller that vanishes keeps no claim ---------------------------------------------
@pytest.fixture(scope="module")
def pg_tcp():
    reason = PostgresServer.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer(tcp=True).start()
    server.tcp_dsn = "host=127.0.0.1 port=%d user=postgres dbname=postgres" % server.port
    yield server
    server.stop()


def test_a_silently_lost_claim_is_named_then_taken_over_within_the_deadline(sandbox, tmp_path, pg_tcp):
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
        "edge": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
            "prefix_id": PREFIX, "wait_sleep": 0.05, "retries": 0, "timeout": 120}}}}}))
    dsn = {"scrubbing_ledger_dsn": pg_tcp.tcp_dsn}
    sandbox.add_fault(provider="cloudflare", method="PATCH", path="^/accounts/%s/addressing/prefixes/%s/bgp/" % (
        ACCOUNT, PREFIX), name="write", count=1, hold=True)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing.incident", "-i", str(inventory),
           "-e", "scrubbing_state_file=%s" % (tmp_path / "unused.json"),
           "-e", json.dumps(dict(dsn, incident={"id": "LOST", "status": "started"}))]
    holder = subprocess.Popen(cmd, env=ansible_env({}), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        assert sandbox.wait_held("write", 120), "the holder's provider write never arrived"
        # alive and working: a second run waits, then names who holds it (never "None pid None")
        waiting = run_playbook("reconcile", sandbox, tmp_path / "unused.json", dict(dsn, scrubbing_deadline=3),
                               inventory=str(inventory))
        assert waiting.returncode != 0 and "PENDING" in waiting.output, waiting.output[-3000:]
        named = re.search(r"another run \((\S+) pid (\d+) \(incident, since \S+\)\) is changing it", waiting.output)
        assert named and named.group(1) == socket.gethostname(), waiting.output[-3000:]
        assert int(named.group(2)) in [holder.pid] + descendants(holder.pid)
        # now the holder's controller freezes with its connection open (a host gone, a hung VM)
        frozen = [holder.pid] + descendants(holder.pid)  # Ansible's workers are not all in its process group
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        start = time.monotonic()
        taking = run_playbook("reconcile", sandbox, tmp_path / "unused.json", dict(dsn, scrubbing_deadline=60),
                              inventory=str(inventory))
        took = time.monotonic() - start
        assert taking.returncode == 0, taking.output[-3000:]
        said = " ".join(taking.output.split())  # Ansible wraps its warnings
        assert "edge: took over the claim of %s pid %s (incident" % (socket.gethostname(), named.group(2)) in said, said
        assert took < 40, "the takeover took %.0f s" % took
        patches = [e for e in sandbox.requests(writes_only=True) if e["method"] == "PATCH"]
        assert patches, "the run that took over wrote the activation"
        doc = json.loads(pg_tcp.psql_value("SELECT doc FROM ddos_scrubbing_ledger"))
        rec = doc["integrations"]["edge"]
        assert rec["active"] and rec["pending"] is None and rec["claim"] is None, rec
    finally:
        kill_tree(holder.pid)
        holder.wait()
        sandbox.release("write", drop=True)
