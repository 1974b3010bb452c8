# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The incident event as the playbooks accept it: strict shapes, checked before anything is recorded.

Events come from the network (a webhook, an AWX launch): every field has a small, fixed shape,
and whatever does not fit is refused with a message naming the field — never recorded, never a
crash, and never silently the default workspace.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import re

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError

# ids, workspaces, sources: what detectors use (FastNetMon ids, Flowtriq numbers, UUIDs, names)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
# updated: a new figure for an open incident (Flowtriq attack_update); it can only raise its size
STATUSES = ("started", "updated", "resolved")
# received: when the rulebook's listener took the event (it sets it; the ledger judges staleness by it)
# redelivered: the listener sent it again because the run it fed ended without saying it had recorded it
# (it sets it; a detector's value is dropped): already in the ledger, it is a note, not a replay
KNOWN_FIELDS = ("id", "status", "workspace", "target", "source", "timestamp", "delivery", "attack", "details",
                "received", "redelivered")
ATTACK_FIELDS = ("family", "protocol", "ports", "sources", "bps", "pps")
# the attack's size (bits and packets per second), compared with scrubbing_min_bps / scrubbing_min_pps
SIZE_FIELDS = ("bps", "pps")
EXAMPLE = "{id: A1, status: started, workspace: default, target: 203.0.113.7}"
MAX_DETAILS = 8192  # characters of free-form details kept in the ledger
# A target is written with digits, hex letters, dots and colons and at most one /LEN: no spaces
# (a speaker CLI re-splits on them), no IPv6 zone id (%eth0, which ipaddress accepts), no names.
TARGET_TEXT = re.compile(r"[0-9A-Fa-f.:]{2,45}(/[0-9]{1,3})?")
# The widest block an incident may name: wider is a detector or an operator gone wrong (0.0.0.0/0
# would make every integration with scrubbing_targets act), never an attack on servers we run.
WIDEST_PREFIX = {4: 8, 6: 32}


def _refuse(message):
    return InputError("incident", "refused: " + message, hint="Nothing was recorded or called. The event "
                      "shape is %s (docs/detectors.md)" % EXAMPLE)


def _name(incident, field, required=True, default=None):
    value = incident.get(field)
    if value is None or value == "":
        if required and default is None:
            raise _refuse("incident.%s is missing" % field)
        if value == "" and field == "workspace":
            raise _refuse("incident.workspace is empty; leave it out for the default workspace")
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _refuse("incident.%s must be a string, got %s" % (field, type(value).__name__))
    value = str(value)
    if not NAME_PATTERN.fullmatch(value):
        raise _refuse("incident.%s %s is not a name of letters, digits and _.:@- (at most 128, starting with a "
                      "letter or digit)" % (field, _show(value)))
    return value


def parse_timestamp(value):
    """Epoch seconds from an ISO-8601 string or a number; None when absent."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise _refuse("incident.timestamp must be ISO-8601 or epoch seconds, got %r" % (value,))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _refuse("incident.timestamp %s is not ISO-8601 (2026-12-01T21:00:00Z) nor epoch seconds"
                          % _show(text))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=datetime.timezone.utc)
        return stamp.timestamp()
    raise _refuse("incident.timestamp must be ISO-8601 or epoch seconds, got %s" % type(value).__name__)


def _attack(value):
    if value in (None, {}):
        return None
    if not isinstance(value, dict):
        raise _refuse("incident.attack must be a dict of %s" % ", ".join(ATTACK_FIELDS))
    unknown = sorted(set(value) - set(ATTACK_FIELDS))
    if unknown:
        raise _refuse("incident.attack has unknown field(s) %s (known: %s)" % (
            ", ".join(unknown), ", ".join(ATTACK_FIELDS)))
    attack = {}
    for field in ("family", "protocol"):
        if value.get(field) not in (None, ""):
            attack[field] = _name(value, field).lower()
    ports = value.get("ports") or []
    if not isinstance(ports, list) or not all(
            not isinstance(p, bool) and str(p).isdigit() and 0 < int(p) < 65536 for p in ports):
        raise _refuse("incident.attack.ports must be a list of port numbers (1-65535)")
    if ports:
        attack["ports"] = sorted({int(p) for p in ports})[:32]
    sources = value.get("sources") or []
    if not isinstance(sources, list):
        raise _refuse("incident.attack.sources must be a list of IP addresses or CIDRs")
    try:
        nets = sorted({str(ipaddress.ip_network(str(s), strict=False)) for s in sources})
    except ValueError:
        raise _refuse("incident.attack.sources must be a list of IP addresses or CIDRs")
    if nets:
        attack["sources"] = nets[:64]
    for field in SIZE_FIELDS:
        size = value.get(field)
        if size in (None, ""):
            continue
        if isinstance(size, str):
            try:
                size = float(size)
            except ValueError:
                size = None
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 <= size < 1e18:
            raise _refuse("incident.attack.%s must be a number of %s per second (0 or more), got %s" % (
                field, "bits" if field == "bps" else "packets", _show(value.get(field))))
        attack[field] = int(size)
    return attack or None


def canonical_target(value):
    """The one spelling of an incident's target: an address (a /32 or /128 is its address) or a
    network without host bits, no wider than WIDEST_PREFIX; None when absent. Refused otherwise."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _refuse("incident.target must be a string (an IP address or CIDR block), got %s" % type(value).__name__)
    if not TARGET_TEXT.fullmatch(value):
        raise _refuse("incident.target %s is not one IP address or CIDR block: write only the address (203.0.113.7, "
                      "2001:db8::7) or block (203.0.113.0/28), without spaces or an IPv6 zone id (%%...)"
                      % _show(value))
    try:
        net = ipaddress.ip_network(value)
    except ValueError:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _refuse("incident.target %s is not an IP address or CIDR block" % _show(value))
        raise _refuse("incident.target %s has host bits set: write %s for the address or %s for the block"
                      % (_show(value), value.partition("/")[0], loose))
    mapped = getattr(net.network_address, "ipv4_mapped", None)
    if mapped is not None and net.prefixlen == 128:
        net = ipaddress.ip_network(mapped)  # ::ffff:203.0.113.7 is 203.0.113.7, written once
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    if net.prefixlen < WIDEST_PREFIX[net.version]:
        raise _refuse("incident.target %s is wider than /%d: an attack on servers you run names an address or a "
                      "block of at most /%d (IPv%d)" % (net, WIDEST_PREFIX[net.version],
                                                        WIDEST_PREFIX[net.version], net.version))
    return str(net)


def validate_incident(incident):
    """Check the ``incident`` extra var; return it normalised, or raise InputError."""
    if not isinstance(incident, dict):
        raise _refuse("the incident variable must be a dict like %s" % EXAMPLE)
    unknown = sorted(str(key) for key in incident if key not in KNOWN_FIELDS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], KNOWN_FIELDS, n=1, cutoff=0.75)
        raise _refuse("incident.%s is not an incident field%s. The fields are %s; whatever else a detector "
                      "sends belongs in incident.details" % (
                          _printable(unknown[0]), " (did you mean %s?)" % close[0] if close else "",
                          ", ".join(KNOWN_FIELDS)))
    status = incident.get("status")
    if status not in STATUSES:
        raise _refuse("incident.status must be 'started', 'updated' or 'resolved', got %s" % _show(status))
    target = canonical_target(incident.get("target"))
    details = incident.get("details") or {}
    if not isinstance(details, dict):
        raise _refuse("incident.details must be a dict")
    if len(repr(details)) > MAX_DETAILS:
        raise _refuse("incident.details is larger than %d characters" % MAX_DETAILS)
    delivery = incident.get("delivery")
    if delivery not in (None, "") and (not isinstance(delivery, str) or len(delivery) > 256):
        raise _refuse("incident.delivery must be a string of at most 256 characters")
    if incident.get("redelivered") not in (None, True, False):
        raise _refuse("incident.redelivered is true or false (the rulebook's listener sets it)")
    return {
        "id": _name(incident, "id"),
        "status": status,
        "workspace": _name(incident, "workspace", default="default"),
        "target": target,
        "source": _name(incident, "source", required=False, default=None),
        "timestamp": parse_timestamp(incident.get("timestamp")),
        "received": parse_timestamp(incident.get("received")),
        "delivery": delivery or None,
        "redelivered": bool(incident.get("redelivered")),
        "attack": _attack(incident.get("attack")),
        "details": details,
    }


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _printable(key):
    # an unknown key is shown, so it is shown harmlessly (no template, no terminal control, short)
    text = "".join(c if c.isprintable() and c not in "{}%" else "?" for c in key)
    return text if len(text) <= 40 else text[:37] + "..."
