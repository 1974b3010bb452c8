# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Vultr firewall group lockdown: only the translation to and from the API's rules.

The traps: a group with no rules blocks everything, and there is no update call (change =
create + delete). So every change first creates the rules that are missing, then deletes the
ones that must go: at no instant is the group without the kept (SSH) rules. Rule ids change
on re-create, so rules are kept by content. Lists are cursor-paginated; v4 and v6 are
separate rules; port ranges use a colon.
"""

from __future__ import annotations

import ipaddress

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import decode
from ansible_collections.ddos.scrubbing.plugins.module_utils._lockdown import (
    LOCKDOWN_OPTIONS, LockdownProvider, port_text)
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import UUID

IDENTITY = ("ip_type", "protocol", "subnet", "subnet_size", "port", "source")  # what Vultr calls a duplicate
NOTE = "ddos-lockdown"


def parse_error(response):
    body = decode(response)
    if isinstance(body, dict) and body.get("error"):
        return None, body["error"]
    return None, "HTTP %s" % response.status_code


def identity(rule):
    return tuple(rule.get(k) for k in IDENTITY)


class VultrFirewall(LockdownProvider):
    name = "vultr_firewall"
    title = "Vultr firewall group"
    default_api_url = "https://api.vultr.com/v2"
    page_size = 100
    shapes = dict(LockdownProvider.shapes, firewall_group_id=UUID)
    identity = ("firewall_group_id",)
    options = dict(
        api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["VULTR_API_KEY"])),
        firewall_group_id=dict(type="str", required=True),
        **LOCKDOWN_OPTIONS)

    status_hints = {
        401: "The API key was rejected: copy it again from Account > API, and make sure API access is enabled",
        403: "Vultr refused this caller: if the API key has an IP allow-list (Account > API > Access Control), add "
             "the address this runs from",
        404: "No firewall group {firewall_group_id}: copy its ID from Products > Firewall > the group (the ID is in "
             "the URL)",
    }

    def connect(self):
        return self.bearer_client(self.params["api_key"], parse_error)

    @property
    def _path(self):
        return "/firewalls/%s" % self.params["firewall_group_id"]

    # -- translation ------------------------------------------------------------------------------------
    def fetch(self):
        group = self.envelope(self.http.get(self._path), "firewall_group", self._path)
        rules, cursor, seen = [], None, set()
        while True:
            params = {"per_page": self.page_size}
            if cursor:
                params["cursor"] = cursor
            page = self.http.get(self._path + "/rules", params=params) or {}
            rules.extend(page.get("firewall_rules") or [])
            cursor = ((page.get("meta") or {}).get("links") or {}).get("next")
            if not cursor:
                break
            if cursor in seen:  # a cursor that comes back would page forever: stop and say so
                raise ProviderError(self.name, "GET %s/rules answered the cursor %r twice: the rule list cannot be "
                                    "read completely, so nothing is changed" % (self._path, cursor),
                                    method="GET", path=self._path + "/rules",
                                    hint="Run again; report it to Vultr if it persists")
            seen.add(cursor)
        return dict(id=group.get("id"), description=group.get("description"),
                    instance_count=group.get("instance_count") or 0, max_rule_count=group.get("max_rule_count"),
                    inbound=rules, rule_ids=[r.get("id") for r in rules])

    def canonical(self, rule):
        # The spec requires no rule field: read what is there, absent ones as the API's defaults.
        protocol = str(rule.get("protocol") or "").lower()
        return {"ip_type": rule.get("ip_type") or rule.get("type"), "protocol": protocol,
                "subnet": rule.get("subnet") or "", "subnet_size": int(rule.get("subnet_size") or 0),
                "port": str(rule.get("port") or "") if protocol in ("tcp", "udp") else "",
                "source": rule.get("source") or "", "notes": rule.get("notes") or ""}

    def lockdown_rules(self, allow):
        rules = []
        for entry in allow:
            port = "" if entry["protocol"] == "icmp" else port_text(entry["ports"] or (1, 65535), ":")
            for net in entry["sources"]:
                rules.append({"ip_type": "v%d" % net.version, "protocol": entry["protocol"],
                              "subnet": str(net.network_address), "subnet_size": net.prefixlen, "port": port,
                              "source": "", "notes": NOTE})
        return rules

    def allow_all_rules(self):
        anywhere = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        return self.lockdown_rules([{"protocol": p, "ports": None, "sources": anywhere}
                                    for p in ("tcp", "udp", "icmp")])

    def apply(self, state, wanted):
        present = {identity(r) for r in state["inbound"]}
        keep = {identity(r) for r in wanted["inbound"]}
        to_add = [r for r in wanted["inbound"] if identity(r) not in present]
        to_delete = [rid for rule, rid in zip(state["inbound"], state["rule_ids"]) if identity(rule) not in keep]
        problems = self._room(state, to_add)
        if problems:
            raise ProviderError(self.name, problems[0], hint="Shorten the allow list, or remove unused rules from "
                                                             "the group")
        # Create first, delete after: the group is never without the rules that must stay.
        for rule in to_add:
            body = {k: rule[k] for k in ("ip_type", "protocol", "subnet", "subnet_size", "notes")}
            if rule["port"]:
                body["port"] = rule["port"]
            if rule["source"]:
                body["source"] = rule["source"]
            self.http.request("POST", self._path + "/rules", json_body=body)
        for rule_id in to_delete:
            self.http.request("DELETE", "%s/rules/%s" % (self._path, rule_id))
        return None

    def _room(self, state, to_add):
        # Create first, delete after: both rule sets must fit the group at once.
        limit = state.get("max_rule_count")
        if limit and len(state["inbound"]) + len(to_add) > limit:
            return ["the group has %d rules and needs %d more before removing the others, over its max_rule_count "
                    "of %d (one rule per source address)" % (len(state["inbound"]), len(to_add), limit)]
        return []

    def limit_problems(self, state, inbound):
        present = {identity(r) for r in state["inbound"]}
        return self._room(state, [r for r in inbound if identity(r) not in present])

    def same_rules(self, current, wanted):
        # Vultr refuses a second rule with the same content whatever its notes, so an original rule
        # that equals a lockdown rule is kept, not re-created: compare what Vultr compares.
        return sorted(map(identity, current)) == sorted(map(identity, wanted))

    # -- Test ----------------------------------------------------------------------------------------------
    def write_check(self, state):
        return Finding("write", True, "Vultr API keys have no read-only variant: a key that can read the group can "
                       "change it (an IP allow-list would already have refused the read)")

    def extra_findings(self, state):
        if not state["instance_count"]:
            return [Finding("attached", False, "the group is attached to no instance: a lockdown updates it but "
                            "protects nothing", level="warning")]
        return [Finding("attached", True, "attached to %d instance(s)" % state["instance_count"])]
