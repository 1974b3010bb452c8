"""What reaches the gobgp CLI (issue 16): only words of its grammar, built from checked values, so
that gobgp's re-splitting on spaces can never make a rule for someone else's address; and a
route a peer sent is never read as ours, whether GoBGP 3.x or 4.x says so."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

# The lab fixtures, used by name.
from bgp_lab import bgp_lab, lab  # noqa: F401  # pylint: disable=unused-import
from conftest import VENV_BIN, ansible_env, make_provider, run_module

from ansible_collections.ddos.scrubbing.plugins.module_utils._bgp import GoBgpClient
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.bgp_blackhole import BgpBlackhole

OWNED = ["203.0.113.0/24", "2001:db8::/32"]
HOSTILE = "2001:db8::1%z destination 2a00:1450::1"


def empty(lab):
    return all(lab.routes(table) == {} for table in ("master4", "master6", "flowtab4", "flowtab6"))


def test_the_client_refuses_a_word_gobgp_would_split(lab):
    """The last guard, right before the CLI runs: a word with a space or a zone id is never sent."""
    client = GoBgpClient("bgp_flowspec", "BGP FlowSpec", lab.speaker_address, 10)
    with pytest.raises(InputError, match=r"bgp_flowspec: refused to run gobgp with '2001:db8::1%z destination "):
        client.add("ipv6-flowspec", ["match", "destination", HOSTILE + "/128", "then", "discard"])
    with pytest.raises(InputError, match="refused to run gobgp with '100::1 then discard'"):
        client.add("ipv6", ["2001:db8::1/128", "nexthop", "100::1 then discard"])
    assert client.calls == [] and empty(lab)
    client.add("ipv4-flowspec", ["match", "destination", "203.0.113.9/32", "destination-port", ">=1024&<=65535",
                                 "then", "discard"])  # the grammar takes what we build
    lab.wait_routes("flowtab4", lambda r: len(r) == 1, "the well-formed rule")


@pytest.mark.parametrize("module, options, message", [
    ("bgp_blackhole", {"next_hop_ipv6": "100::1%z then discard"}, "option next_hop_ipv6 '100::1%z then discard' "
                                                                  "is not one IP address"),
    ("bgp_blackhole", {"communities": ["65535:666 large-community 1:2:3"]}, "option communities: "),
    ("bgp_blackhole", {"marker": "4200000000:666:0 x"}, "option marker must be a large community"),
    ("bgp_blackhole", {"owned_prefixes": ["2001:db8::%z destination 2a00:1450::/32"]},
     "is not a prefix ADDRESS/LENGTH without host bits"),
    ("bgp_flowspec", {"match": {"source_prefix": "198.51.100.0%z destination 2a00:1450::1/24"}},
     "option match.source_prefix: "),
    ("bgp_flowspec", {"match": {"destination_ports": ["53 then accept"]}}, "option match.destination_ports: "),
])
def test_the_module_refuses_an_option_gobgp_would_split(lab, module, options, message):
    args = dict({"speaker_address": lab.speaker_address, "owned_prefixes": OWNED, "targets": ["2001:db8::1"]},
                **options)
    result = run_module(module, args)
    assert result["_rc"] != 0 and result["msg"].startswith(module + ": ") and message in result["msg"], \
        json.dumps(result, indent=1)[:3000]
    assert empty(lab)


@pytest.mark.parametrize("module", ["bgp_blackhole", "bgp_flowspec"])
def test_the_module_refuses_a_hostile_target_alone(lab, module):
    args = {"speaker_address": lab.speaker_address, "owned_prefixes": OWNED, "targets": [HOSTILE, "2001:db8::2"]}
    # the default callback (not -o, whose oneline callback drops warnings): what an operator reads
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "ddos.scrubbing." + module,
                           "-a", json.dumps(args)], capture_output=True, text=True, env=ansible_env(), timeout=300,
                          check=False)
    assert proc.returncode == 0 and "CHANGED" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[WARNING]: %s: target '%s': not one IP address" % (module, HOSTILE) in proc.stderr, proc.stderr
    table = "master6" if module == "bgp_blackhole" else "flowtab6"
    routes = lab.wait_routes(table, lambda r: len(r) == 1, "the other target's route")
    assert "2a00:1450" not in json.dumps(routes) and "2001:db8::2" in json.dumps(routes), routes


# -- GoBGP 3.x and 4.x: who sent a path -------------------------------------------------------------------------
def rib_json(**peer_fields):
    """One path inside owned_prefixes with our marker, as gobgp global rib -j prints it."""
    path = {"nlri": {"prefix": "203.0.113.50/32"}, "age": 1796364007, "best": True, "stale": False,
            "attrs": [{"type": 1, "value": 0}, {"type": 3, "nexthop": "192.0.2.1"},
                      {"type": 8, "communities": [65535 << 16 | 666]},
                      {"type": 32, "value": [{"ASN": 4200000000, "LocalData1": 666, "LocalData2": 0}]}]}
    path.update(peer_fields)
    return json.dumps({"203.0.113.50/32": [path]})


@pytest.mark.parametrize("peer_fields, ours", [
    ({}, True),                                                       # announced here (3.x and 4.x alike)
    ({"source-id": "127.0.0.2", "neighbor-ip": "127.0.0.2"}, False),  # GoBGP 3.x: from a peer
    ({"peer-id": "127.0.0.2", "peer-address": "127.0.0.2", "peer-asn": 65002}, False),  # GoBGP 4.x
    ({"peer-address": "2001:db8::2"}, False),
    ({"peer-asn": 65002}, False),
])
def test_a_path_a_peer_sent_is_never_ours(peer_fields, ours):
    provider = make_provider(BgpBlackhole, speaker_address="127.0.0.1:9", owned_prefixes=OWNED)
    client = provider.http
    client.run = lambda args: rib_json(**peer_fields) if args[-2:] == ["ipv4", "-j"] else ""
    state = provider.read()
    assert [r["key"] for r in state["routes"]] == (["203.0.113.50/32"] if ours else [])
    assert state["foreign"] == ([] if ours else ["203.0.113.50/32"])
