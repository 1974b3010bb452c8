# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Remotely triggered blackhole (RTBH): a host route per attacked target through a BGP speaker.

Each target inside ``owned_prefixes`` gets ``/32`` (or ``/128``) with next hop ``next_hop``
(``next_hop_ipv6``), the discard address the border routers route to null, and the BLACKHOLE
community 65535:666 (RFC 7999) plus NO_EXPORT by default.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.ddos.scrubbing.plugins.module_utils._bgp import (
    BGP_OPTIONS, BgpProvider, _path_communities, community, sorted_communities, strict_address)
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import IP

DEFAULT_COMMUNITIES = ["65535:666", "65535:65281"]  # BLACKHOLE (RFC 7999), NO_EXPORT


class BgpBlackhole(BgpProvider):
    name = "bgp_blackhole"
    title = "BGP blackhole (RTBH)"
    families = {4: "ipv4", 6: "ipv6"}
    options = dict(
        BGP_OPTIONS,
        next_hop=dict(type="str", default="192.0.2.1"),
        next_hop_ipv6=dict(type="str", default="100::1"),
        communities=dict(type="list", elements="str", default=list(DEFAULT_COMMUNITIES)),
    )
    shapes = dict(BgpProvider.shapes, next_hop=IP, next_hop_ipv6=IP)

    def option_checks(self):
        return super().option_checks() + [self.communities, lambda: self.next_hop(4), lambda: self.next_hop(6)]

    def communities(self):
        try:
            return sorted_communities(community(c) for c in self.params["communities"])
        except ValueError as exc:
            self.fail("option communities: %r is not a community" % exc.args[0],
                      hint="Write each as ASN:VALUE (e.g. 65535:666) or no-export / no-advertise / blackhole")

    def next_hop(self, version):
        option = "next_hop" if version == 4 else "next_hop_ipv6"
        try:
            address = strict_address(self.params[option])
        except ValueError:
            self.fail("option %s %r is not one IP address" % (option, self.params[option]),
                      hint="Write the address alone, without spaces or an IPv6 zone id")
        if address.version != version:
            self.fail("option %s must be an IPv%d address, got %s" % (option, version, address),
                      hint="next_hop is the IPv4 discard next hop, next_hop_ipv6 the IPv6 one (e.g. 100::1)")
        return str(address)

    def wanted_route(self, target):
        address = ipaddress.ip_address(target)
        prefix = "%s/%d" % (address, address.max_prefixlen)
        return dict(key=prefix, destination=prefix, next_hop=self.next_hop(address.version),
                    communities=self.communities())

    def decode(self, nlri, attrs):
        prefix = nlri.get("prefix")
        if not prefix:
            return None
        next_hop = None
        for attr in attrs:
            if attr.get("type") in (3, 14) and attr.get("nexthop"):
                next_hop = attr["nexthop"]
        normal = _path_communities(attrs)[0]
        return dict(key=prefix, destination=prefix, next_hop=next_hop, communities=normal)

    def words(self, route):
        words = [route["destination"], "nexthop", route["next_hop"]]
        if route["communities"]:
            words += ["community", ",".join(route["communities"])]
        return words

    def nlri_words(self, route):
        return [route["destination"]]
