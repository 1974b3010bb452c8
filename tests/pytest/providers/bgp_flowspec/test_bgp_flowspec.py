"""FlowSpec against real software: gobgpd announces the rules, BIRD 2 receives them over a real
eBGP session into its flow4/flow6 tables; assertions read those tables with birdc."""

from __future__ import annotations

import pytest

# The lab fixtures, used by name.
from bgp.bgp_lab import bgp_lab, lab  # noqa: F401  # pylint: disable=unused-import
from conftest import converge, make_provider, run_module

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_flowspec import BgpFlowspec

OWNED = ["203.0.113.0/24", "2001:db8::/32"]
MARKER = "(4200000000, 666, 0)"
DISCARD = "(generic, 0x80060000, 0x0)"  # traffic-rate 0 (RFC 8955 section 7.3)


def flowspec(lab, targets, **params):
    base = dict(speaker_address=lab.speaker_address, owned_prefixes=OWNED, targets=targets, timeout=10)
    base.update(params)
    return make_provider(BgpFlowspec, sleep=lambda s: None, **base)


def rules_for(routes, destination):
    return {net: route for net, route in routes.items() if "dst %s;" % destination in net}


def one_rule(lab, table, destination, what):
    routes = lab.wait_routes(table, lambda r: len(rules_for(r, destination)) == 1, what)
    return next(iter(rules_for(routes, destination).items()))


def test_discard_rule_reaches_flow4_and_goes_away(lab):
    on = converge(flowspec(lab, ["203.0.113.10"], match=dict(protocols=["udp"], source_ports=["53"])), "active")
    assert on["changed"] and on["active"]
    assert [r["key"] for r in on["after"]["routes"]] == ["203.0.113.10/32 protocols=udp source_ports=53"]
    net, route = one_rule(lab, "flowtab4", "203.0.113.10/32", "the rule in flow4")
    assert net == "flow4 { dst 203.0.113.10/32; proto 17; sport 53; }"
    assert route["attrs"]["BGP.ext_community"] == DISCARD
    assert route["attrs"]["BGP.large_community"] == MARKER

    off = converge(flowspec(lab, ["203.0.113.10"]), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and not off["active"]
    lab.wait_routes("flowtab4", lambda r: not r, "the withdrawal")


def test_every_match_component_and_rate_limit_round_trip(lab):
    match = dict(protocols=["tcp", "udp"], destination_ports=["443", "80"], source_ports=["1024-65535"],
                 source_prefix="198.51.100.0/24", packet_length=[">=1000"], fragments=["is-fragment"],
                 tcp_flags=["syn", "ack"])
    on = converge(flowspec(lab, ["203.0.113.11"], match=match, action="rate_limit", rate=1000), "active")
    assert on["changed"]
    net, route = one_rule(lab, "flowtab4", "203.0.113.11/32", "the full rule")
    # BIRD's rendering: TCP flags as "any of SYN (0x2), ACK (0x10) set", fragments as a bitmask match.
    assert net == ("flow4 { dst 203.0.113.11/32; src 198.51.100.0/24; proto 6,17; dport 80,443; sport 1024..65535; "
                   "tcp flags !0x0/0x2 || !0x0/0x10; length >= 1000; fragment !!is_fragment; }")
    assert route["attrs"]["BGP.ext_community"] == "(generic, 0x80060000, 0x447a0000)"  # 1000.0 as float32
    # Read back from the speaker, the rule compares equal to the one built: a re-run changes nothing.
    again = flowspec(lab, ["203.0.113.11"], match=match, action="rate_limit", rate=1000)
    assert not converge(again, "active")["changed"]
    assert not any("add" in call for call in again.http.calls)


def test_ipv6_rule_reaches_flow6(lab):
    converge(flowspec(lab, ["2001:db8::10"], match=dict(protocols=["icmp"])), "active")
    net, route = one_rule(lab, "flowtab6", "2001:db8::10/128", "the IPv6 rule in flow6")
    assert "next header 58;" in net and route["attrs"]["BGP.large_community"] == MARKER
    converge(flowspec(lab, []), "active")  # no target left: our rule goes
    lab.wait_routes("flowtab6", lambda r: not r, "the IPv6 withdrawal")


def test_match_from_incident_and_a_changed_attack_replaces_the_rule(lab):
    attacks = {"203.0.113.12": {"family": "syn_flood", "protocol": "tcp", "ports": [443]}}
    converge(flowspec(lab, ["203.0.113.12"], match_from_incident=True, target_attacks=attacks), "active")
    net = one_rule(lab, "flowtab4", "203.0.113.12/32", "the rule from the incident")[0]
    assert "proto 6;" in net and "dport 443;" in net and "tcp flags" in net

    # The attack changes (UDP to 27015): the new rule is announced and the old one withdrawn.
    attacks = {"203.0.113.12": {"family": "udp_flood", "protocol": "udp", "ports": [27015]}}
    changed = converge(flowspec(lab, ["203.0.113.12"], match_from_incident=True, target_attacks=attacks), "active")
    assert [r["key"] for r in changed["after"]["routes"]] == ["203.0.113.12/32 protocols=udp destination_ports=27015"]
    net = one_rule(lab, "flowtab4", "203.0.113.12/32", "only the new rule")[0]
    assert net == "flow4 { dst 203.0.113.12/32; proto 17; dport 27015; }"


def test_the_operators_match_wins_over_the_incident(lab):
    attacks = {"203.0.113.13": {"family": "syn_flood", "protocol": "tcp", "ports": [443]}}
    provider = flowspec(lab, ["203.0.113.13"], match=dict(protocols=["udp"]), match_from_incident=True,
                        target_attacks=attacks)
    route = converge(provider, "active")["after"]["routes"][0]
    assert route["match"] == {"protocols": ["udp"], "destination_ports": ["443"], "tcp_flags": ["syn"]}


def test_rules_someone_else_announced_survive(lab):
    lab.gobgp("global", "rib", "-a", "ipv4-flowspec", "add", "match", "destination", "203.0.113.10/32",
              "protocol", "==6", "then", "discard")
    converge(flowspec(lab, ["203.0.113.10"], match=dict(protocols=["udp"])), "active")
    lab.wait_routes("flowtab4", lambda r: len(rules_for(r, "203.0.113.10/32")) == 2, "both rules")
    off = converge(flowspec(lab, []), "inactive")
    assert off["after"]["foreign"] == ["203.0.113.10/32 protocols=tcp"]
    routes = lab.wait_routes("flowtab4", lambda r: len(r) == 1, "only theirs left")
    assert list(routes) == ["flow4 { dst 203.0.113.10/32; proto 6; }"]


@pytest.mark.parametrize("params, message", [
    (dict(match=dict(destination_ports=["70000"])), "option match.destination_ports: '70000' is not valid"),
    (dict(match=dict(protocols=["quic"])), "option match.protocols: 'quic' is not valid"),
    (dict(match=dict(source_prefix="2001:db8::/32")), "option match.source_prefix: '2001:db8::/32' is not valid"),
    (dict(action="rate_limit", rate=0), "action rate_limit needs a positive rate"),
])
def test_bad_input_names_the_option_and_announces_nothing(lab, params, message):
    args = dict(targets=["203.0.113.10"])
    args.update(params)
    provider = flowspec(lab, **args)
    with pytest.raises(InputError, match="^bgp_flowspec: "):
        try:
            converge(provider, "active")
        except InputError as exc:
            assert message in str(exc)
            raise
    assert not any("add" in call for call in provider.http.calls)
    assert lab.routes("flowtab4") == {}


def test_module_check_mode_apply_and_info(lab):
    args = dict(speaker_address=lab.speaker_address, owned_prefixes=OWNED, targets=["203.0.113.40"],
                match=dict(protocols=["udp"], destination_ports=["53"]))
    checked = run_module("bgp_flowspec", args, check=True, diff=True)
    assert checked["_rc"] == 0 and checked["changed"], checked["_stdout"]
    assert [r["key"] for r in checked["after"]["routes"]] == ["203.0.113.40/32 protocols=udp destination_ports=53"]
    assert lab.routes("flowtab4") == {}

    applied = run_module("bgp_flowspec", args)
    assert applied["changed"] and applied["active"], applied["_stdout"]
    one_rule(lab, "flowtab4", "203.0.113.40/32", "the module's rule")
    assert not run_module("bgp_flowspec", args)["changed"]
    info = run_module("bgp_flowspec_info", args)
    assert info["ok"] and info["active"] and len(info["state"]["routes"]) == 1, info["_stdout"]
    assert not run_module("bgp_flowspec", dict(args, state="inactive"))["active"]
    lab.wait_routes("flowtab4", lambda r: not r, "the module's withdrawal")
