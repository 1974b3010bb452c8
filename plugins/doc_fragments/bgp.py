# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The speaker and the per-target options shared by bgp_blackhole, bgp_flowspec and their Test modules.
    DOCUMENTATION = r"""
options:
  targets:
    description:
      - The attacked addresses that must have a route now (IPv4 or IPv6 addresses, not prefixes).
      - In the C(ddos.scrubbing.incident) playbook the orchestrator fills it with the targets of the
        workspace's active incidents that fall inside O(owned_prefixes). Set it yourself for standalone use.
      - With C(state=active), exactly these targets have a route of ours afterwards; routes of ours for
        other targets are withdrawn. An empty list withdraws all of ours.
      - A target this mechanism cannot take (a block rather than one address, an address written with
        spaces or an IPv6 zone id, an address outside O(owned_prefixes)) is passed over alone with a
        warning naming it; the other targets get their routes.
    type: list
    elements: str
    default: []
  owned_prefixes:
    description:
      - The prefixes of your own network, each ADDRESS/LENGTH without host bits, at most C(/8) wide for
        IPv4 and C(/16) for IPv6 (so never C(0.0.0.0/0) or C(::/0)). A target outside them gets no route,
        so a bad incident can never blackhole or filter someone else's address.
      - A route carrying O(marker) outside these prefixes is ours and wrong; it is withdrawn with a warning.
    type: list
    elements: str
    required: true
  max_routes:
    description:
      - The most routes this integration may announce, at least 1. More targets than this are refused
        (nothing is announced), which stops a storm of bogus targets from a broken detector feed.
    type: int
    default: 64
  speaker:
    description:
      - The BGP speaker that announces the routes to your border routers. V(gobgp) is driven through
        its C(gobgp) CLI (installed with the Debian package C(gobgpd)) on the controller.
    type: str
    choices: [gobgp]
    default: gobgp
  speaker_address:
    description:
      - HOST:PORT of the speaker's API (gobgpd's gRPC API, its C(--api-hosts); not its BGP port). The port
        is required; an IPv6 host is written in brackets, C([2001:db8::1]:50051).
    type: str
    default: 127.0.0.1:50051
  marker:
    description:
      - The BGP large community every route of ours carries. Only routes carrying it are ever
        withdrawn, so routes someone else announced through the same speaker are never touched.
      - The default uses a private-use ASN (RFC 6996). Two integrations of the same mechanism on one
        speaker must each have their own marker (the inventory is refused otherwise), since the marker is what
        tells one integration's routes from the other's.
    type: str
    default: "4200000000:666:0"
  target_attacks:
    description:
      - The incident's attack details per target (a dict from each target to its attack, with C(family), C(protocol), C(ports), C(sources)),
        filled by the orchestrator. Only M(ddos.scrubbing.bgp_flowspec) reads it, when its
        C(match_from_incident) is set.
    type: dict
    default: {}
"""

    # bgp_blackhole and bgp_blackhole_info.
    BLACKHOLE = r"""
options:
  next_hop:
    description:
      - The IPv4 next hop of the blackhole routes, an address your routers route to null
        (for example C(route 192.0.2.1/32 blackhole) in BIRD, C(ip route 192.0.2.1 255.255.255.255 Null0) on IOS).
    type: str
    default: 192.0.2.1
  next_hop_ipv6:
    description: The IPv6 next hop of the blackhole routes (the discard prefix V(100::/64), RFC 6666).
    type: str
    default: "100::1"
  communities:
    description:
      - The communities of every blackhole route, as V(ASN:VALUE) or V(blackhole), V(no-export), V(no-advertise), V(no-peer).
      - Setting it replaces the default; keep V(65535:666) and V(no-export) and add your upstream's own
        blackhole community (for example V(64500:9999)) if you signal blackholes to it.
    type: list
    elements: str
    default: ["65535:666", "65535:65281"]
"""

    # bgp_flowspec and bgp_flowspec_info.
    FLOWSPEC = r"""
options:
  match:
    description: What the rule matches besides the destination. Unset parts match anything.
    type: dict
    suboptions:
      protocols:
        description: IP protocols (IPv6 next header), by name (V(udp), V(tcp), V(icmp), V(gre), V(esp), V(sctp)) or number.
        type: list
        elements: str
      destination_ports:
        description: Destination ports; each a number, a range V(1024-65535), or V(>=N), V(<=N), V(>N), V(<N).
        type: list
        elements: str
      source_ports:
        description: Source ports, written like O(match.destination_ports) (for example V(53) for DNS reflection).
        type: list
        elements: str
      source_prefix:
        description: The source prefix, of the target's address family.
        type: str
      packet_length:
        description: Packet lengths, written like O(match.destination_ports).
        type: list
        elements: str
      fragments:
        description: Fragment flags, any of which matches.
        type: list
        elements: str
        choices: [dont-fragment, is-fragment, first-fragment, last-fragment]
      tcp_flags:
        description: TCP flags, any of which set matches.
        type: list
        elements: str
        choices: [fin, syn, rst, psh, ack, urg, ece, cwr]
  action:
    description: V(discard) drops the matching traffic; V(rate_limit) limits it to O(rate).
    type: str
    choices: [discard, rate_limit]
    default: discard
  rate:
    description: Bytes per second the matching traffic is limited to, with O(action=rate_limit).
    type: float
  match_from_incident:
    description: Fill in what O(match) leaves unset from the incident's attack details (O(target_attacks)).
    type: bool
    default: false
  communities:
    description: Extra communities on every rule, as V(ASN:VALUE) or V(no-export), V(no-advertise), V(no-peer).
    type: list
    elements: str
    default: []
"""
