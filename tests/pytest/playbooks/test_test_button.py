"""The Test button as users press it: every ``*_info`` module through ``ansible localhost -m``, and
``ansible-playbook ddos.scrubbing.test`` at default verbosity.

Each failure case is one a provider really answers (a revoked token, an unknown object, a speaker
that does not listen); the reason expected in the output is the provider's own words, as the
sandbox answers them after the provider's API reference, never a list read from the collection.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_module, run_playbook

from ddos_sandbox.net import free_port

ZERO32 = "f" * 32


def _cases(sandbox):
    """module -> (arguments that make its Test fail, the provider's reason, the secret used)."""
    down = "127.0.0.1:%d" % free_port()  # nothing listens: what a stopped gobgpd looks like
    return {
        "cloudflare_magic_transit_info": (
            dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-revoked",
                 account_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9", prefix_id="1f2e3d4c5b6a79880716253443526170"),
            ["HTTP 401", "Invalid API Token"], "sandbox-cf-token-revoked"),
        "cloudflare_under_attack_info": (
            dict(api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", zone_id=ZERO32),
            ["HTTP 404", "Invalid zone identifier"], "sandbox-cf-token-rw"),
        "ovh_mitigation_info": (
            dict(api_url=sandbox.api_url("ovh"), application_key="sandbox-ovh-app-key",
                 application_secret="sandbox-ovh-app-secret", consumer_key="sandbox-ovh-consumer-key-expired",
                 ip="203.0.113.10"),
            ["HTTP 403", "This credential does not exist"], "sandbox-ovh-consumer-key-expired"),
        "hetzner_firewall_info": (
            dict(api_url=sandbox.api_url("hetzner"), robot_user="#ws+sandbox", robot_password="wrong-robot-password",
                 server_number=321),
            ["HTTP 401", "Unauthorized"], "wrong-robot-password"),
        "aws_shield_info": (
            dict(endpoint_url=sandbox.api_url("aws_shield"), aws_access_key_id="AKIDSANDBOXUNKNOWN1",
                 aws_secret_access_key="sandbox-unknown-secret",
                 resource_arns=["arn:aws:cloudfront::123456789012:distribution/E2SANDBOX1"]),
            ["UnrecognizedClientException", "The security token included in the request is invalid"],
            "sandbox-unknown-secret"),
        "digitalocean_firewall_info": (
            dict(api_url=sandbox.api_url("digitalocean"), api_token="sandbox-do-token-rw",
                 firewall_id="00000000-0000-4000-8000-000000000000"),
            ["HTTP 404", "The resource you requested could not be found"], "sandbox-do-token-rw"),
        "vultr_firewall_info": (
            dict(api_url=sandbox.api_url("vultr"), api_key="sandbox-vultr-key",
                 firewall_group_id="00000000-0000-4000-8000-000000000000"),
            ["HTTP 404", "Firewall group not found"], "sandbox-vultr-key"),
        "linode_firewall_info": (
            dict(api_url=sandbox.api_url("linode"), api_token="sandbox-linode-token-revoked", firewall_id=10101,
                 allow=[{"protocol": "tcp", "ports": "22", "sources": ["0.0.0.0/0"]}]),
            ["HTTP 401", "Invalid Token"], "sandbox-linode-token-revoked"),
        "bgp_blackhole_info": (
            dict(speaker_address=down, owned_prefixes=["203.0.113.0/24"], timeout=3),
            ["the BGP speaker (gobgpd) at %s does not answer" % down, "--api-hosts"], None),
        "bgp_flowspec_info": (
            dict(speaker_address=down, owned_prefixes=["203.0.113.0/24"], timeout=3),
            ["the BGP speaker (gobgpd) at %s does not answer" % down, "--api-hosts"], None),
        # a server without nftables (its table's own tests run in network namespaces: local_firewall/)
        "local_firewall_info": (
            dict(nft_path="/nonexistent/sbin/nft", targets=["203.0.113.7"], drop=[{"protocol": "udp"}]),
            ["nft was not found (nft_path=/nonexistent/sbin/nft)", "apt-get install nftables"], None),
    }


MODULES = ("aws_shield_info", "bgp_blackhole_info", "bgp_flowspec_info", "cloudflare_magic_transit_info",
           "cloudflare_under_attack_info", "digitalocean_firewall_info", "hetzner_firewall_info",
           "linode_firewall_info", "local_firewall_info", "ovh_mitigation_info", "vultr_firewall_info")


def test_every_info_module_is_covered():
    """Every provider's Test module must get its failure case here."""
    import os
    from conftest import COLLECTIONS

    shipped = sorted(f[:-3] for f in os.listdir(os.path.join(COLLECTIONS, "ansible_collections", "ddos", "scrubbing",
                                                             "plugins", "modules")) if f.endswith("_info.py"))
    assert list(MODULES) == shipped


@pytest.mark.parametrize("module", MODULES)
def test_a_failing_test_says_why(sandbox, module):
    args, reasons, secret = _cases(sandbox)[module]
    result = run_module(module, args)
    out = result["_stdout"] + result["_stderr"]
    assert result["_rc"] != 0 and "localhost | FAILED!" in result["_stdout"], out
    assert "multiple values for keyword argument" not in out, out
    assert result["ok"] is False and result["changed"] is False
    for reason in reasons:
        assert reason in result["msg"], result["msg"]
    assert module[:-len("_info")] in result["msg"], "the message names the provider: " + result["msg"]
    if secret:
        assert secret not in out
    assert sandbox.requests(writes_only=True) == [], "the Test button wrote"


def test_a_failed_finding_fails_the_module_with_its_detail(sandbox):
    """Not an API error: the token can read but not write, the Test finds it and says so."""
    args = dict(api_url=sandbox.api_url("digitalocean"), api_token="sandbox-do-token-ro",
                firewall_id="6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c")
    result = run_module("digitalocean_firewall_info", args)
    assert result["_rc"] != 0 and "localhost | FAILED!" in result["_stdout"], result["_stdout"]
    assert "Test failed" in result["msg"] and "it needs firewall:update" in result["msg"], result["msg"]
    assert [f["check"] for f in result["findings"] if f["level"] == "error"] == ["write"]
    assert "sandbox-do-token-ro" not in result["_stdout"]


# -- the playbook --------------------------------------------------------------------------------
def _lines(output):
    """The strings the debug task printed, one per line of the report."""
    start = output.find('"msg": [')
    assert start >= 0, output[-3000:]
    end = output.find("]\n", start)
    return json.loads(output[start + len('"msg": '):end + 1])


def test_the_playbook_shows_every_finding_graded_at_default_verbosity(sandbox, tmp_path):
    proc = run_playbook("test", sandbox, tmp_path / "ledger.json")
    assert proc.returncode == 0, proc.output[-3000:]
    lines = _lines(proc.output)
    assert "hetzner-robot (hetzner_firewall): passed with 1 warning" in lines
    hetzner = lines[lines.index("hetzner-robot (hetzner_firewall): passed with 1 warning") + 1:]
    assert hetzner[0].split() == ["ok", "login", "the", "Robot", "web-service", "login", "works"]
    assert any(line.split()[:2] == ["warn", "ipv6"] and "filter_ipv6 is off" in line for line in hetzner[:5]), hetzner
    assert any(line.split()[:2] == ["ok", "rules"] and "3 input rule(s)" in line for line in hetzner[:5]), hetzner
    always_on = lines.index("cf-magic-transit-always-on (cloudflare_magic_transit): passed with 1 warning")
    assert any(line.split()[:2] == ["warn", "always_on"] for line in lines[always_on + 1:always_on + 8]), lines
    assert "cf-magic-transit (cloudflare_magic_transit): passed" in lines
    assert not any(line.strip().startswith("fail") for line in lines), lines
    assert sandbox.requests(writes_only=True) == [] or all(
        r["provider"] in ("digitalocean", "linode") for r in sandbox.requests(writes_only=True)), \
        "only the documented write checks (DigitalOcean, Linode) may write"


def test_the_playbook_names_the_failing_integration_and_the_providers_reason(sandbox, tmp_path):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
        "cf-uam": {"scrubbing_provider": "cloudflare_under_attack", "scrubbing_options": {
            "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-revoked",
            "zone_name": "example.test"}},
        "vultr-web": {"scrubbing_provider": "vultr_firewall", "scrubbing_options": {
            "api_url": sandbox.api_url("vultr"), "api_key": "sandbox-vultr-key",
            "firewall_group_id": "cb676a46-66fd-4dfb-b839-443f2e6c0b60"}}}}}))
    proc = run_playbook("test", sandbox, tmp_path / "ledger.json", inventory=str(inventory))
    assert proc.returncode != 0, proc.output[-3000:]
    lines = _lines(proc.output)
    failed = lines.index("cf-uam (cloudflare_under_attack): FAILED")
    assert lines[failed + 1].split()[:2] == ["fail", "-"] and "Invalid API Token" in lines[failed + 1], lines
    assert "vultr-web (vultr_firewall): passed" in lines[failed + 2:] or any(
        line.startswith("vultr-web (vultr_firewall): passed") for line in lines), lines
    assert "sandbox-cf-token-revoked" not in proc.output
