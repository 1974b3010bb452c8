# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The attacked server's own firewall: one nftables table of ours, per attacked address.

The whole mechanism is one table (default ``inet ddos_scrubbing``) with one base chain on the
``prerouting`` hook at priority -300 (nftables' ``raw``): attack traffic is dropped before
connection tracking spends a conntrack entry on it, which is the cheapest place on the box.
Nothing outside the table is ever touched, and withdrawal deletes exactly the table, so the
ruleset afterwards is byte for byte what it was.

Inside the chain, for each target (an address of this server under attack), in this order:

1. ``allow``      accepted first, so SSH (TCP 22 by default) is never cut;
2. ``rate_limit`` traffic above ``pps`` packets per second is dropped;
3. ``drop``       dropped, as is what ``match_from_incident`` takes from the incident.

An ``accept`` in our chain only ends our chain: the server's own firewall still judges the
packet afterwards, so this table can only ever remove traffic, never open anything.

Every rule carries a comment with its canonical key; reading the table back yields those keys,
so a re-run compares like with like and writes nothing when the table is already right. A
table of that name that holds a rule without our key is someone else's: it is refused, never
replaced.

nft is driven with argv lists (no shell) and a ruleset script on stdin whose every value was
rebuilt from ``ipaddress`` and integers, so no input can add a word to a rule.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding, Findings, Provider
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError, ProviderError

DEFAULT_TABLE = "inet ddos_scrubbing"
CHAIN = "prerouting"
HOOK_PRIORITY = -300
KEY_PREFIX = "ddos-scrubbing "
TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
FAMILIES = ("inet", "ip", "ip6")
PROTOCOLS = ("tcp", "udp", "icmp", "any")
PORTED = ("tcp", "udp")
PORT_ITEM = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
MAX_PPS = 10 ** 9
DEFAULT_ALLOW = [{"protocol": "tcp", "ports": ["22"], "sources": ["0.0.0.0/0", "::/0"]}]

RULE_OPTIONS = dict(
    protocol=dict(type="str", default="any", choices=list(PROTOCOLS)),
    ports=dict(type="list", elements="str", default=[]),
    sources=dict(type="list", elements="str", default=[]),
)
LOCAL_FIREWALL_OPTIONS = dict(
    table=dict(type="str", default=DEFAULT_TABLE),
    targets=dict(type="list", elements="str", default=[]),
    drop=dict(type="list", elements="dict", default=[], options=RULE_OPTIONS),
    rate_limit=dict(type="list", elements="dict", default=[], options=dict(
        protocol=dict(type="str", default="any", choices=list(PROTOCOLS)),
        ports=dict(type="list", elements="str", default=[]),
        pps=dict(type="int", required=True),
    )),
    allow=dict(type="list", elements="dict", options=dict(
        protocol=dict(type="str", default="tcp", choices=list(PROTOCOLS)),
        ports=dict(type="list", elements="str", default=[]),
        sources=dict(type="list", elements="str", default=["0.0.0.0/0", "::/0"]),
    )),
    match_from_incident=dict(type="bool", default=False),
    target_attacks=dict(type="dict", default={}),
    nft_path=dict(type="str", default="nft"),
)


# -- the rules, as pure functions ------------------------------------------------------------
def parse_table(text):
    """``"inet ddos_scrubbing"`` -> ("inet", "ddos_scrubbing"), else ValueError."""
    parts = str(text).split()
    if len(parts) != 2 or parts[0] not in FAMILIES or not TABLE_NAME.match(parts[1]):
        raise ValueError("table must be a family (inet, ip or ip6) and a name of letters, digits and _ "
                         "(e.g. 'inet ddos_scrubbing'), got %r" % (text,))
    return parts[0], parts[1]


def port_items(ports, where):
    """Ports as canonical nft set items ("53", "1024-65535")."""
    items = []
    for raw in ports or []:
        match = PORT_ITEM.match(str(raw).strip())
        low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
        if not match or not 1 <= low <= high <= 65535:
            raise ValueError("%s: port %r must be a port (53) or a range (1024-65535) within 1-65535" % (where, raw))
        items.append(str(low) if low == high else "%d-%d" % (low, high))
    return sorted(set(items), key=lambda item: int(item.split("-")[0]))


def networks(sources, where):
    nets = []
    for raw in sources or []:
        try:
            nets.append(ipaddress.ip_network(str(raw).strip(), strict=False))
        except ValueError:
            raise ValueError("%s: source %r is not an IP address or CIDR" % (where, raw))
    return nets


def canonical_entry(item, where, kind):
    """One drop / rate_limit / allow entry, validated, as {protocol, ports, sources, pps}."""
    protocol = (item.get("protocol") or "any").lower()
    if protocol not in PROTOCOLS:
        raise ValueError("%s: protocol %r must be one of %s" % (where, protocol, ", ".join(PROTOCOLS)))
    ports = port_items(item.get("ports"), where)
    if ports and protocol not in PORTED:
        raise ValueError("%s: ports need protocol tcp or udp (got %s)" % (where, protocol))
    entry = {"protocol": protocol, "ports": ports}
    if kind == "rate_limit":
        pps = item.get("pps")
        if not isinstance(pps, int) or isinstance(pps, bool) or not 1 <= pps <= MAX_PPS:
            raise ValueError("%s: pps must be a whole number of packets per second from 1 to %d" % (where, MAX_PPS))
        entry["pps"] = pps
        entry["sources"] = []
    else:
        sources = item.get("sources")
        if kind == "allow" and not sources:
            raise ValueError("%s: sources is empty; write [0.0.0.0/0, '::/0'] for anywhere" % where)
        entry["sources"] = networks(sources, where)
    return entry


def attack_entry(attack):
    """What ``match_from_incident`` drops for one target's attack details (None: nothing to add)."""
    if not attack:
        return None
    protocol = (attack.get("protocol") or "any").lower()
    if protocol not in PROTOCOLS:
        protocol = "any"
    ports = [str(p) for p in attack.get("ports") or []] if protocol in PORTED else []
    sources = attack.get("sources") or []
    if protocol == "any" and not ports and not sources:
        return None  # "drop everything to the target" is never inferred from an incident
    return canonical_entry({"protocol": protocol, "ports": ports, "sources": sources}, "the incident's attack",
                           "drop")


def _version(address):
    return ipaddress.ip_address(address).version


def rule_for(family_word, target, verdict, entry):
    """(key, nft rule text) for one entry on one target, or None when the entry's sources are
    all of the other IP family (such an entry does not concern this target: never widen it)."""
    version = _version(target)
    sources = [n for n in entry["sources"] if n.version == version]
    if entry["sources"] and not sources:
        return None
    words = ["%s daddr %s" % (family_word, target)]
    if entry["protocol"] in PORTED:
        words.append("meta l4proto %s" % entry["protocol"])
        if entry["ports"]:
            words.append("th dport { %s }" % ", ".join(entry["ports"]))
    elif entry["protocol"] == "icmp":
        words.append("meta l4proto %s" % ("icmp" if version == 4 else "ipv6-icmp"))
    if sources and not any(n.prefixlen == 0 for n in sources):
        words.append("%s saddr { %s }" % (family_word, ", ".join(str(n) for n in sorted(sources))))
    if "pps" in entry:
        words.append("limit rate over %d/second" % entry["pps"])
    words.append(verdict)
    key = "%s%s %s %s %s%s%s" % (
        KEY_PREFIX, verdict, target, entry["protocol"], ",".join(entry["ports"]) or "*",
        " from " + ",".join(str(n) for n in sorted(sources)) if sources else "",
        " over %dpps" % entry["pps"] if "pps" in entry else "")
    return key, " ".join(words)


def build_rules(targets, allow, rate_limit, drop, attacks=None, from_incident=False):
    """The chain's rules, in order: [(key, text)] — allow, then rate limits, then drops, per target."""
    rules = []
    for target in targets:
        family_word = "ip" if _version(target) == 4 else "ip6"
        entries = [("accept", e) for e in allow] + [("drop", e) for e in rate_limit] + [("drop", e) for e in drop]
        extra = attack_entry((attacks or {}).get(target)) if from_incident else None
        if extra:
            entries.append(("drop", extra))
        for verdict, entry in entries:
            rule = rule_for(family_word, target, verdict, entry)
            if rule and rule[0] not in [key for key, _text in rules]:
                rules.append(rule)
    return rules


def ruleset_script(family, table, rules):
    """The nft script that replaces our table in one transaction (or deletes it: ``rules`` None)."""
    lines = ["table %s %s" % (family, table), "delete table %s %s" % (family, table)]
    if rules is not None:
        lines.append("table %s %s {" % (family, table))
        lines.append("  chain %s {" % CHAIN)
        lines.append("    type filter hook %s priority %d; policy accept;" % (CHAIN, HOOK_PRIORITY))
        for key, text in rules:
            lines.append('    %s comment "%s"' % (text, key))
        lines.append("  }")
        lines.append("}")
    return "\n".join(lines) + "\n"


# -- the provider ----------------------------------------------------------------------------
class Nft:
    """Runs nft; ``calls`` counts them like an API client's requests."""

    def __init__(self, path, timeout):
        self.path = path
        self.timeout = timeout
        self.calls = []

    def run(self, argv, stdin=None):
        # shutil.which also checks a path with a slash: it must exist and be executable
        executable = shutil.which(self.path)
        if not executable:
            raise ProviderError("local_firewall", "nft was not found (nft_path=%s) on this server" % self.path,
                                hint="Install nftables (Debian/Ubuntu: apt-get install nftables)")
        self.calls.append(" ".join(argv[:4]))
        try:
            proc = subprocess.run([executable] + argv, input=stdin, capture_output=True, text=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ProviderError("local_firewall", "nft %s did not answer within %s s" % (" ".join(argv), self.timeout))
        return proc.returncode, proc.stdout, proc.stderr.strip()


class LocalFirewall(Provider):
    name = "local_firewall"
    title = "the server's nftables table"
    options = LOCAL_FIREWALL_OPTIONS
    per_target = True
    runs_on_server = True  # written over the server's own connection (group scrubbing_servers), not from the state host
    wait_sleep = 0.2

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self._config_error = None
        try:
            self.family, self.table = parse_table(params.get("table") or DEFAULT_TABLE)
            self.allow = [canonical_entry(e, "allow[%d]" % i, "allow")
                          for i, e in enumerate(DEFAULT_ALLOW if params.get("allow") is None else params["allow"])]
            self.rate_limit = [canonical_entry(e, "rate_limit[%d]" % i, "rate_limit")
                               for i, e in enumerate(params.get("rate_limit") or [])]
            self.drop = [canonical_entry(e, "drop[%d]" % i, "drop") for i, e in enumerate(params.get("drop") or [])]
        except ValueError as exc:
            # Raised by the first call (read/test), where the module glue turns it into one clear failure.
            self._config_error = InputError(self.name, str(exc))
            self.family, self.table, self.allow, self.rate_limit, self.drop = "inet", "ddos_scrubbing", [None], [], []
            return
        if not self.allow:
            self.warn("allow is empty: nothing is accepted before the drops; make sure the drops cannot match "
                      "your own access (SSH)")

    def connect(self):
        if self._config_error:
            raise self._config_error
        return Nft(self.params.get("nft_path") or "nft", self.params.get("timeout") or 30)

    def targets(self):
        out = []
        for raw in self.params.get("targets") or []:
            try:
                address = ipaddress.ip_address(str(raw).strip())
            except ValueError:
                raise InputError(self.name, "target %r is not an IP address" % (raw,))
            if self.family == "ip" and address.version != 4 or self.family == "ip6" and address.version != 6:
                raise InputError(self.name, "target %s does not fit the %s table %s" % (address, self.family,
                                                                                        self.table),
                                 hint="Use an inet table to protect IPv4 and IPv6 addresses")
            out.append(str(address))
        return sorted(set(out), key=lambda a: (_version(a), ipaddress.ip_address(a)))

    def wanted_rules(self):
        return build_rules(self.targets(), self.allow, self.rate_limit, self.drop,
                           self.params.get("target_attacks") or {}, self.params.get("match_from_incident"))

    # -- contract ---------------------------------------------------------------------------
    def read(self):
        if self._config_error:
            raise self._config_error
        code, out, err = self.http.run(["-j", "list", "table", self.family, self.table])
        if code != 0:
            if "No such file or directory" in err:
                return {"table": "%s %s" % (self.family, self.table), "present": False, "rules": [], "foreign": 0}
            raise ProviderError(self.name, "nft list table %s %s failed: %s" % (self.family, self.table, err),
                                hint="The module needs root (become: true) or CAP_NET_ADMIN on the server")
        try:
            items = json.loads(out).get("nftables", [])
        except ValueError:
            raise ProviderError(self.name, "nft -j printed something that is not JSON")
        keys, foreign, chains = [], 0, []
        for item in items:
            if "chain" in item:
                chain = item["chain"]
                chains.append("%s %s %s" % (chain.get("name"), chain.get("hook"), chain.get("prio")))
            rule = item.get("rule")
            if rule is None:
                continue
            comment = rule.get("comment") or ""
            if comment.startswith(KEY_PREFIX):
                keys.append(comment)
            else:
                foreign += 1
        return {"table": "%s %s" % (self.family, self.table), "present": True, "rules": keys,
                "chains": chains, "foreign": foreign}

    def is_active(self, state):
        return bool(state.get("present"))

    def snapshot(self, state):
        # The table is ours alone: before an incident it does not exist, and withdrawal deletes it.
        return {"present": False}

    def _refuse_foreign(self, state):
        if state.get("present") and state.get("foreign"):
            raise InputError(self.name, "the table %s already exists and holds %d rule(s) that are not ours; it is "
                             "never replaced" % (state["table"], state["foreign"]),
                             hint="Set the option table to a name of its own (default inet ddos_scrubbing)")

    def activation(self, state, snapshot):
        self._refuse_foreign(state)
        return {"present": True, "rules": [key for key, _text in self.wanted_rules()],
                "chains": ["%s %s %d" % (CHAIN, CHAIN, HOOK_PRIORITY)]}

    def restoration(self, state, snapshot):
        return self.release(state)

    def release(self, state):
        self._refuse_foreign(state)
        return {"present": False, "rules": []}

    def matches(self, state, wanted):
        if not wanted["present"]:
            return not state.get("present")
        return bool(state.get("present")) and state.get("rules") == wanted["rules"] and \
            state.get("chains") == wanted["chains"]

    def predict(self, state, wanted):
        return dict(state, present=wanted["present"], rules=list(wanted["rules"]), foreign=0,
                    chains=wanted.get("chains", []))

    def apply(self, state, wanted):
        rules = self.wanted_rules() if wanted["present"] else None
        script = ruleset_script(self.family, self.table, rules)
        code, _out, err = self.http.run(["-f", "-"], stdin=script)
        if code != 0:
            raise ProviderError(self.name, "nft refused the table %s %s: %s" % (self.family, self.table, err),
                                hint="The module needs root (become: true) or CAP_NET_ADMIN on the server")
        return None  # read back: the kernel's ruleset is the truth

    def describe(self, state):
        if not state.get("present"):
            return "no table"
        return "%d rule(s)" % len(state.get("rules") or [])

    def test(self):
        findings = Findings()
        if self._config_error:
            findings.append(Finding("options", False, self._config_error.message))
            return findings
        try:
            state = self.read()
        except ProviderError as exc:
            findings.append(Finding("nft", False, "%s. %s" % (exc.message, exc.hint) if exc.hint else exc.message))
            return findings
        findings.state = state
        findings.append(Finding("nft", True, "nft lists the ruleset on this server"))
        if state["present"] and state["foreign"]:
            findings.append(Finding("table", False, "the table %s exists and holds %d rule(s) that are not ours"
                                    % (state["table"], state["foreign"])))
        elif state["present"]:
            findings.append(Finding("table", True, "the table %s is ours and holds %d rule(s) (an incident is active, "
                                    "or a run did not finish: reconcile)" % (state["table"], len(state["rules"])),
                                    level="warning"))
        else:
            findings.append(Finding("table", True, "the table %s does not exist yet (created on an incident)"
                                    % state["table"]))
        if not self.allow:
            findings.append(Finding("allow", True, "allow is empty: the drops could cut your own SSH",
                                    level="warning"))
        else:
            findings.append(Finding("allow", True, "accepted before any drop: %s" % "; ".join(
                "%s %s" % (e["protocol"], ",".join(e["ports"]) or "all") for e in self.allow)))
        if not (self.drop or self.rate_limit or self.params.get("match_from_incident")):
            findings.append(Finding("rules", False, "no drop, rate_limit or match_from_incident: the table would "
                                    "filter nothing"))
        # A dry run of the rules against the kernel's own parser, without applying them.
        if self.params.get("targets"):
            try:
                script = ruleset_script(self.family, self.table, self.wanted_rules())
            except InputError as exc:
                findings.append(Finding("targets", False, exc.message))
                return findings
            code, _out, err = self.http.run(["--check", "-f", "-"], stdin=script)
            findings.append(Finding("rules", code == 0, "nft accepts the %d rule(s)" % len(self.wanted_rules())
                                    if code == 0 else "nft refuses the rules: %s" % err))
        return findings
