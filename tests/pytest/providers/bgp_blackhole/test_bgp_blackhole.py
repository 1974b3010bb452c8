"""RTBH against real software: gobgpd announces, BIRD 2 (the border router) receives over a real
eBGP session on loopback; every assertion reads BIRD's table with birdc."""

from __future__ import annotations

import json

import pytest

# The lab fixtures, used by name.
from bgp.bgp_lab import bgp_lab, lab  # noqa: F401  # pylint: disable=unused-import
from conftest import converge, make_provider, run_module

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_blackhole import BgpBlackhole

OWNED = ["203.0.113.0/24", "2001:db8::/32"]
MARKER = "(4200000000, 666, 0)"


def rtbh(lab, targets, **params):
    base = dict(speaker_address=lab.speaker_address, owned_prefixes=OWNED, targets=targets, timeout=10)
    base.update(params)
    return make_provider(BgpBlackhole, sleep=lambda s: None, **base)


def module_args(lab, targets, **params):
    args = dict(speaker_address=lab.speaker_address, owned_prefixes=OWNED, targets=targets)
    args.update(params)
    return args


def has(*prefixes):
    return lambda routes: all(p in routes for p in prefixes)


def lacks(*prefixes):
    return lambda routes: not any(p in routes for p in prefixes)


def test_blackhole_routes_reach_the_router_with_communities_and_go_away(lab):
    on = converge(rtbh(lab, ["203.0.113.10", "2001:db8::10"]), "active")
    assert on["changed"] and on["active"]
    assert [r["destination"] for r in on["after"]["routes"]] == ["2001:db8::10/128", "203.0.113.10/32"]

    v4 = lab.wait_routes("master4", has("203.0.113.10/32"), "the IPv4 blackhole route on BIRD")["203.0.113.10/32"]
    assert v4["dest"] == "blackhole"  # the router resolved the discard next hop to null
    assert v4["attrs"]["BGP.next_hop"] == "192.0.2.1"
    assert v4["attrs"]["BGP.community"] == "(65535,666) (65535,65281)"
    assert v4["attrs"]["BGP.large_community"] == MARKER
    v6 = lab.wait_routes("master6", has("2001:db8::10/128"), "the IPv6 blackhole route")["2001:db8::10/128"]
    assert v6["dest"] == "blackhole" and v6["attrs"]["BGP.next_hop"].startswith("100::1")

    off = converge(rtbh(lab, ["203.0.113.10", "2001:db8::10"]), "inactive", snapshot=on["snapshot"])
    assert off["changed"] and not off["active"] and off["after"]["routes"] == []
    lab.wait_routes("master4", lacks("203.0.113.10/32"), "the IPv4 withdrawal")
    lab.wait_routes("master6", lacks("2001:db8::10/128"), "the IPv6 withdrawal")


def test_routes_someone_else_announced_are_never_touched(lab):
    # Another tool on the same speaker: a blackhole for .20 and one for .10, without our marker.
    lab.gobgp("global", "rib", "add", "203.0.113.20/32", "nexthop", "192.0.2.1", "community", "65535:666")
    lab.gobgp("global", "rib", "add", "203.0.113.10/32", "nexthop", "192.0.2.7", "community", "65535:666")
    provider = rtbh(lab, ["203.0.113.10", "203.0.113.11"])
    on = converge(provider, "active")
    assert [r["destination"] for r in on["after"]["routes"]] == ["203.0.113.11/32"]
    assert on["before"]["foreign"] == ["203.0.113.10/32", "203.0.113.20/32"]
    assert any("203.0.113.10/32 is already announced without our marker" in w for w in provider.warnings)

    routes = lab.wait_routes("master4", has("203.0.113.11/32"), "our route")
    assert routes["203.0.113.10/32"]["attrs"]["BGP.next_hop"] == "192.0.2.7"  # theirs, not replaced
    assert "BGP.large_community" not in routes["203.0.113.10/32"]["attrs"]

    converge(rtbh(lab, []), "inactive")
    routes = lab.wait_routes("master4", lacks("203.0.113.11/32"), "the withdrawal of ours")
    assert set(routes) == {"203.0.113.10/32", "203.0.113.20/32"}


def test_state_active_converges_to_exactly_the_targets(lab):
    converge(rtbh(lab, ["203.0.113.10", "203.0.113.11"]), "active")
    lab.wait_routes("master4", has("203.0.113.10/32", "203.0.113.11/32"), "both routes")

    again_provider = rtbh(lab, ["203.0.113.11", "203.0.113.10"])
    again = converge(again_provider, "active")
    assert not again["changed"]
    assert again_provider.http.calls == [["global", "rib", "-a", "ipv4", "-j"], ["global", "rib", "-a", "ipv6", "-j"]]

    fewer = converge(rtbh(lab, ["203.0.113.11"]), "active")
    assert fewer["changed"] and [r["key"] for r in fewer["after"]["routes"]] == ["203.0.113.11/32"]
    routes = lab.wait_routes("master4", lacks("203.0.113.10/32"), "the resolved target's withdrawal")
    assert set(routes) == {"203.0.113.11/32"}

    # A changed option re-announces our route with the new attributes (same prefix, replaced).
    changed = converge(rtbh(lab, ["203.0.113.11"], communities=["65535:666", "64500:9999"]), "active")
    assert changed["changed"] and changed["after"]["routes"][0]["communities"] == ["64500:9999", "65535:666"]
    lab.wait_routes("master4", lambda r: r.get("203.0.113.11/32", {}).get("attrs", {}).get("BGP.community")
                    == "(64500,9999) (65535,666)", "the new communities")


def test_a_target_outside_owned_prefixes_is_refused_alone(lab):
    """The foreign target gets no route and a warning naming it; the owned one gets its route."""
    provider = rtbh(lab, ["203.0.113.10", "198.51.100.7"])
    after = converge(provider, "active")["after"]
    assert [r["key"] for r in after["routes"]] == ["203.0.113.10/32"]
    assert any("target '198.51.100.7': outside owned_prefixes (203.0.113.0/24, 2001:db8::/32)" in w
               for w in provider.warnings), provider.warnings
    assert not any("198.51.100.7" in " ".join(call) for call in provider.http.calls)
    routes = lab.wait_routes("master4", has("203.0.113.10/32"), "the owned target's route")
    assert list(routes) == ["203.0.113.10/32"]


def test_more_targets_than_max_routes_announce_nothing(lab):
    provider = rtbh(lab, ["203.0.113.%d" % i for i in range(1, 4)], max_routes=2)
    with pytest.raises(InputError, match="3 targets need 3 routes, more than max_routes=2; nothing was announced"):
        converge(provider, "active")
    assert lab.routes("master4") == {}


def test_check_mode_predicts_the_exact_routes_and_sends_nothing(lab):
    provider = rtbh(lab, ["203.0.113.12"])
    checked = converge(provider, "active", check_mode=True)
    assert checked["changed"] and checked["diff"]["after"]["routes"] == [dict(
        key="203.0.113.12/32", destination="203.0.113.12/32", next_hop="192.0.2.1",
        communities=["65535:666", "65535:65281"])]
    assert checked["diff"]["before"]["routes"] == []
    assert not any("add" in call for call in provider.http.calls)
    assert lab.routes("master4") == {}


def test_speaker_restart_loses_routes_and_a_rerun_puts_them_back(lab):
    converge(rtbh(lab, ["203.0.113.10"]), "active")
    lab.wait_routes("master4", has("203.0.113.10/32"), "the route")
    lab.stop_speaker()
    lab.wait_routes("master4", lacks("203.0.113.10/32"), "the route gone with the speaker")
    lab.start_speaker()
    back = converge(rtbh(lab, ["203.0.113.10"]), "active")
    assert back["changed"] and back["before"]["routes"] == []
    lab.wait_routes("master4", has("203.0.113.10/32"), "the route back")


def test_a_speaker_that_is_down_is_named_with_its_address(lab):
    lab.stop_speaker()
    with pytest.raises(ProviderError) as err:
        converge(rtbh(lab, ["203.0.113.10"], timeout=3), "active")
    message = str(err.value)
    assert message.startswith("bgp_blackhole: the BGP speaker (gobgpd) at %s does not answer" % lab.speaker_address)
    assert "--api-hosts" in message


def test_module_check_diff_then_apply_and_info(lab):
    args = module_args(lab, ["203.0.113.30"])
    checked = run_module("bgp_blackhole", args, check=True, diff=True)
    assert checked["_rc"] == 0 and checked["changed"], checked["_stdout"]
    assert [r["key"] for r in checked["after"]["routes"]] == ["203.0.113.30/32"] and checked["before"]["routes"] == []
    assert lab.routes("master4") == {}

    applied = run_module("bgp_blackhole", args)
    assert applied["changed"] and applied["active"] and applied["api_calls"] >= 3, applied["_stdout"]
    lab.wait_routes("master4", has("203.0.113.30/32"), "the module's route")
    assert not run_module("bgp_blackhole", args)["changed"]

    info = run_module("bgp_blackhole_info", args)
    assert info["_rc"] == 0 and info["ok"] and info["active"], info["_stdout"]
    details = [f["detail"] for f in info["findings"]]
    assert "1 of 1 neighbours established: 127.0.0.2" in details
    assert "1 route(s) of ours announced, 0 other route(s) inside owned_prefixes left alone" in details

    withdrawn = run_module("bgp_blackhole", dict(args, state="inactive"))
    assert withdrawn["changed"] and not withdrawn["active"]
    lab.wait_routes("master4", lacks("203.0.113.30/32"), "the module's withdrawal")


@pytest.mark.parametrize("option, value, message", [
    ("speaker_address", "gobgpd.local", "option speaker_address must be HOST:PORT"),
    ("targets", ["203.0.113.0/24"], "option targets must be an IP address"),
    ("owned_prefixes", ["not-a-prefix"], "option owned_prefixes must be an IP address or CIDR block"),
    ("communities", ["65535:666", "blackhole-please"], "option communities: 'blackhole-please' is not a community"),
    ("next_hop", "100::1", "option next_hop must be an IPv4 address"),
    ("owned_prefixes", ["0.0.0.0/0"], "owned_prefixes contains 0.0.0.0/0"),
])
def test_bad_input_is_one_clear_message_and_no_write(lab, option, value, message):
    args = module_args(lab, ["203.0.113.10"])
    args[option] = value
    result = run_module("bgp_blackhole", args)
    assert result["_rc"] != 0 and result["msg"].startswith("bgp_blackhole: ") and message in result["msg"], (
        json.dumps(result, indent=1))
    assert lab.routes("master4") == {}


def test_info_reports_a_target_outside_owned_prefixes(lab):
    report = build_test_report(rtbh(lab, ["198.51.100.7"]))
    assert not report["ok"] and "target '198.51.100.7': outside owned_prefixes" in report["msg"]
