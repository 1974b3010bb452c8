"""Nothing leaves the configured host (issue 16.3): a provider that answers a redirect gets an
error naming the host it pointed at, through the modules and the incident playbook, for every
client (requests, python-ovh's Session, botocore); whatever the redirect asked for reaches
nobody, and no write counts as done."""

from __future__ import annotations

import json

import pytest

from ddos_sandbox.core import OtherHost

from conftest import read_ledger, run_playbook

WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def other_host():
    other = OtherHost()
    yield other
    other.stop()


@pytest.mark.parametrize("status", [302, 307])
def test_module_write_redirected_elsewhere_fails_and_sends_nothing_there(sandbox, other_host, module_runner, status):
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    for method in WRITES:
        sandbox.add_fault(provider="cloudflare", method=method, status=status, redirect=other_host.url, count=-1)
    result = module_runner("cloudflare_magic_transit", {
        "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
        "prefix_id": PREFIX, "state": "active", "wait_sleep": 0.05, "wait_timeout": 5, "retries": 1})
    assert result["_rc"] != 0 and "FAILED" in result["_stdout"], result
    assert "redirect to %s" % other_host.url in result["msg"], result["msg"]
    assert "sandbox-cf-token-rw" not in result["_stdout"] + result["_stderr"]
    assert other_host.requests == [], "the redirect was followed"
    assert not sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"]


def test_module_read_redirected_elsewhere_reads_nothing_from_there(sandbox, other_host, module_runner):
    sandbox.add_fault(provider="ovh", method="GET", status=307, redirect=other_host.url, count=-1)
    result = module_runner("ovh_mitigation", {
        "api_url": sandbox.api_url("ovh"), "application_key": "sandbox-ovh-app-key",
        "application_secret": "sandbox-ovh-app-secret", "consumer_key": "sandbox-ovh-consumer-key",
        "ip": "203.0.113.10", "state": "active", "retries": 1})
    assert result["_rc"] != 0 and "FAILED" in result["_stdout"], result
    assert "redirect to %s" % other_host.url in result["msg"], result["msg"]
    assert other_host.requests == []
    assert sandbox.requests(writes_only=True) == []


def test_incident_playbook_fails_naming_the_other_host_and_writes_nothing(sandbox, other_host, tmp_path):
    """Every integration of the demo inventory (Cloudflare, OVH, Hetzner, AWS through botocore,
    DigitalOcean, Vultr, Linode) is answered a redirect on its writes."""
    for method in WRITES:
        sandbox.add_fault(method=method, status=307, redirect=other_host.url, count=-1)
    before = sandbox.state()
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", sandbox, ledger, extra={
        "incident": {"id": "R-1", "status": "started", "target": "203.0.113.10"}, "scrubbing_deadline": 60})
    assert proc.returncode != 0, proc.output
    assert proc.output.count("redirect to %s" % other_host.url) >= 1, proc.output
    assert other_host.requests == [], "a redirect was followed"
    assert sandbox.state() == before, "a write took effect"
    applied = [e for e in sandbox.requests(writes_only=True) if e["status"] and e["status"] < 300]
    assert applied == [], applied
    records = read_ledger(str(ledger))["integrations"]
    # The always-on prefix is advertised already: it needs no write, so it meets no redirect.
    failed = {name for name, rec in records.items() if "redirect to %s" % other_host.url in (rec["last_error"] or "")}
    assert failed == set(records) - {"cf-magic-transit-always-on"}, records
    assert not any(records[name]["active"] for name in failed), records


@pytest.mark.parametrize("url", ["http://api.vultr.example/v2", "http://10.0.0.5:8765/vultr/v2",
                                 "http://user:sandbox-vultr-key@192.0.2.1/v2", "ftp://127.0.0.1/v2"])
def test_plain_http_to_another_host_is_refused_before_any_call(sandbox, tmp_path, module_runner, url):
    """Credentials in clear text across a network: refused by the inventory check (naming the
    integration) and by the module, with "use https"; loopback http:// stays fine (the sandbox)."""
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    vultr = {"api_url": url, "api_key": "sandbox-vultr-key",
             "firewall_group_id": "cb676a46-66fd-4dfb-b839-443f2e6c0b60"}
    inventory = tmp_path / "inventory.json"
    edge = {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
        "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
        "prefix_id": PREFIX}}
    hosts = {"edge": edge, "vultr-plain": {"scrubbing_provider": "vultr_firewall", "scrubbing_options": vultr}}
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {"ansible_connection": "local"}}},
                                     "scrubbing_integrations": {"vars": {"ansible_connection": "local"},
                                                                "hosts": hosts}}))
    proc = run_playbook("incident", sandbox, tmp_path / "ledger.json", inventory=str(inventory),
                        extra={"incident": {"id": "H-1", "status": "started", "target": "203.0.113.7"}})
    assert proc.returncode != 0, proc.output
    assert "integration vultr-plain (vultr_firewall): scrubbing_options: option api_url must be an https:// URL" \
        in proc.output and "use https" in proc.output, proc.output
    assert "sandbox-vultr-key" not in proc.output
    assert sandbox.requests() == [], "a refused inventory called a provider"
    result = module_runner("vultr_firewall", dict(vultr, state="active"))
    assert result["_rc"] != 0 and "option api_url must be an https:// URL" in result["msg"], result
    assert "sandbox-vultr-key" not in result["_stdout"] + result["_stderr"]
    assert sandbox.requests() == []


def test_loopback_http_and_https_urls_pass_the_check():
    from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import API_URL

    for url in ("http://127.0.0.1:8765/x", "http://127.3.2.1/x", "http://[::1]:80/x", "http://localhost:1/x",
                "https://api.cloudflare.com/client/v4", "https://eu.api.ovh.com/1.0"):
        assert API_URL.ok(url), url
    for url in ("http://127.0.0.1.example.com/", "http://0x7f000001/", "https://", "http://[::2]/", "https:// x"):
        assert not API_URL.ok(url), url
