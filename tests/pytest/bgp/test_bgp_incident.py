"""RTBH on the incident: the ddos.scrubbing.incident and reconcile playbooks drive gobgpd, and BIRD 2
(the border router) shows a host route exactly while an incident targets the address."""

from __future__ import annotations

import json

# The lab fixtures, used by name.
from bgp_lab import bgp_lab, lab  # noqa: F401  # pylint: disable=unused-import
from conftest import run_playbook


def inventory(tmp_path, lab):
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}},
        "scrubbing_integrations": {
            "vars": {"ansible_connection": "local"},
            "hosts": {"rtbh": {"scrubbing_provider": "bgp_blackhole", "scrubbing_workspace": "default",
                               "scrubbing_options": {"speaker_address": lab.speaker_address,
                                                     "owned_prefixes": ["203.0.113.0/24"], "timeout": 10}}}},
    }))
    return str(path)


def incident(ident, status, target="203.0.113.10"):
    return {"incident": {"id": ident, "status": status, "workspace": "default", "target": target}}


def play(name, inv, ledger, extra=None):
    proc = run_playbook(name, None, ledger, extra, inventory=inv)
    assert proc.returncode == 0, proc.output[-4000:]
    return proc


def has(routes):
    return "203.0.113.10/32" in routes


def test_route_lives_exactly_while_an_incident_targets_the_address(lab, tmp_path):
    inv, ledger = inventory(tmp_path, lab), tmp_path / "ledger.json"
    play("incident", inv, ledger, incident("A", "started"))
    route = lab.wait_routes("master4", has, "the blackhole route of incident A")["203.0.113.10/32"]
    assert route["dest"] == "blackhole" and "(65535,666)" in route["attrs"]["BGP.community"]

    play("incident", inv, ledger, incident("B", "started"))
    play("incident", inv, ledger, incident("A", "resolved"))
    assert has(lab.routes("master4")), "resolving A withdrew the route B still needs"

    # A speaker restart loses the announcement; reconcile puts it back.
    lab.stop_speaker()
    lab.start_speaker()
    assert not has(lab.routes("master4"))
    play("reconcile", inv, ledger)
    lab.wait_routes("master4", has, "the route back after reconcile")

    play("incident", inv, ledger, incident("B", "resolved"))
    lab.wait_routes("master4", lambda routes: not has(routes), "the withdrawal after the last incident")


def test_a_target_outside_owned_prefixes_never_gets_a_route(lab, tmp_path):
    inv, ledger = inventory(tmp_path, lab), tmp_path / "ledger.json"
    play("incident", inv, ledger, incident("X", "started", target="198.51.100.7"))
    assert lab.routes("master4") == {}


def test_a_speaker_that_is_down_fails_only_its_integration(sandbox, tmp_path):
    """No gobgpd listens at the address: the BGP integration fails naming itself and the address;
    the Magic Transit integration of the same incident is activated all the same."""
    from ddos_sandbox.net import free_port
    from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

    down = "127.0.0.1:%d" % free_port()
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
        "rtbh": {"scrubbing_provider": "bgp_blackhole", "scrubbing_options": {
            "speaker_address": down, "owned_prefixes": ["203.0.113.0/24"], "timeout": 5}},
        "mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT,
            "prefix_id": PREFIX, "wait_sleep": 0.05}}}}}))
    proc = run_playbook("incident", sandbox, tmp_path / "ledger.json", incident("D", "started"), inventory=str(path))
    assert proc.returncode != 0, "the failed integration fails the run"
    assert "rtbh: FAILED: bgp_blackhole: the BGP speaker (gobgpd) at %s does not answer" % down in proc.output, \
        proc.output[-3000:]
    assert "mt (cloudflare_magic_transit): activated" in proc.output
    assert sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"] is True
