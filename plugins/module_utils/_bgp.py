# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""BGP mitigation through a speaker: the GoBGP client and what the two BGP providers share.

The speaker is driven through GoBGP's own ``gobgp`` CLI with JSON output (no Python
dependency): ``gobgp -u HOST -p PORT global rib -a FAMILY -j`` reads, ``... add`` / ``... del``
write. Every route this collection announces carries one marker, a BGP large community
(default ``4200000000:666:0``, a private-use ASN of RFC 6996), and only routes that carry it
and fall inside ``owned_prefixes`` are ever withdrawn: a route someone else announced through
the same speaker, or one the speaker learned from a peer, is never touched.

The providers are per target: ``targets`` (filled by the orchestrator from the active
incidents) are the addresses that must have a route; ``state: active`` converges the speaker's
RIB to exactly those routes of ours, ``state: inactive`` to none. A target the mechanism cannot
take (a block, not one address; outside ``owned_prefixes``) is passed over with a warning, the
other targets go on. A route with our marker outside ``owned_prefixes`` is ours and wrong: it is
withdrawn, with a warning naming it.

``gobgp`` joins its arguments with spaces and parses the result again, so one argument holding a
space becomes several words (an IPv6 zone id ``%z destination 2a00:1450::1`` once turned a rule
for our address into a rule for someone else's). Every word handed to it is therefore built from
checked values and checked once more against a strict grammar right before the call.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding, Findings, Provider
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import route_limit_refusal
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import HOST_PORT, IP, NETWORK, Shape

DEFAULT_MARKER = "4200000000:666:0"
WELL_KNOWN = {"blackhole": "65535:666", "no-export": "65535:65281", "no-advertise": "65535:65282",
              "no-peer": "65535:65284"}
ESTABLISHED = 6  # gobgp's session_state for an established session
# The fields of a gobgp JSON path that say a peer sent it: GoBGP 3.x writes source-id and
# neighbor-ip, 4.x peer-id, peer-address and peer-asn. A path we announced has none of them.
LEARNED_FIELDS = ("source-id", "neighbor-ip", "peer-id", "peer-address", "peer-asn")
NO_PEER = ("", "0", "<nil>", "0.0.0.0", "::")
# One word of a gobgp command line: the fixed flags, or a word of letters, digits and : . / , _ + -
# (addresses, prefixes, communities, keywords, rates), or a FlowSpec operator term (==53,
# >=1024&<=65535). Never a space, quote, %, or anything a shell or gobgp's parser would split on.
CLI_WORD = re.compile(r"-[aj]|[A-Za-z0-9:][A-Za-z0-9:./,_+-]{0,63}|[<>=!]=?[0-9]{1,5}(&[<>=!]=?[0-9]{1,5})?")
ADDRESS_TEXT = re.compile(r"[0-9A-Fa-f.:]{2,45}")
NETWORK_TEXT = re.compile(r"[0-9A-Fa-f.:]{2,45}/[0-9]{1,3}")
# The widest owned prefix taken: no network owns more, and 0.0.0.0/0 would let any incident route anything.
WIDEST_OWNED = {4: 8, 6: 16}

BGP_OPTIONS = dict(
    targets=dict(type="list", elements="str", default=[]),
    owned_prefixes=dict(type="list", elements="str", required=True),
    max_routes=dict(type="int", default=64),
    speaker=dict(type="str", default="gobgp", choices=["gobgp"]),
    speaker_address=dict(type="str", default="127.0.0.1:50051"),
    marker=dict(type="str", default=DEFAULT_MARKER),
    target_attacks=dict(type="dict", default={}),
)


# -- communities ------------------------------------------------------------------------------
def community(text):
    """``"65535:666"`` or a well-known name -> the canonical ``"A:B"`` text, else ValueError."""
    text = WELL_KNOWN.get(str(text).strip().lower(), str(text).strip())
    high, sep, low = text.partition(":")
    if not sep or not high.isdigit() or not low.isdigit() or int(high) > 65535 or int(low) > 65535:
        raise ValueError(text)
    return "%d:%d" % (int(high), int(low))


def sorted_communities(texts):
    """Distinct communities in numeric order (as routers print them)."""
    return sorted(set(texts), key=lambda text: [int(part) for part in text.split(":")])


def strict_address(text):
    """An IP address written as one (no zone id, no space, no prefix length) -> the ipaddress object."""
    if not isinstance(text, str) or not ADDRESS_TEXT.fullmatch(text):
        raise ValueError(text)
    return ipaddress.ip_address(text)


def strict_network(text):
    """``ADDR/LEN`` without host bits (or one address, as its host prefix) -> the ipaddress network."""
    if isinstance(text, str) and ADDRESS_TEXT.fullmatch(text):
        return ipaddress.ip_network(text)
    if not isinstance(text, str) or not NETWORK_TEXT.fullmatch(text):
        raise ValueError(text)
    return ipaddress.ip_network(text)


def large_community(text):
    parts = str(text).strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() and int(p) < 2 ** 32 for p in parts):
        raise ValueError(text)
    return ":".join(str(int(p)) for p in parts)


def _is_large_community(text):
    large_community(text)
    return True


# The marker is part of the integration's identity, so it is compared in its canonical form ("00:1" is "0:1").
MARKER = Shape("a large community GLOBAL:DATA1:DATA2", _is_large_community, DEFAULT_MARKER,
               canonical=large_community)


def _path_communities(attrs):
    """(communities, large communities) of one gobgp JSON path, as canonical texts."""
    normal, large = [], []
    for attr in attrs:
        if attr.get("type") == 8:
            normal += ["%d:%d" % (value >> 16, value & 0xFFFF) for value in attr.get("communities") or []]
        elif attr.get("type") == 32:
            large += ["%d:%d:%d" % (v["ASN"], v["LocalData1"], v["LocalData2"]) for v in attr.get("value") or []]
    return sorted_communities(normal), sorted_communities(large)


# -- the GoBGP speaker --------------------------------------------------------------------------
class GoBgpClient:
    """One gobgpd, through its ``gobgp`` CLI (gRPC underneath) with JSON output."""

    def __init__(self, provider, title, address, timeout):
        self.provider = provider
        self.title = title
        self.address = address
        self.timeout = timeout
        self.host, self.port = split_host_port(address)
        self.calls = []  # one entry per CLI run, like HttpClient.calls

    def run(self, args):
        args = [str(word) for word in args]
        bad = [word for word in [self.host, str(self.port)] + args if not CLI_WORD.fullmatch(word)]
        if bad:  # never run: gobgp would split the word and read the pieces as a different command
            raise InputError(self.provider, "refused to run gobgp with %r: not one word of its grammar (letters, "
                                            "digits and :./,_+- or an operator term like >=1024)" % bad[0][:80],
                             hint="Nothing was sent to the speaker. Addresses and prefixes must be written alone, "
                                  "without spaces or an IPv6 zone id")
        binary = shutil.which("gobgp")
        if binary is None:
            raise ProviderError(self.provider, "the gobgp CLI is not installed on the controller",
                                hint="Install it with the speaker (Debian: apt-get install gobgpd), or put it on PATH")
        cmd = [binary, "-u", self.host, "-p", str(self.port)] + list(args)
        self.calls.append(args)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise self._down("no answer within timeout=%ss" % self.timeout)
        if proc.returncode != 0:
            detail = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
            detail = detail[0] if detail else "exit status %d" % proc.returncode
            if "deadline exceeded" in detail or "connection refused" in detail or "Unavailable" in detail:
                raise self._down(detail)
            raise ProviderError(self.provider, "gobgp %s was refused by the speaker at %s: %s"
                                % (" ".join(args[:4]), self.address, detail))
        return proc.stdout

    def _down(self, detail):
        return ProviderError(self.provider, "the BGP speaker (gobgpd) at %s does not answer (%s)"
                             % (self.address, detail),
                             hint="Check that gobgpd runs with --api-hosts %s and that speaker_address names its "
                                  "gRPC API, not its BGP port" % self.address)

    def rib(self, family):
        """Every path of ``family`` in the global RIB: [(nlri, attrs, learned_from_a_peer)]."""
        text = self.run(["global", "rib", "-a", family, "-j"]).strip()
        table = json.loads(text) if text else {}
        return [(path.get("nlri") or {}, path.get("attrs") or [], learned(path))
                for paths in (table or {}).values() for path in paths or []]

    def summary(self):
        return json.loads(self.run(["global", "-j"]))

    def neighbors(self):
        text = self.run(["neighbor", "-j"]).strip()
        return json.loads(text) if text else []

    def add(self, family, words):
        self.run(["global", "rib", "-a", family, "add"] + words)

    def delete(self, family, words):
        self.run(["global", "rib", "-a", family, "del"] + words)


def split_host_port(address):
    host, dummy, port = str(address).rpartition(":")
    return host.strip("[]"), int(port)


def learned(path):
    """Did a peer send this gobgp JSON path (GoBGP 3.x or 4.x field names)?"""
    return any(str(path.get(field) if path.get(field) is not None else "") not in NO_PEER for field in LEARNED_FIELDS)


# -- what both BGP providers share ----------------------------------------------------------------
class BgpProvider(Provider):
    """Per-target routes of ours on one speaker. Subclasses define:

    families                 {4: "ipv4", 6: "ipv6"} (the speaker's address families)
    wanted_route(target)     the route (dict with ``key`` = its NLRI) a target must have
    decode(nlri, attrs)      a RIB path -> the same route dict, or None if it is not ours to read
    words(route)             the CLI words after ``add`` for a route; ``del`` takes ``nlri_words``
    """

    per_target = True
    families = {}
    shapes = {"targets": IP, "owned_prefixes": NETWORK, "speaker_address": HOST_PORT, "marker": MARKER}
    # What one integration acts on: the routes carrying its marker on one speaker. Two integrations
    # with one marker on one speaker would each take the other's routes for strays and withdraw them.
    identity = ("speaker_address", "marker")
    wait_sleep = 0.2

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self._owned = None
        self._stray_warned = set()

    @property
    def speaker_address(self):
        return self.params["speaker_address"]

    def connect(self):
        return GoBgpClient(self.name, self.title, self.speaker_address, self.params.get("timeout") or 30)

    # -- inputs, checked before any call (option_errors: at configuration time too) ------------------
    @classmethod
    def option_errors(cls, params):
        """One message per option a run would refuse, found without calling the speaker.

        The inventory check and the module call it for every integration on every run, so a bad
        option is an error at configuration time, never first seen during an attack."""
        provider = cls(dict(params, targets=[], target_attacks={}))
        errors = []
        for check in provider.option_checks():
            try:
                check()
            except InputError as exc:
                errors.append(exc.message.rstrip(".") + (". " + exc.hint if exc.hint else ""))
        return errors

    def option_checks(self):
        """The checks of the options (subclasses add theirs), each raising InputError."""
        return [self.owned, self.marker, self.check_max_routes, self.check_speaker_address]

    def check_max_routes(self):
        limit = self.params.get("max_routes")
        if limit is not None and limit < 1:
            self.fail("option max_routes must be at least 1, got %d" % limit,
                      hint="It caps the routes one run may announce (default 64)")

    def check_speaker_address(self):
        host, sep, port = str(self.speaker_address).rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536 or host.count(":") and not (
                host.startswith("[") and host.endswith("]")):
            self.fail("option speaker_address %r is not HOST:PORT" % (self.speaker_address,),
                      hint="Name gobgpd's gRPC API with its port: 127.0.0.1:50051, or [2001:db8::1]:50051 for IPv6")
        bare = host.strip("[]")
        if bare != "localhost" and not CLI_WORD.fullmatch(bare):
            self.fail("option speaker_address %r has a host that is not an address or DNS name"
                      % (self.speaker_address,), hint="Write the address alone, without an IPv6 zone id")

    def owned(self):
        if self._owned is None:
            nets = []
            for text in self.params["owned_prefixes"] or []:
                try:
                    net = strict_network(text)
                except ValueError:
                    self.fail("option owned_prefixes: %r is not a prefix ADDRESS/LENGTH without host bits" % (text,),
                              hint="e.g. 203.0.113.0/24 or 2001:db8::/48; no spaces, no IPv6 zone id")
                if net.prefixlen < WIDEST_OWNED[net.version]:
                    self.fail("option owned_prefixes contains %s, which would let any incident announce a route for "
                              "addresses that are not yours (at most /%d for IPv%d)"
                              % (net, WIDEST_OWNED[net.version], net.version),
                              hint="List only the prefixes your network owns")
                nets.append(net)
            if not nets:
                self.fail("owned_prefixes is empty", hint="List the prefixes you announce, e.g. [203.0.113.0/24]")
            self._owned = nets
        return self._owned

    def is_owned(self, prefix):
        net = ipaddress.ip_network(prefix, strict=False)
        return any(net.version == o.version and net.subnet_of(o) for o in self.owned())

    def marker(self):
        try:
            return large_community(self.params["marker"])
        except ValueError:
            raise InputError(self.name, "option marker must be a large community GLOBAL:DATA1:DATA2, got %r"
                             % self.params["marker"], hint="e.g. %s" % DEFAULT_MARKER)

    def targets(self):
        """The targets as canonical addresses inside owned_prefixes; at most max_routes.

        A target this mechanism cannot take is passed over with a warning, alone: the other
        targets of the workspace keep (or get) their routes."""
        seen = []
        for raw in (self.routes.targets if self.routes is not None else self.params.get("targets")) or []:
            address, refusal = self.host_target(raw)
            if refusal:
                self.warn("target %s: %s; no route for it (the other targets go on)" % (_show(raw), refusal))
            elif address not in seen:
                seen.append(address)
        refusal = route_limit_refusal(len(seen), self.params.get("max_routes"))
        if refusal:
            self.fail(refusal, hint="A storm of targets is usually a bad detector feed; raise max_routes if the attack is real")
        return seen

    def host_target(self, raw):
        """(canonical address, None) or (None, why this mechanism cannot route it)."""
        try:
            net = strict_network(raw)
        except ValueError:
            return None, "not one IP address (written alone: no spaces, no IPv6 zone id)"
        if net.prefixlen != net.max_prefixlen:
            return None, ("a block, not one address: %s routes single attacked addresses (a block is for Magic "
                          "Transit or a firewall)" % self.title)
        address = str(net.network_address)
        if not self.is_owned(address):
            return None, "outside owned_prefixes (%s); only addresses of your own prefixes can be routed" % (
                ", ".join(str(n) for n in self.owned()))
        return address, None

    def attack_for(self, target):
        attacks = (self.routes.attacks if self.routes is not None else self.params.get("target_attacks")) or {}
        attack = attacks.get(target)
        return attack if isinstance(attack, dict) else None

    # -- the contract ------------------------------------------------------------------------------
    def read(self):
        marker = self.marker()
        ours, foreign, stray = [], [], []
        for family in sorted(set(self.families.values())):
            for nlri, attrs, from_peer in self.http.rib(family):
                large = _path_communities(attrs)[1]
                route = self.decode(nlri, attrs)
                if route is None:
                    continue
                mine = marker in large and not from_peer
                if not self.is_owned(route["destination"]):
                    if mine:  # ours and wrong: read as ours, so that converging withdraws it
                        stray.append(route)
                    continue  # someone else's outside owned_prefixes: never read, never touched
                if mine:
                    ours.append(route)
                else:
                    foreign.append(route["key"])
        for route in stray:
            if route["key"] not in self._stray_warned:
                self._stray_warned.add(route["key"])
                self.warn("route %s carries this integration's marker %s but lies OUTSIDE owned_prefixes (%s): it "
                          "is not yours to announce, so it is withdrawn (announced by hand with the marker, or by "
                          "an older version that let an incident target a foreign address)"
                          % (route["key"], marker, ", ".join(str(n) for n in self.owned())))
        return dict(speaker=self.params["speaker"], speaker_address=self.speaker_address,
                    routes=sorted(ours + stray, key=lambda r: r["key"]), foreign=sorted(set(foreign)),
                    stray=sorted(r["key"] for r in stray))

    def is_active(self, state):
        return bool(state and state.get("routes"))

    def snapshot(self, state):
        # Nothing of the router is changed but our own routes: withdrawal removes them all.
        return dict(speaker_address=state["speaker_address"], marker=self.marker())

    def activation(self, state, snapshot):
        routes = []
        for target in self.targets():
            route = self.wanted_route(target)
            if route["key"] in state["foreign"]:
                # Announcing ours would replace theirs in the speaker: leave it, and say so.
                self.warn("%s is already announced without our marker (by someone else); left alone" % route["key"])
                continue
            routes.append(route)
        return dict(routes=sorted(routes, key=lambda r: r["key"]))

    def restoration(self, state, snapshot):
        return self.release(state)

    def release(self, state):
        return dict(routes=[])

    def matches(self, state, wanted):
        return state.get("routes") == wanted["routes"]

    def apply(self, state, wanted):
        current = state["routes"]
        wanted_keys = set(r["key"] for r in wanted["routes"])
        # Announce first, withdraw after, so a changed rule never leaves a gap; an announcement of
        # the same NLRI replaces our previous path in the speaker.
        for route in wanted["routes"]:
            if route not in current:
                self.http.add(self.family(route), self.words(route) + ["large-community", self.marker()])
        for route in current:
            if route["key"] not in wanted_keys:
                self.http.delete(self.family(route), self.nlri_words(route))
        return self.read()

    def family(self, route):
        return self.families[ipaddress.ip_network(route["destination"], strict=False).version]

    # -- the Test button ---------------------------------------------------------------------------
    def test(self):
        findings = Findings()
        summary = self.http.summary()
        findings.append(Finding("speaker", True, "gobgpd at %s answers (AS %s, router id %s)" % (
            self.speaker_address, summary.get("asn"), summary.get("router_id"))))
        peers = self.http.neighbors()
        up = [p.get("conf", {}).get("neighbor_address") for p in peers
              if (p.get("state") or {}).get("session_state") == ESTABLISHED]
        findings.append(Finding("neighbors", bool(up), "%d of %d neighbours established%s" % (
            len(up), len(peers), ": " + ", ".join(up) if up else "; announcements would reach no router"),
            level=None if up else "warning"))
        state = self.read()
        findings.state = state
        findings.append(Finding("routes", True, "%d route(s) of ours announced, %d other route(s) inside "
                                "owned_prefixes left alone" % (len(state["routes"]), len(state["foreign"]))))
        if state["stray"]:
            findings.append(Finding("stray", False, "route(s) with this integration's marker outside owned_prefixes: "
                                    "%s; the next run of this integration (reconcile) withdraws them"
                                    % ", ".join(state["stray"]), level="warning"))
        if self.params.get("targets"):
            refused = [(raw, self.host_target(raw)[1]) for raw in self.params["targets"]]
            refused = [(raw, why) for raw, why in refused if why]
            for raw, why in refused:
                findings.append(Finding("targets", False, "target %s: %s" % (_show(raw), why)))
            if not refused:
                findings.append(Finding("targets", True, "targets inside owned_prefixes: %s"
                                        % ", ".join(self.targets())))
        return findings


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
