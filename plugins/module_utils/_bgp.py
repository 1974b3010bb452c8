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
RIB to exactly those routes of ours, ``state: inactive`` to none.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding, Findings, Provider
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import HOST_PORT, IP, NETWORK

DEFAULT_MARKER = "4200000000:666:0"
WELL_KNOWN = {"blackhole": "65535:666", "no-export": "65535:65281", "no-advertise": "65535:65282",
              "no-peer": "65535:65284"}
ESTABLISHED = 6  # gobgp's session_state for an established session

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


def large_community(text):
    parts = str(text).strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() and int(p) < 2 ** 32 for p in parts):
        raise ValueError(text)
    return ":".join(str(int(p)) for p in parts)


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
        return ProviderError(self.provider, "the BGP speaker (gobgpd) at %s does not answer (%s)" % (self.address, detail),
                             hint="Check that gobgpd runs with --api-hosts %s and that speaker_address names its "
                                  "gRPC API, not its BGP port" % self.address)

    def rib(self, family):
        """Every path of ``family`` in the global RIB: [(nlri, attrs, learned_from_a_peer)]."""
        text = self.run(["global", "rib", "-a", family, "-j"]).strip()
        table = json.loads(text) if text else {}
        return [(path.get("nlri") or {}, path.get("attrs") or [], bool(path.get("neighbor-ip") or path.get("source-id")))
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
    shapes = {"targets": IP, "owned_prefixes": NETWORK, "speaker_address": HOST_PORT}
    identity = ("speaker_address", "owned_prefixes")
    wait_sleep = 0.2

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self._owned = None

    @property
    def speaker_address(self):
        return self.params["speaker_address"]

    def connect(self):
        return GoBgpClient(self.name, self.title, self.speaker_address, self.params.get("timeout") or 30)

    # -- inputs, checked before any call ----------------------------------------------------------
    def owned(self):
        if self._owned is None:
            nets = [ipaddress.ip_network(p, strict=False) for p in self.params["owned_prefixes"]]
            if not nets:
                self.fail("owned_prefixes is empty", hint="List the prefixes you announce, e.g. [203.0.113.0/24]")
            for net in nets:
                if net.prefixlen == 0:
                    self.fail("owned_prefixes contains %s, which would let any incident announce a route for any "
                              "address" % net, hint="List only the prefixes your network owns")
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
        """The targets as canonical addresses, each inside owned_prefixes; at most max_routes."""
        seen = []
        for raw in self.params.get("targets") or []:
            address = str(ipaddress.ip_address(raw))
            if not self.is_owned(address):
                self.fail("target %s is outside owned_prefixes (%s); nothing was announced"
                          % (address, ", ".join(str(n) for n in self.owned())),
                          hint="Only addresses of your own prefixes can be mitigated here; add the prefix to "
                               "owned_prefixes if it is yours")
            if address not in seen:
                seen.append(address)
        limit = self.params.get("max_routes")
        if limit is not None and len(seen) > limit:
            self.fail("%d targets need %d routes, more than max_routes=%d; nothing was announced"
                      % (len(seen), len(seen), limit),
                      hint="A storm of targets is usually a bad detector feed; raise max_routes if the attack is real")
        return seen

    def attack_for(self, target):
        attacks = self.params.get("target_attacks") or {}
        attack = attacks.get(target)
        return attack if isinstance(attack, dict) else None

    # -- the contract ------------------------------------------------------------------------------
    def read(self):
        marker = self.marker()
        ours, foreign = [], []
        for family in sorted(set(self.families.values())):
            for nlri, attrs, learned in self.http.rib(family):
                large = _path_communities(attrs)[1]
                route = self.decode(nlri, attrs)
                if route is None or not self.is_owned(route["destination"]):
                    continue  # outside owned_prefixes: not ours to read, never ours to touch
                if marker in large and not learned:
                    ours.append(route)
                else:
                    foreign.append(route["key"])
        return dict(speaker=self.params["speaker"], speaker_address=self.speaker_address,
                    routes=sorted(ours, key=lambda r: r["key"]), foreign=sorted(set(foreign)))

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
        if self.params.get("targets"):
            try:
                findings.append(Finding("targets", True, "targets inside owned_prefixes: %s" % ", ".join(self.targets())))
            except InputError as exc:
                findings.append(Finding("targets", False, exc.message))
        return findings
