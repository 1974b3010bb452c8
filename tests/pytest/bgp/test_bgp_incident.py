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


# -- hostile and clumsy input (issue 16) ---------------------------------------------------------------------
def integrations_inventory(tmp_path, hosts):
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": hosts}}))
    return str(path)


def test_a_target_with_a_zone_id_and_words_reaches_no_speaker_and_nothing_is_recorded(lab, tmp_path):
    """gobgp re-splits its arguments on spaces: this target once became a discard rule for
    2a00:1450::1, someone else's address. It is refused before the ledger and the speaker."""
    inv = integrations_inventory(tmp_path, {
        "flowspec": {"scrubbing_provider": "bgp_flowspec", "scrubbing_options": {
            "speaker_address": lab.speaker_address, "owned_prefixes": ["2001:db8::/32"], "timeout": 10}},
        "rtbh": {"scrubbing_provider": "bgp_blackhole", "scrubbing_options": {
            "speaker_address": lab.speaker_address, "owned_prefixes": ["2001:db8::/32"], "timeout": 10}}})
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", None, ledger, incident("H", "started", "2001:db8::1%z destination 2a00:1450::1"),
                        inventory=inv)
    assert proc.returncode != 0
    assert "refused: incident.target '2001:db8::1%z destination 2a00:1450::1' is not one IP address" in proc.output, \
        proc.output[-3000:]
    assert "Nothing was recorded or called" in proc.output
    assert not ledger.exists() or "\"H\"" not in ledger.read_text()
    assert lab.gobgp("global", "rib", "-a", "ipv6-flowspec", "-j").strip() in ("", "{}")
    assert lab.routes("flowtab6") == {} and lab.routes("master6") == {}


def test_a_block_or_a_slash_32_target_fails_no_other_target(lab, tmp_path):
    """A /32 is its address (a route); a block inside owned_prefixes is passed over with a warning
    naming it; the route of the workspace's other incident stays and is withdrawn when it resolves."""
    inv, ledger = inventory(tmp_path, lab), tmp_path / "ledger.json"
    play("incident", inv, ledger, incident("A", "started"))
    lab.wait_routes("master4", has, "the blackhole route of incident A")
    block = play("incident", inv, ledger, incident("B", "started", target="203.0.113.0/28"))
    assert "target '203.0.113.0/28': a block, not one address" in block.output, block.output[-3000:]
    play("incident", inv, ledger, incident("C", "started", target="203.0.113.11/32"))
    routes = lab.wait_routes("master4", lambda r: "203.0.113.11/32" in r, "the route of the /32 target")
    assert sorted(routes) == ["203.0.113.10/32", "203.0.113.11/32"]
    play("incident", inv, ledger, incident("A", "resolved"))
    routes = lab.wait_routes("master4", lambda r: not has(r), "the withdrawal of A's route")
    assert sorted(routes) == ["203.0.113.11/32"]


def test_reconcile_withdraws_a_route_with_our_marker_outside_owned_prefixes_and_says_so(lab, tmp_path):
    inv, ledger = inventory(tmp_path, lab), tmp_path / "ledger.json"
    lab.gobgp("global", "rib", "-a", "ipv4", "add", "198.51.100.7/32", "nexthop", "192.0.2.1",
              "community", "65535:666", "large-community", "4200000000:666:0")
    lab.gobgp("global", "rib", "-a", "ipv4", "add", "198.51.100.8/32", "nexthop", "192.0.2.1")  # not ours
    lab.wait_routes("master4", lambda r: "198.51.100.7/32" in r and "198.51.100.8/32" in r, "both routes")
    proc = play("reconcile", inv, ledger)
    assert ("route 198.51.100.7/32 carries this integration's marker 4200000000:666:0 but lies OUTSIDE "
            "owned_prefixes (203.0.113.0/24)") in proc.output.replace("\n", " "), proc.output[-3000:]
    routes = lab.wait_routes("master4", lambda r: "198.51.100.7/32" not in r, "the stray route withdrawn")
    assert list(routes) == ["198.51.100.8/32"], "a route without our marker was touched"


def test_every_run_refuses_bad_bgp_options_of_any_integration_before_any_call(lab, tmp_path):
    """One incident run: the integrations of another workspace, with nothing to do in this event,
    are validated too; each bad option is named with its host, and no route is announced."""
    def bgp(provider, **options):
        return {"scrubbing_provider": provider, "scrubbing_workspace": "elsewhere", "scrubbing_options": dict(
            {"speaker_address": lab.speaker_address, "owned_prefixes": ["203.0.113.0/24"]}, **options)}
    cases = {
        "any4": (bgp("bgp_blackhole", owned_prefixes=["0.0.0.0/0"]), "owned_prefixes contains 0.0.0.0/0"),
        "any6": (bgp("bgp_blackhole", owned_prefixes=["::/0"], marker="4200000000:666:1"),
                 "owned_prefixes contains ::/0"),
        "hostbits": (bgp("bgp_blackhole", owned_prefixes=["203.0.113.7/24"], marker="4200000000:666:2"),
                     "'203.0.113.7/24' is not a prefix ADDRESS/LENGTH without host bits"),
        "v6hop": (bgp("bgp_blackhole", next_hop="100::1", marker="4200000000:666:3"),
                  "option next_hop must be an IPv4 address"),
        "v4hop6": (bgp("bgp_blackhole", next_hop_ipv6="192.0.2.1", marker="4200000000:666:4"),
                   "option next_hop_ipv6 must be an IPv6 address"),
        "zonehop": (bgp("bgp_blackhole", next_hop_ipv6="100::1%z then discard", marker="4200000000:666:5"),
                    "option next_hop_ipv6 '100::1%z then discard' is not one IP address"),
        "community": (bgp("bgp_blackhole", communities=["65535:666x"], marker="4200000000:666:6"),
                      "option communities: '65535:666x' is not a community"),
        "marker": (bgp("bgp_blackhole", marker="4200000000:666"), "option marker must be a large community"),
        "maxroutes": (bgp("bgp_blackhole", max_routes=-1, marker="4200000000:666:7"),
                      "option max_routes must be at least 1, got -1"),
        "noport": (bgp("bgp_blackhole", speaker_address="127.0.0.1", marker="4200000000:666:8"),
                   "option speaker_address must be HOST:PORT"),
        "bareipv6": (bgp("bgp_blackhole", speaker_address="::1:50051", marker="4200000000:666:9"),
                     "option speaker_address '::1:50051' is not HOST:PORT"),
        "port": (bgp("bgp_flowspec", match={"destination_ports": ["70000"]}),
                 "option match.destination_ports: '70000' is not valid"),
        "proto": (bgp("bgp_flowspec", match={"protocols": ["quic"]}, marker="4200000000:666:1"),
                  "option match.protocols: 'quic' is not valid"),
        "srcfamily": (bgp("bgp_flowspec", match={"source_prefix": "2001:db8::/32"}, marker="4200000000:666:2"),
                      "option match.source_prefix 2001:db8::/32 is IPv6, but owned_prefixes has IPv4 prefixes"),
        "flowany": (bgp("bgp_flowspec", owned_prefixes=["::/0"], marker="4200000000:666:4"),
                    "owned_prefixes contains ::/0"),
        "nanrate": (bgp("bgp_flowspec", action="rate_limit", rate="nan", marker="4200000000:666:5"),
                    "action rate_limit needs a positive rate"),
        "srczone": (bgp("bgp_flowspec", match={"source_prefix": "198.51.100.0%z/24"}, marker="4200000000:666:3"),
                    "option match.source_prefix: '198.51.100.0%z/24' is not valid"),
    }
    hosts = {name: host for name, (host, _message) in cases.items()}
    hosts["good"] = {"scrubbing_provider": "bgp_blackhole", "scrubbing_options": {
        "speaker_address": lab.speaker_address, "owned_prefixes": ["203.0.113.0/24"], "marker": "4200000000:1:1"}}
    proc = run_playbook("incident", None, tmp_path / "ledger.json", incident("V", "started"),
                        inventory=integrations_inventory(tmp_path, hosts))
    assert proc.returncode != 0
    output = proc.output.replace("\n", " ")
    for name, (host, message) in cases.items():
        assert "integration %s (%s): scrubbing_options: " % (name, host["scrubbing_provider"]) in output, name
        start = output.index("integration %s (%s)" % (name, host["scrubbing_provider"]))
        assert message in output[start:start + 600], (name, output[start:start + 600])
    assert lab.routes("master4") == {} and lab.routes("flowtab4") == {}
