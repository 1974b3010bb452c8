# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""BGP FlowSpec (RFC 8955, RFC 8956 for IPv6): one rule per attacked target through a BGP speaker.

A rule matches destination = the target plus ``match`` (protocols, ports, source prefix, packet
length, fragments, TCP flags), optionally filled in from the incident's attack details
(``match_from_incident``), and its action is ``discard`` or ``rate_limit`` (traffic-rate
extended community). Rules are read back from the speaker's RIB (its JSON NLRI components) into
the same canonical form they are built in, so a re-run compares like with like.
"""

from __future__ import annotations

import ipaddress
import math
import struct

from ansible_collections.ddos.scrubbing.plugins.module_utils._bgp import (
    BGP_OPTIONS, BgpProvider, _path_communities, community, sorted_communities, strict_network)

PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "sctp": 132}
ICMP6 = 58
FRAGMENTS = {"dont-fragment": 0x01, "is-fragment": 0x02, "first-fragment": 0x04, "last-fragment": 0x08}
TCP_FLAGS = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20, "ece": 0x40, "cwr": 0x80}
TCP_LETTERS = {"fin": "F", "syn": "S", "rst": "R", "psh": "P", "ack": "A", "urg": "U", "ece": "E", "cwr": "C"}

# NLRI component types (RFC 8955 section 4.2.2) -> our match keys, for the numeric ones.
NUMERIC = {5: "destination_ports", 6: "source_ports", 10: "packet_length"}
CLI_WORD = {"destination_ports": "destination-port", "source_ports": "source-port", "packet_length": "packet-length"}

# What an incident's attack family says about the traffic, when its protocol/ports do not.
# Only components the operator's ``match`` leaves unset are filled in.
ATTACK_FAMILIES = {
    "udp_flood": {"protocols": ["udp"]},
    "tcp_flood": {"protocols": ["tcp"]},
    "syn_flood": {"protocols": ["tcp"], "tcp_flags": ["syn"]},
    "ack_flood": {"protocols": ["tcp"], "tcp_flags": ["ack"]},
    "icmp_flood": {"protocols": ["icmp"]},
    "gre_flood": {"protocols": ["gre"]},
    "dns_flood": {"protocols": ["udp"], "destination_ports": ["53"]},
    "dns_amplification": {"protocols": ["udp"], "source_ports": ["53"]},
    "ntp_amplification": {"protocols": ["udp"], "source_ports": ["123"]},
    "memcached_amplification": {"protocols": ["udp"], "source_ports": ["11211"]},
    "ssdp_amplification": {"protocols": ["udp"], "source_ports": ["1900"]},
    "fragment_flood": {"fragments": ["is-fragment"]},
}
MATCH_KEYS = ("protocols", "destination_ports", "source_ports", "source_prefix", "packet_length", "fragments",
              "tcp_flags")

MATCH_OPTION = dict(
    type="dict",
    options=dict(
        protocols=dict(type="list", elements="str"),
        destination_ports=dict(type="list", elements="str"),
        source_ports=dict(type="list", elements="str"),
        source_prefix=dict(type="str"),
        packet_length=dict(type="list", elements="str"),
        fragments=dict(type="list", elements="str", choices=list(FRAGMENTS)),
        tcp_flags=dict(type="list", elements="str", choices=list(TCP_FLAGS)),
    ),
)


def float32(value):
    """The rate as the speaker stores it (an IEEE float32 in the traffic-rate community)."""
    return struct.unpack("!f", struct.pack("!f", float(value)))[0]


def range_item(text):
    """``53`` / ``1024-65535`` / ``>=1000`` (also <=, >, <) -> the canonical text, else ValueError."""
    text = str(text).strip().replace(" ", "")
    for prefix in (">=", "<=", ">", "<"):
        if text.startswith(prefix):
            return prefix + str(_u16(text[len(prefix):]))
    low, sep, high = text.partition("-")
    if sep:
        low, high = _u16(low), _u16(high)
        if low > high:
            raise ValueError(text)
        return "%d-%d" % (low, high) if low != high else str(low)
    return str(_u16(text))


def _u16(text):
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def _item_sort(text):
    digits = "".join(c if c.isdigit() else " " for c in text).split()
    return (int(digits[0]) if digits else 0, text)


def range_words(item):
    """A canonical item -> gobgp's operator syntax."""
    if item[0] in "<>":
        return item
    low, sep, high = item.partition("-")
    return ">=%s&<=%s" % (low, high) if sep else "==" + item


def decode_numeric(terms):
    """gobgp's JSON numeric terms [{op, value}] -> canonical items (OR of AND-groups)."""
    groups = []
    for term in terms:
        op, value = term.get("op", 0), term.get("value")
        cmp = {0x01: "==", 0x02: ">", 0x03: ">=", 0x04: "<", 0x05: "<=", 0x06: "!="}.get(op & 0x07, "?")
        if op & 0x40 and groups:
            groups[-1].append((cmp, value))
        else:
            groups.append([(cmp, value)])
    items = []
    for group in groups:
        if len(group) == 1 and group[0][0] == "==":
            items.append(str(group[0][1]))
        elif len(group) == 2 and group[0][0] == ">=" and group[1][0] == "<=":
            items.append("%d-%d" % (group[0][1], group[1][1]))
        else:
            items.append("&".join("%s%s" % pair for pair in group))
    return items


def decode_bits(terms, names):
    found = []
    for term in terms:
        bits = term.get("value", 0)
        matched = [name for name, bit in names.items() if bits & bit]
        found.append("+".join(matched) if (term.get("op", 0) & 0x03) == 0 and matched else "?%s" % term)
    return found


class BgpFlowspec(BgpProvider):
    name = "bgp_flowspec"
    title = "BGP FlowSpec"
    families = {4: "ipv4-flowspec", 6: "ipv6-flowspec"}
    options = dict(
        BGP_OPTIONS,
        match=MATCH_OPTION,
        action=dict(type="str", default="discard", choices=["discard", "rate_limit"]),
        rate=dict(type="float"),
        match_from_incident=dict(type="bool", default=False),
        communities=dict(type="list", elements="str", default=[]),
    )
    required_if = [("action", "rate_limit", ("rate",))]
    shapes = dict(BgpProvider.shapes)

    def option_checks(self):
        # the match as each address family of owned_prefixes will build it, and the action
        versions = sorted({v for v in (_family_of(p) for p in self.params.get("owned_prefixes") or []) if v})
        return super().option_checks() + [self.action] + [
            (lambda version=version: self.base_match(version, checking=True)) for version in versions]

    # -- the rule a target must have ----------------------------------------------------------------
    def wanted_route(self, target):
        address = ipaddress.ip_address(target)
        match = self.base_match(address.version)
        if self.params.get("match_from_incident"):
            for key, value in self.from_incident(target, address.version).items():
                match.setdefault(key, value)  # the operator's match wins
        destination = "%s/%d" % (address, address.max_prefixlen)
        return self.route(destination, match, *self.action())

    def route(self, destination, match, action, rate, communities):
        key = " ".join([destination] + ["%s=%s" % (k, ",".join(match[k]) if isinstance(match[k], list) else match[k])
                                        for k in MATCH_KEYS if k in match])
        return dict(key=key, destination=destination, match=match, action=action, rate=rate,
                    communities=communities)

    def action(self):
        rate = self.params.get("rate")
        if self.params["action"] == "discard":
            rate = None
        elif rate is None or not math.isfinite(rate) or rate <= 0:
            self.fail("action rate_limit needs a positive rate (bytes per second), got %r" % (rate,),
                      hint="Set rate, e.g. rate: 125000 for 1 Mbit/s, or use action: discard")
        try:
            communities = sorted_communities(community(c) for c in self.params.get("communities") or [])
        except ValueError as exc:
            self.fail("option communities: %r is not a community" % exc.args[0],
                      hint="Write each as ASN:VALUE (e.g. 64500:1) or no-export / no-advertise")
        return self.params["action"], (float32(rate) if rate is not None else None), communities

    def base_match(self, version, checking=False):
        match = {}
        raw = self.params.get("match") or {}
        for key in MATCH_KEYS:
            value = raw.get(key)
            if value in (None, []):
                continue
            try:
                match[key] = self.canonical(key, value, version)
            except ValueError as exc:
                if key == "source_prefix" and checking and _family_of(value) not in (None, version):
                    self.fail("option match.source_prefix %s is IPv%d, but owned_prefixes has IPv%d prefixes: their "
                              "targets could get no rule" % (value, _family_of(value), version),
                              hint="Use one bgp_flowspec integration per address family")
                self.fail("option match.%s: %r is not valid" % (key, exc.args[0] if exc.args else value),
                          hint=self.match_hint(key))
        return match

    @staticmethod
    def match_hint(key):
        if key == "protocols":
            return "Use names (%s) or IP protocol numbers 0-255" % ", ".join(sorted(PROTOCOLS))
        if key == "source_prefix":
            return "Use a CIDR block without host bits, e.g. 198.51.100.0/24, of the target's address family"
        return "Use numbers 0-65535, ranges like 1024-65535, or >=N, <=N, >N, <N"

    @staticmethod
    def canonical(key, value, version):
        if key == "protocols":
            return [protocol_name(n, version) for n in sorted(set(protocol_number(p, version) for p in value))]
        if key == "source_prefix":
            net = strict_network(str(value))
            if net.version != version:
                raise ValueError(value)
            return str(net)
        if key == "fragments":
            return sorted(set(value), key=FRAGMENTS.get)
        if key == "tcp_flags":
            return sorted(set(value), key=TCP_FLAGS.get)
        return sorted(set(range_item(v) for v in value), key=_item_sort)

    def from_incident(self, target, version):
        """What the incident's attack dict says about the traffic (data, never trusted as valid)."""
        attack = self.attack_for(target)
        if not attack:
            return {}
        found = {}
        family = ATTACK_FAMILIES.get(str(attack.get("family") or "").lower(), {})
        for key, value in family.items():
            found[key] = self.canonical(key, value, version)
        protocol = attack.get("protocol")
        if protocol not in (None, ""):
            try:
                found["protocols"] = self.canonical("protocols", [protocol], version)
            except ValueError:
                self.warn("the incident's attack protocol %r is not a protocol; not used" % (protocol,))
        ports = attack.get("ports") or []
        if ports:
            try:
                found["destination_ports"] = self.canonical("destination_ports", [str(p) for p in ports], version)
            except ValueError:
                self.warn("the incident's attack ports %r are not ports; not used" % (ports,))
        return found

    # -- the speaker's view -------------------------------------------------------------------------
    def decode(self, nlri, attrs):
        destination, match = None, {}
        for component in nlri.get("value") or []:
            kind, value = component.get("type"), component.get("value")
            if kind == 1:
                destination = (value or {}).get("prefix")
            elif kind == 2:
                match["source_prefix"] = (value or {}).get("prefix")
            elif kind == 3:
                match["protocols"] = [protocol_name(t.get("value"), _version(destination)) if (t.get("op", 0) & 0x47) == 1
                                      else "?%s" % t for t in value or []]
            elif kind in NUMERIC:
                match[NUMERIC[kind]] = decode_numeric(value or [])
            elif kind == 9:
                match["tcp_flags"] = decode_bits(value or [], TCP_FLAGS)
            elif kind == 12:
                match["fragments"] = decode_bits(value or [], FRAGMENTS)
            else:
                match["component_%s" % kind] = [str(value)]  # not one we build: never equal to ours
        if not destination:
            return None
        action, rate = "accept", None
        for attr in attrs:
            for ext in attr.get("value") or [] if attr.get("type") == 16 else []:
                if ext.get("subtype") == 6 and "rate" in ext:
                    rate = float32(ext["rate"])
                    action, rate = ("discard", None) if rate == 0 else ("rate_limit", rate)
        normal = _path_communities(attrs)[0]
        return self.route(destination, match, action, rate, normal)

    def words(self, route):
        match = route["match"]
        words = ["match", "destination", route["destination"]]
        if "source_prefix" in match:
            words += ["source", match["source_prefix"]]
        if "protocols" in match:
            version = _version(route["destination"])
            words += ["protocol"] + ["==%d" % protocol_number(p, version) for p in match["protocols"]]
        for key in ("destination_ports", "source_ports", "packet_length"):
            if key in match:
                words += [CLI_WORD[key]] + [range_words(item) for item in match[key]]
        if "fragments" in match:
            words += ["fragment"] + match["fragments"]
        if "tcp_flags" in match:
            words += ["tcp-flags"] + [TCP_LETTERS[flag] for flag in match["tcp_flags"]]
        words += ["then"] + (["discard"] if route["action"] == "discard" else ["rate-limit", repr(route["rate"])])
        if route["communities"]:
            words += ["community", ",".join(route["communities"])]
        return words

    def nlri_words(self, route):
        words = self.words(route)
        return words[:words.index("then")]


def _family_of(text):
    try:
        return strict_network(str(text)).version
    except ValueError:
        return None


def _version(prefix):
    return ipaddress.ip_network(prefix, strict=False).version if prefix else 4


def protocol_number(value, version):
    text = str(value).strip().lower()
    if text == "icmp" and version == 6:
        return ICMP6
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text.isdigit() and int(text) <= 255:
        return int(text)
    raise ValueError(value)


def protocol_name(number, version):
    if number == ICMP6 and version == 6:
        return "icmp"
    for name, value in PROTOCOLS.items():
        if value == number and not (name == "icmp" and version == 6):
            return name
    return str(number)
