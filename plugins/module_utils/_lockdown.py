# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Cloud-firewall lockdown with exact restore: the one planner the three providers share.

During an attack the firewall's inbound rules are replaced by the ``allow`` list (default:
TCP 22 from anywhere, so SSH is never locked out); afterwards the rules that were there are
put back exactly. The planner works on each provider's own rule shape, through four small
hooks a provider declares:

    canonical(rule) -> dict     the rule as it must be sent back (normalised: "0" ports, ...)
    lockdown_rules(allow)       the provider's inbound rules for the neutral allow list
    allow_all_rules()           the explicit ``on_withdraw: allow_all`` rule set
    apply(state, wanted)        the API calls that make the firewall match ``wanted``

and ``fetch()`` (one read of the firewall). Everything else — snapshot, restore, idempotency,
refusing to snapshot a firewall that is already locked down, the allow-list checks — is here.
"""

from __future__ import annotations

import copy
import ipaddress
import re

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding, Findings, Provider
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import Shape, ShapeError

ANYWHERE = ["0.0.0.0/0", "::/0"]
DEFAULT_ALLOW = [{"protocol": "tcp", "ports": "22", "sources": ANYWHERE}]
PORTS = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
PORTLESS = ("icmp",)

# The options the three lockdown modules share (documented in the ddos.scrubbing.lockdown fragment).
LOCKDOWN_OPTIONS = dict(
    allow=dict(type="list", elements="dict", options=dict(
        protocol=dict(type="str", default="tcp", choices=["tcp", "udp", "icmp"]),
        ports=dict(type="str"),
        sources=dict(type="list", elements="str", default=list(ANYWHERE)),
    )),
    on_withdraw=dict(type="str", default="restore", choices=["restore", "allow_all"]),
)


def parse_allow(allow):
    """Validate the neutral allow list; return it as ``[{protocol, ports: (lo, hi)|None, sources: [net]}]``."""
    entries = []
    for index, item in enumerate(allow if allow is not None else DEFAULT_ALLOW):
        try:
            entries.append(_parse_entry(item))
        except ValueError as exc:
            raise ValueError("allow[%d]: %s" % (index, exc))
    if not entries:
        raise ValueError("allow is empty: the lockdown would block everything, SSH included; keep at least "
                         "the management access (the default is TCP 22 from anywhere)")
    return entries


def _parse_entry(item):
    if not isinstance(item, dict):
        raise ValueError("must be a dict {protocol, ports, sources}, got %s" % type(item).__name__)
    protocol = (item.get("protocol") or "tcp").lower()
    ports = item.get("ports")
    if protocol in PORTLESS:
        if ports not in (None, ""):
            raise ValueError("%s has no ports; remove ports" % protocol)
        span = None
    elif ports is None or ports == "all":
        span = None
    elif not str(ports).strip():
        # An empty value is never read as "everything" (all ports open during an attack)
        raise ValueError("ports is empty; write a port (22) or a range (8000-9000), or leave ports out for all ports")
    else:
        match = PORTS.match(str(ports).strip())
        lo, hi = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
        if not match or not 1 <= lo <= hi <= 65535:
            raise ValueError("ports %r must be a port (22) or a range (8000-9000) within 1-65535" % (ports,))
        span = (lo, hi)
    sources = item.get("sources")
    if sources is None:  # left out: the documented default, from anywhere
        sources = ANYWHERE
    elif not sources:
        # An empty list reads as "nobody" to a reader and was taken as "anywhere": say it explicitly
        raise ValueError("sources is empty; to allow from anywhere write sources: ['0.0.0.0/0', '::/0'] (or leave "
                         "sources out), otherwise list the addresses or CIDRs")
    elif isinstance(sources, str):
        raise ValueError("sources must be a list of addresses or CIDRs, got the string %r" % (sources,))
    nets = []
    for source in sources:
        try:
            nets.append(ipaddress.ip_network(str(source), strict=False))
        except ValueError:
            raise ValueError("source %r is not an IP address or CIDR" % (source,))
    return {"protocol": protocol, "ports": span, "sources": nets}


def _allow_entry_ok(entry):
    try:
        _parse_entry(entry)
    except ValueError as exc:  # the precise reason goes into the option's message
        raise ShapeError(str(exc))
    return True


# The shape of one ``allow`` element, checked element by element before any call (the
# module glue and the inventory validation run it), so a bad source never reaches a request.
ALLOW_ENTRY = Shape("{protocol: tcp|udp|icmp, ports: '22' or '8000-9000' (none for icmp), "
                    "sources: [IP or CIDR, ...]}", _allow_entry_ok,
                    "{protocol: tcp, ports: '22', sources: ['198.51.100.0/24']}")


def port_text(span, separator="-"):
    """(22, 22) -> "22"; (8000, 9000) -> "8000-9000" (Vultr wants ":")."""
    lo, hi = span
    return str(lo) if lo == hi else "%d%s%d" % (lo, separator, hi)


class LockdownProvider(Provider):
    """Base of the lockdown providers. State shape: ``{"inbound": [canonical rules], ...}``
    plus whatever the provider must keep (policies, status, name, attachments)."""

    wait_sleep = 2.0
    shapes = {"allow": ALLOW_ENTRY}
    kept_fields = ()           # state fields the snapshot keeps besides inbound (e.g. policies)
    lockdown_fields = {}       # fields lockdown sets besides inbound (e.g. inbound_policy: DROP)

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        try:
            self.allow = parse_allow(params.get("allow"))
        except ValueError as exc:
            self.allow = None
            self._bad_allow = str(exc)
        else:
            self._bad_allow = None

    # -- provider hooks ---------------------------------------------------------------------------
    def fetch(self):
        raise NotImplementedError

    def canonical(self, rule):
        raise NotImplementedError

    def lockdown_rules(self, allow):
        raise NotImplementedError

    def allow_all_rules(self):
        raise NotImplementedError

    def envelope(self, body, key, path):
        """``body[key]`` (``body`` itself when key is None) of a read, or a clear error when the
        answer lacks the object asked for."""
        value = body if key is None else body.get(key) if isinstance(body, dict) else None
        if not isinstance(value, dict):
            raise ProviderError(self.name, "GET %s answered without the %s object (got %s)" % (
                path, key or "firewall", type(value).__name__ if value is not None else "nothing"),
                method="GET", path=path,
                hint="The API answered an unexpected shape; run again, and report it if it persists")
        return value

    # -- the contract -----------------------------------------------------------------------------
    def read(self):
        if self._bad_allow:  # checked before the first call: a bad allow list causes no request
            self.fail(self._bad_allow, hint="Each allow entry is {protocol: tcp|udp|icmp, ports: '22' or "
                                            "'8000-9000', sources: [CIDR, ...]}")
        state = self.fetch()
        state["inbound"] = [self.canonical(r) for r in state["inbound"]]
        return state

    def locked_down(self, state):
        return self.same_rules(state["inbound"], self._lockdown_inbound()) and all(
            state.get(k) == v for k, v in self.lockdown_fields.items())

    def is_active(self, state):
        return bool(state) and self.locked_down(state)

    def snapshot(self, state):
        if self.locked_down(state):
            # Snapshotting the lockdown itself would make "restore" keep the lockdown forever.
            self.warn("the firewall is already locked down and no snapshot was given: there is nothing to "
                      "restore from; pass the snapshot of the original activation (the playbooks keep it)")
            return None
        snap = {"inbound": copy.deepcopy(state["inbound"])}
        snap.update({k: copy.deepcopy(state.get(k)) for k in self.kept_fields})
        return snap

    def activation(self, state, snapshot):
        wanted = {"inbound": self._lockdown_inbound()}
        problems = self.limit_problems(state, wanted["inbound"])
        if problems:  # refused while planning: the provider would refuse the write half-way
            raise ProviderError(self.name, "; ".join(problems), hint="The Test button reports the same limits")
        wanted.update(self.lockdown_fields)
        return wanted

    def limit_problems(self, state, inbound):
        """The provider's documented limits the lockdown ``inbound`` rules would break, as
        messages (shared by activation and the Test, so a Test that passes means the
        activation will not hit them)."""
        return []

    def restoration(self, state, snapshot):
        if not isinstance(snapshot.get("inbound"), list):
            raise ProviderError(self.name, "the snapshot has no inbound rules to restore",
                                hint="Pass the snapshot returned by the activation")
        wanted = {"inbound": [self.canonical(r) for r in snapshot["inbound"]]}
        wanted.update({k: snapshot[k] for k in self.kept_fields if k in snapshot})
        return wanted

    def release(self, state):
        if self.params.get("on_withdraw") == "allow_all":
            wanted = {"inbound": [self.canonical(r) for r in self.allow_all_rules()]}
            wanted.update(self.open_fields())
            return wanted
        if not self.locked_down(state):
            return {}  # nothing of ours to undo
        raise ProviderError(self.name, "withdrawal needs the snapshot of the activation to put the rules back",
                            hint="Pass snapshot (the playbooks keep it in the ledger), or set on_withdraw: "
                                 "allow_all to open the firewall explicitly")

    def open_fields(self):
        """Fields ``on_withdraw: allow_all`` sets besides the rules (e.g. an ACCEPT policy)."""
        return {}

    def matches(self, state, wanted):
        for key, value in wanted.items():
            if key == "inbound":
                if not self.same_rules(state["inbound"], value):
                    return False
            elif state.get(key) != value:
                return False
        return True

    def same_rules(self, current, wanted):
        """Equal rule lists, in order (first match wins). Providers whose API has another notion of
        "the same rules" override this."""
        return current == wanted

    def _lockdown_inbound(self):
        return [self.canonical(r) for r in self.lockdown_rules(self.allow or parse_allow(None))]

    # -- the Test button: what all three share ----------------------------------------------------------
    def test(self):
        findings = Findings()
        state = self.read()
        findings.state = state
        findings.append(Finding("firewall", True, "the firewall exists and the credentials can read it (%d inbound "
                                "rule(s))" % len(state["inbound"])))
        if self.check_mode:
            findings.append(Finding("write", True, "write access not checked: that check sends a write that changes "
                                    "nothing, and check mode sends no write; run the Test without --check",
                                    level="warning"))
        else:
            findings.append(self.write_check(state))
        problems = self.limit_problems(state, self._lockdown_inbound())
        for problem in problems:
            findings.append(Finding("limits", False, "activation would fail: " + problem))
        if not problems:
            findings.append(Finding("limits", True, "the lockdown (%d inbound rule(s)) fits the provider's limits"
                                    % len(self._lockdown_inbound())))
        findings.extend(self.extra_findings(state))
        if self.locked_down(state):
            findings.append(Finding("locked", True, "the firewall is locked down right now", level="warning"))
        return findings

    def write_check(self, state):
        """A Finding that says whether the credentials can write (provider-specific)."""
        raise NotImplementedError

    def extra_findings(self, state):
        return []
