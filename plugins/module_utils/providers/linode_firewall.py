# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Linode / Akamai Cloud Firewall lockdown: only the translation to and from the API's rules.

The traps: ``PUT …/rules`` replaces inbound AND outbound rules and both policies, so every
write sends the current outbound rules and policy back unchanged; lockdown sets
``inbound_policy: DROP`` (and enables a disabled firewall: a disabled one enforces nothing),
restore puts the old policy and status back. Labels must start with a letter (3-32 of
``[A-Za-z0-9_.-]``); at most 25 rules in all and 255 addresses per rule, so a long allow
list is split into rules of at most 255 addresses, and the Test and activation both refuse
a lockdown that would need more than 25 rules. The API normalises addresses, so they are
compared normalised but kept and sent back as the API returned them; ``version`` and
``fingerprint`` are read-only and never sent. An entry that references a Rule Set
(``{"ruleset": <id>}``, no other field) is kept and sent back exactly as it was.
"""

from __future__ import annotations

import ipaddress

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import decode
from ansible_collections.ddos.scrubbing.plugins.module_utils._lockdown import (
    LOCKDOWN_OPTIONS, LockdownProvider, port_text)
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import POSITIVE_INT

MAX_RULES = 25
MAX_ADDRESSES = 255  # per rule, IPv4 and IPv6 together
RULE_FIELDS = ("label", "description", "action", "protocol", "ports", "addresses")


def parse_error(response):
    body = decode(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return None, "; ".join("%s%s" % ("%s: " % e["field"] if e.get("field") else "", e.get("reason", ""))
                               for e in errors)
    return None, "HTTP %s" % response.status_code


def is_ruleset(rule):
    return isinstance(rule, dict) and rule.get("ruleset") is not None


def _normal(address):
    try:
        return str(ipaddress.ip_network(address, strict=False))
    except ValueError:
        return address  # a prefix-list reference (pl::...) or another newer shape: pass it through


def _comparable(rule):
    """A rule as Linode compares it: addresses normalised (``1.2.3.4`` = ``1.2.3.4/32``)."""
    if is_ruleset(rule):
        return rule
    return dict(rule, addresses={family: [_normal(a) for a in addrs]
                                 for family, addrs in (rule.get("addresses") or {}).items()})


class LinodeFirewall(LockdownProvider):
    name = "linode_firewall"
    title = "Linode Cloud Firewall"
    default_api_url = "https://api.linode.com/v4"
    page_size = 100  # Linode's default; 25-500 allowed
    kept_fields = ("inbound_policy", "status")
    lockdown_fields = {"inbound_policy": "DROP", "status": "enabled"}
    shapes = dict(LockdownProvider.shapes, firewall_id=POSITIVE_INT)
    identity = ("firewall_id",)
    options = dict(
        api_token=dict(type="str", required=True, no_log=True,
                       fallback=(env_fallback, ["LINODE_API_TOKEN", "LINODE_TOKEN"])),
        firewall_id=dict(type="int", required=True),
        **LOCKDOWN_OPTIONS)

    status_hints = {
        401: "The token was rejected: create a personal access token under Profile > API Tokens",
        403: "The token needs the Firewalls scope with Read/Write (a Read Only token fails at activation)",
        404: "No firewall {firewall_id}: copy its ID from Network > Firewalls > the firewall (the ID is in the URL)",
    }

    def connect(self):
        return self.bearer_client(self.params["api_token"], parse_error)

    @property
    def _path(self):
        return "/networking/firewalls/%d" % self.params["firewall_id"]

    # -- translation --------------------------------------------------------------------------------------
    def fetch(self):
        fw = self.envelope(self.http.get(self._path), None, self._path)
        rules = fw.get("rules") or {}
        return dict(id=fw.get("id"), label=fw.get("label"), status=fw.get("status"), inbound=rules.get("inbound") or [],
                    inbound_policy=rules.get("inbound_policy"),
                    outbound=[self.canonical(r) for r in rules.get("outbound") or []],
                    outbound_policy=rules.get("outbound_policy"))

    def canonical(self, rule):
        if is_ruleset(rule):
            return {"ruleset": rule["ruleset"]}  # a reference: its rules live in the Rule Set, not here
        out = {k: rule[k] for k in RULE_FIELDS if rule.get(k) not in (None, "") and k != "addresses"}
        if "protocol" in out:  # the spec does not require it; ALL and IP protocol numbers ("50") too
            out["protocol"] = str(out["protocol"]).upper()
        # Kept as the API returned them (restore sends them back as they were); compared normalised.
        out["addresses"] = {family: list(addrs) for family, addrs in (rule.get("addresses") or {}).items() if addrs}
        return out

    def same_rules(self, current, wanted):
        return [_comparable(r) for r in current] == [_comparable(r) for r in wanted]

    def lockdown_rules(self, allow):
        rules = []
        for number, entry in enumerate(allow, 1):
            nets = [str(net) for net in entry["sources"]]
            chunks = [nets[i:i + MAX_ADDRESSES] for i in range(0, len(nets), MAX_ADDRESSES)]
            for part, chunk in enumerate(chunks, 1):
                label = "ddos-lockdown-%d" % number if len(chunks) == 1 else "ddos-lockdown-%d.%d" % (number, part)
                rule = {"label": label, "action": "ACCEPT", "protocol": entry["protocol"].upper(), "addresses": {}}
                if entry["protocol"] != "icmp" and entry["ports"]:
                    rule["ports"] = port_text(entry["ports"])
                for net in chunk:
                    family = "ipv6" if ":" in net else "ipv4"
                    rule["addresses"].setdefault(family, []).append(net)
                rules.append(rule)
        return rules

    def limit_problems(self, state, inbound):
        if len(inbound) + len(state["outbound"]) > MAX_RULES:
            return ["the lockdown needs %d inbound rule(s) (at most %d addresses each) + the %d outbound rule(s) "
                    "kept: over Linode's limit of %d rules per firewall; shorten the allow list (use wider CIDRs)"
                    % (len(inbound), MAX_ADDRESSES, len(state["outbound"]), MAX_RULES)]
        return []

    def allow_all_rules(self):
        return []  # with an ACCEPT inbound policy (open_fields), no rule is needed

    def open_fields(self):
        return {"inbound_policy": "ACCEPT"}

    def apply(self, state, wanted):
        inbound = wanted.get("inbound", state["inbound"])
        if len(inbound) + len(state["outbound"]) > MAX_RULES:
            raise ProviderError(self.name, "%d inbound + %d outbound rules exceed Linode's limit of %d" % (
                len(inbound), len(state["outbound"]), MAX_RULES), hint="Shorten the allow list")
        status = wanted.get("status", state["status"])
        # A disabled firewall enforces nothing, so the rules are only changed while it does not
        # enforce rules that are not the final ones: disable first (restore), enable last (lockdown).
        if status == "disabled" and status != state["status"]:
            self.http.request("PUT", self._path, json_body={"status": status})
        policy = wanted.get("inbound_policy", state["inbound_policy"])
        if not self.same_rules(state["inbound"], inbound) or policy != state["inbound_policy"]:
            # Both directions and both policies, always: the PUT replaces all four.
            self.http.request("PUT", self._path + "/rules", json_body={
                "inbound": inbound, "inbound_policy": policy,
                "outbound": state["outbound"], "outbound_policy": state["outbound_policy"]})
        if status == "enabled" and status != state["status"]:
            self.http.request("PUT", self._path, json_body={"status": status})
        return None

    def _all_pages(self, path):
        """Every item of a paginated Linode list (``page`` from 1 up to ``pages``)."""
        items, page = [], 1
        while True:
            body = self.http.get(path, params={"page": page, "page_size": self.page_size}) or {}
            items.extend(body.get("data") or [])
            if page >= (body.get("pages") or 1):
                return items
            page += 1

    # -- Test ------------------------------------------------------------------------------------------------
    def write_check(self, state):
        # Linode does not show a token's scopes; re-sending the firewall's own label changes nothing
        # and is refused for a read-only token.
        try:
            self.http.request("PUT", self._path, json_body={"label": state["label"]})
        except ProviderError as exc:
            if exc.status in (401, 403):
                return Finding("write", False, "the token cannot write firewalls (Read Only): activation would "
                               "fail; it needs Firewalls Read/Write")
            raise
        return Finding("write", True, "the token can write firewalls (checked by re-sending the firewall's label)")

    def extra_findings(self, state):
        devices = self._all_pages(self._path + "/devices")
        findings = []
        if not devices:
            findings.append(Finding("attached", False, "the firewall is attached to no Linode: a lockdown updates it "
                                    "but protects nothing", level="warning"))
        else:
            findings.append(Finding("attached", True, "attached to %d device(s)" % len(devices)))
        refs = [(direction, r["ruleset"]) for direction in ("inbound", "outbound") for r in state[direction]
                if is_ruleset(r)]
        if refs:
            findings.append(Finding("rulesets", False, "%d rule entr%s reference%s a Rule Set (%s): they are kept as "
                                    "references and restored exactly; the Rule Sets' own rules are not in the "
                                    "snapshot, and inbound ones do not apply during the lockdown" % (
                                        len(refs), "y" if len(refs) == 1 else "ies", "s" if len(refs) == 1 else "",
                                        ", ".join("%s ruleset %s" % ref for ref in refs)), level="warning"))
        if state["status"] != "enabled":
            findings.append(Finding("status", False, "the firewall is %s: it enforces nothing now; lockdown enables "
                                    "it and restore disables it again" % state["status"], level="warning"))
        return findings
