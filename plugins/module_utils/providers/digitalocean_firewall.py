# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""DigitalOcean Cloud Firewall lockdown: only the translation to and from the API's rules.

The traps: ``PUT /v2/firewalls/{id}`` replaces the WHOLE firewall (omitted droplets, tags or
outbound rules are dropped), so every write sends them back as they are; all-ports rules come
back as ``"0"`` but ``"0"`` is refused on input, so rules are normalised before they are sent.
One atomic PUT per change, so SSH is never missing mid-operation.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import decode
from ansible_collections.ddos.scrubbing.plugins.module_utils._lockdown import (
    LOCKDOWN_OPTIONS, LockdownProvider, port_text)
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import UUID

TARGETS = ("addresses", "droplet_ids", "load_balancer_uids", "kubernetes_ids", "tags")
ANYWHERE = ["0.0.0.0/0", "::/0"]


def parse_error(response):
    body = decode(response)
    if isinstance(body, dict) and body.get("message"):
        return body.get("id"), body["message"]
    return None, "HTTP %s" % response.status_code


class DigitalOceanFirewall(LockdownProvider):
    name = "digitalocean_firewall"
    title = "DigitalOcean Cloud Firewall"
    default_api_url = "https://api.digitalocean.com"
    shapes = dict(LockdownProvider.shapes, firewall_id=UUID)
    identity = ("firewall_id",)
    options = dict(
        api_token=dict(type="str", required=True, no_log=True,
                       fallback=(env_fallback, ["DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN", "DO_API_TOKEN"])),
        firewall_id=dict(type="str", required=True),
        **LOCKDOWN_OPTIONS)

    status_hints = {
        401: "The token was rejected: create a personal access token (API > Tokens), not an OAuth app token",
        403: "The token lacks a scope: it needs firewall:read and firewall:update, plus droplet:read and tag:read "
             "when Droplets or tags are attached (or a full read+write token)",
        404: "No firewall {firewall_id}: copy its ID from Networking > Firewalls > the firewall (the ID is in the URL)",
    }

    def connect(self):
        return self.bearer_client(self.params["api_token"], parse_error)

    @property
    def _path(self):
        return "/v2/firewalls/%s" % self.params["firewall_id"]

    # -- translation ----------------------------------------------------------------------------------
    def fetch(self):
        fw = self.envelope(self.http.get(self._path), "firewall", self._path)
        return dict(id=fw.get("id"), name=fw.get("name"), status=fw.get("status"),
                    pending_changes=fw.get("pending_changes") or [], inbound=fw.get("inbound_rules") or [],
                    outbound=[self._canonical(r, "destinations") for r in fw.get("outbound_rules") or []],
                    droplet_ids=fw.get("droplet_ids") or [], tags=fw.get("tags") or [])

    def canonical(self, rule):
        return self._canonical(rule, "sources")

    @staticmethod
    def _canonical(rule, side):
        protocol = str(rule.get("protocol") or "").lower()
        out = {"protocol": protocol}
        if protocol != "icmp":
            ports = str(rule.get("ports") or "0")
            out["ports"] = "all" if ports in ("0", "all", "1-65535") else ports  # the API answers "0", refuses it
        out[side] = {k: list(v) for k, v in (rule.get(side) or {}).items() if k in TARGETS and v}
        return out

    def lockdown_rules(self, allow):
        rules = []
        for entry in allow:
            rule = {"protocol": entry["protocol"], "sources": {"addresses": [str(n) for n in entry["sources"]]}}
            if entry["protocol"] != "icmp":
                rule["ports"] = port_text(entry["ports"]) if entry["ports"] else "all"
            rules.append(rule)
        return rules

    def allow_all_rules(self):
        return [{"protocol": p, "ports": "all", "sources": {"addresses": ANYWHERE}} for p in ("tcp", "udp")] + [
            {"protocol": "icmp", "sources": {"addresses": ANYWHERE}}]

    def apply(self, state, wanted):
        body = {"name": state["name"], "inbound_rules": wanted["inbound"], "outbound_rules": state["outbound"],
                "droplet_ids": state["droplet_ids"], "tags": state["tags"]}
        self.http.request("PUT", self._path, json_body=body)
        return None  # Droplets are reprogrammed asynchronously: wait re-reads until pending_changes clears

    def settled(self, state, wanted):
        # An answer without ``status`` (godo's fixtures show one) has nothing left to wait for.
        return self.matches(state, wanted) and state["status"] in (None, "succeeded") and not state["pending_changes"]

    # -- Test ------------------------------------------------------------------------------------------
    def write_check(self, state):
        # DigitalOcean does not show a token's scopes. Removing a rule that cannot exist (TEST-NET
        # address, port 1) is refused for a read-only token and changes nothing otherwise.
        probe = {"inbound_rules": [{"protocol": "tcp", "ports": "1", "sources": {"addresses": ["192.0.2.255/32"]}}]}
        try:
            self.http.request("DELETE", self._path + "/rules", json_body=probe)
        except ProviderError as exc:
            if exc.status == 403:
                return Finding("write", False, "the token cannot write firewalls (read-only): activation would fail; "
                               "it needs firewall:update")
            raise
        return Finding("write", True, "the token can write firewalls (checked with a change that matches no rule)")

    def extra_findings(self, state):
        findings = []
        empty = [str(n) for n, rule in enumerate(state["inbound"], 1) if not rule.get("sources")]
        if empty:
            findings.append(Finding("sources", False, "inbound rule(s) %s have no source at all (they match no traffic): "
                                    "restore puts them back as they are; remove them in the control panel if "
                                    "they are leftovers" % ", ".join(empty), level="warning"))
        if not state["droplet_ids"] and not state["tags"]:
            findings.append(Finding("attached", False, "the firewall is attached to no Droplet and no tag: a lockdown "
                                    "updates it but protects nothing", level="warning"))
        else:
            findings.append(Finding("attached", True, "attached to %d Droplet(s) and tag(s) %s" % (
                len(state["droplet_ids"]), ", ".join(state["tags"]) or "-")))
        return findings
