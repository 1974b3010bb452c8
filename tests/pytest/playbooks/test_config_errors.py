"""Configuration errors fail at configuration time (issue 16, items 2 and 6), through the
incident playbook on the sandbox: one provider object spelt two ways, an empty credential, an
allow entry without sources, an unknown scrubbing_* host variable, a playbook-wide number out of
range. Each run fails with a message naming the host (or the variable) and the fix, and nothing
reaches a provider: the sandbox logs no request at all, the ledger is never created.

Every inventory also holds a healthy integration that the incident would activate, so "no
request" means the refusal came first, not that there was nothing to do.
"""

from __future__ import annotations

import json
import socket
import sys

import pytest

from conftest import read_ledger, run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from sshd import SSHD, SshServer

STARTED = {"incident": {"id": "A", "status": "started", "target": "203.0.113.7"}}
DO_FIREWALL = "6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c"
VULTR_GROUP = "cb676a46-66fd-4dfb-b839-443f2e6c0b60"
SECRETS = ("sandbox-cf-token-rw", "sandbox-do-token-rw", "sandbox-vultr-key", "sandbox-robot-password")


def write_inventory(tmp_path, sandbox, hosts, group_vars=None, all_vars=None):
    """The healthy Magic Transit integration plus ``hosts`` ({name: host vars}); ``{api}`` in an
    option becomes the sandbox URL of that provider."""
    def on_sandbox(host_vars):
        options = dict(host_vars.get("scrubbing_options") or {})
        if "api_url" in options:
            options["api_url"] = sandbox.api_url(options["api_url"])
        return dict(host_vars, scrubbing_options=dict(options, wait_sleep=0.05, retries=1))

    hosts = dict({"healthy": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
        "api_url": "cloudflare", "api_token": "sandbox-cf-token-rw", "account_id": ACCOUNT, "prefix_id": PREFIX}}},
        **hosts)
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({
        "all": {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
                "vars": all_vars or {}},
        "scrubbing_integrations": {"hosts": {n: on_sandbox(h) for n, h in hosts.items()},
                                   "vars": dict({"ansible_connection": "local"}, **(group_vars or {}))}}))
    return str(path)


def do(firewall_id, workspace, **options):
    return {"scrubbing_provider": "digitalocean_firewall", "scrubbing_workspace": workspace, "scrubbing_options": dict(
        {"api_url": "digitalocean", "api_token": "sandbox-do-token-rw", "firewall_id": firewall_id}, **options)}


def vultr(group, workspace):
    return {"scrubbing_provider": "vultr_firewall", "scrubbing_workspace": workspace, "scrubbing_options": {
        "api_url": "vultr", "api_key": "sandbox-vultr-key", "firewall_group_id": group}}


def zone(name, workspace):
    return {"scrubbing_provider": "cloudflare_under_attack", "scrubbing_workspace": workspace, "scrubbing_options": {
        "api_url": "cloudflare", "api_token": "sandbox-cf-token-rw", "zone_name": name}}


def robot(workspace, **options):
    return {"scrubbing_provider": "hetzner_firewall", "scrubbing_workspace": workspace, "scrubbing_options": dict(
        {"api_url": "hetzner", "robot_user": "#ws+sandbox", "robot_password": "sandbox-robot-password"}, **options)}


def refused(proc, sandbox, ledger, *expected):
    """The run failed before anything: each expected fragment shown, no request, no ledger."""
    assert proc.returncode != 0, proc.output[-3000:]
    for fragment in expected:
        assert fragment in proc.output, (fragment, proc.output[-3000:])
    assert sandbox.requests() == [], "a refused configuration must reach no provider"
    assert not ledger.exists(), "a refused configuration must record nothing"
    for secret in SECRETS:
        assert secret not in proc.output


# -- item 2: one object, two spellings -------------------------------------------------------------
SPELLINGS = {
    "digitalocean-uuid-case": (
        {"do-a": do(DO_FIREWALL.upper(), "a"), "do-b": do(DO_FIREWALL, "b")},
        "integrations do-a and do-b both act on the same digitalocean_firewall object (firewall_id=%s in do-a, "
        "firewall_id=%s in do-b): withdrawing one would undo the other. Give each provider object to one integration"
        % (DO_FIREWALL.upper(), DO_FIREWALL)),
    "vultr-uuid-case": (
        {"vultr-a": vultr(VULTR_GROUP, "a"), "vultr-b": vultr(VULTR_GROUP.upper(), "b")},
        "integrations vultr-a and vultr-b both act on the same vultr_firewall object (firewall_group_id=%s in "
        "vultr-a, firewall_group_id=%s in vultr-b)" % (VULTR_GROUP, VULTR_GROUP.upper())),
    "zone-name-case-and-dot": (
        {"zone-a": zone("example.test", "a"), "zone-b": zone("Example.TEST.", "b")},
        "integrations zone-a and zone-b both act on the same cloudflare_under_attack object (zone_name=example.test "
        "in zone-a, zone_name=Example.TEST. in zone-b)"),
    "hetzner-ipv6-spelling": (
        {"robot-a": robot("a", server_ip="2001:db8::1"), "robot-b": robot("b", server_ip="2001:DB8:0::1")},
        "integrations robot-a and robot-b both act on the same hetzner_firewall object (server_ip=2001:db8::1 in "
        "robot-a, server_ip=2001:DB8:0::1 in robot-b)"),
}


@pytest.mark.parametrize("case", sorted(SPELLINGS))
def test_one_object_in_two_spellings_is_refused_before_any_call(sandbox, tmp_path, case):
    hosts, message = SPELLINGS[case]
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", sandbox, ledger, STARTED, inventory=write_inventory(tmp_path, sandbox, hosts))
    refused(proc, sandbox, ledger, "the inventory is not valid; nothing was called", message)


class SilentSpeaker:
    """A TCP port on 127.0.0.1 standing in for gobgpd's API: it counts who connects."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.setblocking(False)
        self.port = self.server.getsockname()[1]

    def connections(self):
        count = 0
        while True:
            try:
                conn, _peer = self.server.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def silent_speaker():
    speaker = SilentSpeaker()
    yield speaker
    speaker.server.close()


def test_one_speaker_in_two_spellings_is_refused_before_any_call(sandbox, tmp_path, silent_speaker):
    port = silent_speaker.port
    hosts = {"rtbh-a": {"scrubbing_provider": "bgp_blackhole", "scrubbing_workspace": "a", "scrubbing_options": {
        "speaker_address": "127.0.0.1:%d" % port, "owned_prefixes": ["203.0.113.0/24"], "timeout": 5}},
        "rtbh-b": {"scrubbing_provider": "bgp_blackhole", "scrubbing_workspace": "b", "scrubbing_options": {
            "speaker_address": "localhost:%d" % port, "owned_prefixes": ["203.0.113.0/25"], "timeout": 5}}}
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", sandbox, ledger, STARTED, inventory=write_inventory(tmp_path, sandbox, hosts))
    refused(proc, sandbox, ledger,
            "integrations rtbh-a and rtbh-b both announce bgp_blackhole routes for 203.0.113.0/24 and 203.0.113.0/25 "
            "through the speaker at 127.0.0.1:%d (rtbh-a) and localhost:%d (rtbh-b), one speaker: one's withdrawal "
            "would remove the other's. Give each address range to one integration" % (port, port))
    assert silent_speaker.connections() == 0, "the speaker must not be called"


# -- item 6: credentials, allow lists, host variables -----------------------------------------------
MISTAKES = {
    "hetzner-empty-password": (
        {"robot": robot("default", server_number=321, robot_password="")},
        ["integration robot (hetzner_firewall): scrubbing_options: option robot_password is empty: set it, or leave "
         "it out to read HETZNER_ROBOT_PASSWORD or HROBOT_API_PASSWORD from the environment"]),
    "hetzner-blank-user": (
        {"robot": robot("default", server_number=321, robot_user="  ")},
        ["integration robot (hetzner_firewall): scrubbing_options: option robot_user is empty: set it"]),
    "allow-without-sources": (
        {"do-web": do(DO_FIREWALL, "default", allow=[{"protocol": "tcp", "ports": "22", "sources": []}])},
        ["integration do-web (digitalocean_firewall): scrubbing_options: option allow must be",
         "sources is empty; to allow from anywhere write sources: ['0.0.0.0/0', '::/0'] (or leave sources out)"]),
    "workspace-typo": (
        {"robot": dict(robot("default", server_number=321), scrubbing_workpace="prod")},
        ["integration robot: unknown host variable scrubbing_workpace (did you mean scrubbing_workspace?): rename or "
         "remove it"]),
    "targets-typo": (
        {"robot": dict(robot("default", server_number=321), scrubbing_target=["192.0.2.10"])},
        ["integration robot: unknown host variable scrubbing_target (did you mean scrubbing_targets?)"]),
    # A template in a host variable that cannot be rendered names its host and variable, every one
    # of them, in the same refusal (not a bare "'x' is undefined" from the first one met).
    "templates-undefined": (
        {"robot": robot("default", server_number=321, robot_password="{{ robot_password_from_vault }}"),
         "do-web": dict(do(DO_FIREWALL, "default"), scrubbing_workspace="{{ tenant_name }}")},
        ["integration robot: scrubbing_options cannot be rendered: 'robot_password_from_vault' is undefined. Define "
         "what it uses (host or group vars, a vault file, -e) or write the value itself",
         "integration do-web: scrubbing_workspace cannot be rendered: 'tenant_name' is undefined"]),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_an_integration_mistake_is_refused_before_any_call(sandbox, tmp_path, case):
    hosts, messages = MISTAKES[case]
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", sandbox, ledger, STARTED, inventory=write_inventory(tmp_path, sandbox, hosts))
    refused(proc, sandbox, ledger, "the inventory is not valid; nothing was called", *messages)


def test_a_misspelt_playbook_wide_variable_on_the_hosts_is_refused(sandbox, tmp_path):
    ledger = tmp_path / "ledger.json"
    inventory = write_inventory(tmp_path, sandbox, {}, all_vars={"scrubbing_hold_dwon": 600})
    proc = run_playbook("incident", sandbox, ledger, STARTED, inventory=inventory)
    refused(proc, sandbox, ledger, "integration healthy: unknown host variable scrubbing_hold_dwon (did you mean "
                                   "scrubbing_hold_down?)")


def test_the_playbook_wide_variables_are_known_on_every_host(sandbox, tmp_path):
    """What README says to do (playbook-wide variables under all: vars) is not taken for a typo."""
    ledger = tmp_path / "ledger.json"
    inventory = write_inventory(tmp_path, sandbox, {}, all_vars={
        "scrubbing_hold_down": 0, "scrubbing_deadline": 60, "scrubbing_event_window": 300, "scrubbing_workers": 8,
        "scrubbing_state_host": "localhost", "scrubbing_force": False, "scrubbing_status_format": "table",
        "scrubbing_status_live": True, "scrubbing_selected": []})
    proc = run_playbook("incident", sandbox, ledger, STARTED, inventory=inventory)
    assert proc.returncode == 0, proc.output[-3000:]
    assert read_ledger(ledger)["integrations"]["healthy"]["active"]


@pytest.mark.parametrize("variable, value, message", [
    ("scrubbing_hold_down", -5, "scrubbing_hold_down must be a whole number of seconds, at least 0, got -5: set it "
                                "in the inventory (all: vars) or with -e scrubbing_hold_down=N"),
    ("scrubbing_event_window", -1, "scrubbing_event_window must be a whole number of seconds, at least 1, got -1"),
    ("scrubbing_deadline", 0, "scrubbing_deadline must be a whole number of seconds, at least 1, got 0"),
    ("scrubbing_deadline", "soon", "argument 'scrubbing_deadline' is of type str and we were unable to convert to int"),
    ("scrubbing_hold_down", 1.5, "argument 'scrubbing_hold_down' is of type float"),
    ("scrubbing_workers", -2, "scrubbing_workers must be a whole number of providers called at once, at least 1"),
])
def test_a_playbook_wide_number_out_of_range_is_refused(sandbox, tmp_path, variable, value, message):
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", sandbox, ledger, dict(STARTED, **{variable: value}),
                        inventory=write_inventory(tmp_path, sandbox, {}))
    refused(proc, sandbox, ledger, message)


# -- item 6: an incident without a target ------------------------------------------------------------
def test_an_incident_without_a_target_leaves_target_scoped_integrations_alone(sandbox, tmp_path):
    ledger = tmp_path / "ledger.json"
    inventory = write_inventory(tmp_path, sandbox, {"zone": zone("example.test", "default")},
                                group_vars={})
    inv = json.loads(open(inventory, encoding="utf-8").read())
    inv["scrubbing_integrations"]["hosts"]["healthy"]["scrubbing_targets"] = ["203.0.113.0/24"]
    open(inventory, "w", encoding="utf-8").write(json.dumps(inv))
    proc = run_playbook("incident", sandbox, ledger, {"incident": {"id": "N", "status": "started"}},
                        inventory=inventory)
    assert proc.returncode == 0, proc.output[-3000:]
    state = sandbox.state()["cloudflare"]
    assert not state["accounts"][ACCOUNT][PREFIX]["advertised"], "a scoped integration acted on an untargeted incident"
    assert [z["security_level"] for z in state["zones"].values()] == ["under_attack"]
    assert "healthy (cloudflare_magic_transit): stays inactive, because the incident names no target and " \
           "scrubbing_targets limits it to 203.0.113.0/24" in proc.output, proc.output[-3000:]
    assert "zone (cloudflare_under_attack): activated" in proc.output, proc.output[-3000:]
    doc = read_ledger(ledger)
    assert not doc["integrations"].get("healthy", {}).get("active")


# -- the module path: a remote state host ------------------------------------------------------------
@pytest.fixture
def ssh(tmp_path):
    import os

    from conftest import require

    require({SSHD: os.path.exists(SSHD), "root": os.geteuid() == 0},
            "scripts/ensure-debian.sh installs openssh-server; CI runs as root")
    server = SshServer(tmp_path / "sshd").start()
    yield server
    server.stop()


def test_the_module_on_a_remote_state_host_refuses_unknown_host_variables(sandbox, tmp_path, ssh):
    inventory = write_inventory(tmp_path, sandbox, {"robot": dict(robot("default", server_number=321),
                                                                  scrubbing_workpace="prod")},
                                all_vars={"scrubbing_state_host": "statehost"})
    inv = json.loads(open(inventory, encoding="utf-8").read())
    inv["all"]["hosts"]["statehost"] = ssh.inventory_vars(sys.executable)
    open(inventory, "w", encoding="utf-8").write(json.dumps(inv))
    ledger = tmp_path / "remote-ledger.json"
    proc = run_playbook("incident", sandbox, ledger, STARTED, inventory=inventory)
    refused(proc, sandbox, ledger, "[statehost]",
            "integration robot: unknown host variable scrubbing_workpace (did you mean scrubbing_workspace?)")


# -- the provider modules on their own ----------------------------------------------------------------
@pytest.mark.parametrize("module, args, message", [
    ("hetzner_firewall", {"robot_user": "#ws+sandbox", "robot_password": "", "server_number": 321},
     "hetzner_firewall: option robot_password is empty: set it"),
    ("hetzner_firewall_info", {"robot_user": "", "robot_password": "sandbox-robot-password", "server_number": 321},
     "hetzner_firewall: option robot_user is empty: set it"),
    # (a blank " " credential is refused too, but AnsibleModule then masks every space of the message)
    ("vultr_firewall", {"api_key": "", "firewall_group_id": VULTR_GROUP}, "vultr_firewall: option api_key is empty"),
    ("digitalocean_firewall", {"api_token": "sandbox-do-token-rw", "firewall_id": DO_FIREWALL,
                               "allow": [{"protocol": "tcp", "ports": "22", "sources": []}]},
     "sources is empty; to allow from anywhere write sources: ['0.0.0.0/0', '::/0']"),
])
def test_a_module_refuses_an_empty_credential_or_source_list_before_any_request(sandbox, module_runner, module, args,
                                                                                message):
    result = module_runner(module, dict(args, api_url=sandbox.api_url(module.split("_")[0])))
    assert result["_rc"] != 0 and message in result["msg"], result
    assert sandbox.requests() == [], "no request, not even a failed login"
    for secret in SECRETS:
        assert secret not in result["_stdout"] + result["_stderr"]
