# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The shapes of the identifiers the providers act on, checked before any API call.

A provider declares ``shapes = {"option": SHAPE, ...}``; the module glue and the inventory
validation both call ``shape_errors`` after the argument spec has run, so a list turned into
``"['a', 'b']"`` by Ansible's str conversion, an empty ID or a server IP that is not an IP
never becomes a path segment of a request, and an empty credential is never sent.

A shape also knows the one spelling of a value (``canonical_form``): the inventory compares the
options a provider declares as its ``identity`` through it, so ``Example.COM.`` and
``example.com``, or ``2001:DB8:0::1`` and ``2001:db8::1``, are seen as the one object they are.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit


class ShapeError(ValueError):
    """Raised by a shape's test to say precisely what is wrong, after "must be <shape>"."""


class Shape:
    """A named check: ``test(value) -> bool``, what a good value looks like, and ``canonical``:
    value -> the one spelling of what it names (called only on values that passed the test)."""

    def __init__(self, name, test, example, canonical=str):
        self.name = name
        self.test = test
        self.example = example
        self.canonical = canonical

    def ok(self, value):
        return self.problem(value) is None

    def problem(self, value):
        """None when ``value`` has the shape, else what is wrong with it."""
        try:
            if self.test(value):
                return None
        except ShapeError as exc:
            return "must be %s (e.g. %s), got %s: %s" % (self.name, self.example, _show(value), exc)
        except (TypeError, ValueError):
            pass
        return "must be %s (e.g. %s), got %s" % (self.name, self.example, _show(value))

    def canonical_form(self, value):
        try:
            return self.canonical(value)
        except (TypeError, ValueError):  # a malformed value is refused by shape_errors; compare it as written
            return str(value)


def _regex(pattern):
    compiled = re.compile(pattern)
    return lambda value: isinstance(value, str) and compiled.fullmatch(value) is not None


def _ip(value):
    return isinstance(value, str) and ipaddress.ip_address(value) is not None


def _network(value):
    return isinstance(value, str) and ipaddress.ip_network(value, strict=False) is not None


def _positive_int(value):
    return not isinstance(value, bool) and isinstance(value, int) and value > 0


# -- canonical forms: how two spellings of one object are recognised ------------------------------
def _lower(value):
    # UUIDs and hexadecimal IDs: the APIs answer in lower case and match either
    return str(value).lower()


def _canonical_ip(value):
    address = ipaddress.ip_address(str(value).strip())
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:203.0.113.10 is 203.0.113.10
    return str(mapped or address)


def _canonical_network(value):
    return str(ipaddress.ip_network(str(value).strip(), strict=False))


def _canonical_dns(value):
    # DNS names are case-insensitive, and "example.com." is the fully qualified "example.com"
    return str(value).strip().rstrip(".").lower()


def _canonical_int(value):
    return str(int(value))


HEX32 = Shape("a 32-character hexadecimal ID", _regex(r"[0-9a-f]{32}"), "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
              canonical=_lower)
UUID = Shape("a UUID", _regex(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
             "bb75e0b8-1a2d-4c39-9f6e-0e3b6b2d7a11", canonical=_lower)
POSITIVE_INT = Shape("a positive integer", _positive_int, "1645933", canonical=_canonical_int)
IP = Shape("an IP address", _ip, "203.0.113.10", canonical=_canonical_ip)
NETWORK = Shape("an IP address or CIDR block", _network, "203.0.113.0/24", canonical=_canonical_network)
ARN = Shape("an AWS ARN", _regex(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[^\s]+"),
            "arn:aws:ec2:eu-west-1:123456789012:eip-allocation/eipalloc-0123456789abcdef0")
HOSTNAME = Shape("a DNS name", _regex(r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+"
                                      r"[A-Za-z]{2,63}\.?"), "example.com", canonical=_canonical_dns)


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
    """One message per declared identifier (and URL option) whose value has the wrong shape (unset ones
    pass), and per credential or required option set to an empty string."""
    errors = blank_options(provider_cls, params)
    declared = dict((k, v) for k, v in URL_OPTIONS.items() if k in params)
    declared.update(getattr(provider_cls, "shapes", {}))
    for option, shape in declared.items():
        value = params.get(option)
        if value is None:
            continue
        values = value if isinstance(value, list) and _is_list_option(provider_cls, option) else [value]
        for item in values:
            problem = shape.problem(item)
            if problem is not None:
                errors.append("option %s %s" % (option, problem))
                break
    # What depends on several options or on the mechanism (a BGP marker, a FlowSpec match) is the
    # provider's own check; it runs once the shapes hold, so it may rely on them.
    if not errors and hasattr(provider_cls, "option_errors"):
        errors.extend(provider_cls.option_errors(params))
    return errors


def blank_options(provider_cls, params):
    """A message for each credential (``no_log``) or required text option without a shape that is
    set to an empty or blank string. The argument spec takes "" as a value, and a provider called
    with an empty login answers 401 (Hetzner Robot counts it toward blocking the caller's address)."""
    shapes = getattr(provider_cls, "shapes", {})
    # Options whose empty value means "none" (an AWS session token: long-term keys have none, and
    # AWX's credential type injects it empty for them).
    may_be_empty = getattr(provider_cls, "may_be_empty", ())
    errors = []
    for option, spec in provider_cls.options.items():
        checked = spec.get("no_log") or (spec.get("required") and option not in shapes)  # a shape says more
        if spec.get("type", "str") != "str" or not checked or option in may_be_empty:
            continue
        value = params.get(option)
        if not isinstance(value, str) or value.strip():
            continue
        env = (spec.get("fallback") or (None, []))[1]
        errors.append("option %s is empty: set it%s. An empty %s is sent to the provider as it is, where it fails "
                      "as a login would (some providers block an address after a few)" % (
                          option, ", or leave it out to read %s from the environment" % " or ".join(env) if env else "",
                          "credential" if spec.get("no_log") else "value"))
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


# Names that always mean this machine (RFC 6761 reserves .localhost; Debian's /etc/hosts the others).
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def _canonical_host_port(value):
    """One key per reachable endpoint. Every loopback spelling (localhost, 127.0.0.1, 127.0.1.1,
    ::1, 0.0.0.0) is one key: a speaker whose API listens on the wildcard (gobgpd's default
    --api-hosts :50051) answers on all of them, so they may be one speaker, and two integrations
    must not be able to hide that from the checks by spelling it differently. Other DNS names
    are compared as written (case and trailing dot aside): resolving them would make validation
    depend on DNS during an attack."""
    host, _sep, port = str(value).strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    port = int(port)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = _canonical_dns(host)
        if name in LOOPBACK_NAMES or name.endswith(".localhost"):
            return "loopback:%d" % port
        return "%s:%d" % (name, port)
    address = getattr(address, "ipv4_mapped", None) or address
    if address.is_loopback or address.is_unspecified:
        return "loopback:%d" % port
    return ("[%s]:%d" if address.version == 6 else "%s:%d") % (address, port)


HOST_PORT = Shape("HOST:PORT (an IP address or DNS name and a port)",
                  lambda value: isinstance(value, str) and _host_port(value), "127.0.0.1:50051",
                  canonical=_canonical_host_port)
