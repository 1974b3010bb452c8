# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The shapes of the identifiers the providers act on, checked before any API call.

A provider declares ``shapes = {"option": SHAPE, ...}``; the module glue and the inventory
validation both call ``shape_errors`` after the argument spec has run, so a list turned into
``"['a', 'b']"`` by Ansible's str conversion, an empty ID or a server IP that is not an IP
never becomes a path segment of a request.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit


class Shape:
    """A named check: ``test(value) -> bool`` and what a good value looks like."""

    def __init__(self, name, test, example):
        self.name = name
        self.test = test
        self.example = example

    def ok(self, value):
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False


def _regex(pattern):
    compiled = re.compile(pattern)
    return lambda value: isinstance(value, str) and compiled.fullmatch(value) is not None


def _ip(value):
    return isinstance(value, str) and ipaddress.ip_address(value) is not None


def _network(value):
    return isinstance(value, str) and ipaddress.ip_network(value, strict=False) is not None


def _positive_int(value):
    return not isinstance(value, bool) and isinstance(value, int) and value > 0


HEX32 = Shape("a 32-character hexadecimal ID", _regex(r"[0-9a-f]{32}"), "0a1b2c3d4e5f60718293a4b5c6d7e8f9")
UUID = Shape("a UUID", _regex(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
             "bb75e0b8-1a2d-4c39-9f6e-0e3b6b2d7a11")
POSITIVE_INT = Shape("a positive integer", _positive_int, "1645933")
IP = Shape("an IP address", _ip, "203.0.113.10")
NETWORK = Shape("an IP address or CIDR block", _network, "203.0.113.0/24")
ARN = Shape("an AWS ARN", _regex(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[^\s]+"),
            "arn:aws:ec2:eu-west-1:123456789012:eip-allocation/eipalloc-0123456789abcdef0")
HOSTNAME = Shape("a DNS name", _regex(r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+"
                                      r"[A-Za-z]{2,63}\.?"), "example.com")


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _api_url(value):
    """https:// anywhere; plain http:// only to this machine (the sandbox): anything else would
    carry the credentials in clear text across a network."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and _loopback(host))


API_URL = Shape("an https:// URL (plain http:// only for a loopback host: 127.0.0.0/8, ::1, localhost); use https",
                _api_url, "https://api.example.com")
# Options of every provider (or of the few that have them) whose value is where the credentials go.
URL_OPTIONS = {"api_url": API_URL, "endpoint_url": API_URL}


def shape_errors(provider_cls, params):
    """One message per declared identifier whose value has the wrong shape (unset ones pass)."""
    errors = []
    declared = dict((k, v) for k, v in URL_OPTIONS.items() if k in params)
    declared.update(getattr(provider_cls, "shapes", {}))
    for option, shape in declared.items():
        value = params.get(option)
        if value is None:
            continue
        values = value if isinstance(value, list) and _is_list_option(provider_cls, option) else [value]
        for item in values:
            if not shape.ok(item):
                errors.append("option %s must be %s (e.g. %s), got %s" % (
                    option, shape.name, shape.example, _show(item)))
                break
    return errors


def _is_list_option(provider_cls, option):
    return (provider_cls.options.get(option) or {}).get("type") == "list"


def _show(value):
    if isinstance(value, str) and "@" in value and "://" in value:  # never echo a user:password@ of a URL
        scheme, _sep, rest = value.partition("://")
        authority, slash, path = rest.partition("/")
        value = "%s://%s%s%s" % (scheme, "***@" + authority.rpartition("@")[2] if "@" in authority else authority,
                                 slash, path)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _host_port(value):
    # host:port or [v6]:port, as gRPC clients take it (gobgp's API address, issue 13)
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return False
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return IP.ok(host) or HOSTNAME.ok(host) or host == "localhost"


HOST_PORT = Shape("HOST:PORT (an IP address or DNS name and a port)",
                  lambda value: isinstance(value, str) and _host_port(value), "127.0.0.1:50051")
