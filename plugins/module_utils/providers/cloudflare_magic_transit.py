# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Cloudflare Magic Transit: advertise an on-demand BYOIP prefix over BGP.

Current API: ``PATCH …/prefixes/{prefix_id}/bgp/prefixes/{bgp_prefix_id}`` with
``{"on_demand": {"advertised": bool}}``; the BGP prefix is discovered when not given.
Legacy API (``advertisement_api: bgp_status``): ``PATCH …/prefixes/{prefix_id}/bgp/status``
with ``{"advertised": bool}``, which Cloudflare has deprecated.
One read per run, one write per change.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding, Findings
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers._cloudflare import (
    TOKEN_OPTION, CloudflareProvider)

PERMISSIONS = "'Magic Transit Write' (or 'IP Prefixes: Write', or 'IP Prefixes: BGP On Demand Write')"


class CloudflareMagicTransit(CloudflareProvider):
    name = "cloudflare_magic_transit"
    title = "Cloudflare Magic Transit"
    write_permissions = PERMISSIONS
    read_permissions = "'Magic Transit Read' (or 'IP Prefixes: Read')"
    options = dict(
        api_token=TOKEN_OPTION,
        account_id=dict(type="str", required=True, fallback=(env_fallback, ["CLOUDFLARE_ACCOUNT_ID"])),
        prefix_id=dict(type="str", required=True),
        bgp_prefix_id=dict(type="str"),
        advertisement_api=dict(type="str", default="bgp_prefixes", choices=["bgp_prefixes", "bgp_status"]),
    )

    # -- paths ---------------------------------------------------------------------------------
    @property
    def _account_path(self):
        return "/accounts/%s/addressing/prefixes" % self.params["account_id"]

    @property
    def _prefix_path(self):
        return "%s/%s" % (self._account_path, self.params["prefix_id"])

    # -- errors that fix themselves ---------------------------------------------------------------
    def hint(self, status, code, message, method, path):
        if code in (7003, 9109) or (status in (400, 403) and "/accounts/" in (path or "") and code != 10000
                                    and status != 401):
            return ("Check account_id=%s: it must be the Account ID (dashboard: Account Home > the account's "
                    "menu > Copy Account ID, or the API section of any zone's Overview sidebar), not a Zone ID"
                    % self.params["account_id"])
        return super().hint(status, code, message, method, path)

    def _prefix_not_found(self):
        """Turn an unknown prefix_id into a message that lists the account's prefixes."""
        try:
            prefixes = self.call("GET", self._account_path) or []
        except ProviderError:
            prefixes = []
        listing = ", ".join("%s (%s)" % (p.get("id"), p.get("cidr")) for p in prefixes) or "none"
        return ProviderError(self.name, "prefix_id %s was not found in account %s" % (
            self.params["prefix_id"], self.params["account_id"]),
            hint="The account's prefixes are: %s. Set prefix_id to one of these IDs" % listing)

    def _get(self, path):
        response = self.call("GET", path, allow_statuses=(404,))
        if hasattr(response, "status_code"):
            raise self._prefix_not_found()
        return response

    # -- the contract -------------------------------------------------------------------------------
    def read(self):
        if self.params["advertisement_api"] == "bgp_status":
            p = self._get(self._prefix_path)
            return dict(prefix_id=p["id"], cidr=p.get("cidr"), bgp_prefix_id=None,
                        advertised=bool(p.get("advertised")), advertised_modified_at=p.get("advertised_modified_at"),
                        on_demand_enabled=bool(p.get("on_demand_enabled")),
                        on_demand_locked=bool(p.get("on_demand_locked")), bgp_signal=False)
        if self.params.get("bgp_prefix_id"):
            bgp = self._get("%s/bgp/prefixes/%s" % (self._prefix_path, self.params["bgp_prefix_id"]))
        else:
            bgp = self._discover(self._get("%s/bgp/prefixes" % self._prefix_path) or [])
        on_demand = bgp.get("on_demand") or {}
        return dict(prefix_id=self.params["prefix_id"], cidr=bgp.get("cidr"), bgp_prefix_id=bgp["id"],
                    advertised=bool(on_demand.get("advertised")),
                    advertised_modified_at=on_demand.get("advertised_modified_at"),
                    on_demand_enabled=bool(on_demand.get("on_demand_enabled")),
                    on_demand_locked=bool(on_demand.get("on_demand_locked")),
                    bgp_signal=bool((bgp.get("bgp_signal_opts") or {}).get("enabled")))

    def _discover(self, bgp_prefixes):
        if len(bgp_prefixes) == 1:
            return bgp_prefixes[0]
        listing = ", ".join("%s (%s)" % (b.get("id"), b.get("cidr")) for b in bgp_prefixes)
        if not bgp_prefixes:
            raise ProviderError(self.name, "prefix %s has no BGP prefix to advertise" % self.params["prefix_id"],
                                hint="Create one in the dashboard (IP Addresses > IP Prefixes), or use "
                                     "advertisement_api=bgp_status for an account on the legacy call")
        raise ProviderError(self.name, "prefix %s has %d BGP prefixes and bgp_prefix_id was not given" % (
            self.params["prefix_id"], len(bgp_prefixes)), hint="Set bgp_prefix_id to one of: %s" % listing)

    def is_active(self, state):
        return bool(state and state.get("advertised"))

    def snapshot(self, state):
        return dict(advertised=state["advertised"], cidr=state["cidr"], prefix_id=state["prefix_id"],
                    bgp_prefix_id=state["bgp_prefix_id"])

    def activation(self, state, snapshot):
        return self._wanted(state, True)

    def restoration(self, state, snapshot):
        # An always-on prefix (advertised before the incident) stays advertised.
        return self._wanted(state, bool(snapshot.get("advertised")))

    def release(self, state):
        return self._wanted(state, False)

    def _wanted(self, state, advertised):
        wanted = dict(advertised=advertised)
        if state["advertised"] == advertised:
            return wanted
        what = "advertise" if advertised else "withdraw"
        if not state["on_demand_enabled"]:
            raise ProviderError(self.name, "cannot %s prefix %s (%s): on-demand advertisement is not enabled "
                                "for it" % (what, state["prefix_id"], state["cidr"]),
                                hint="Ask Cloudflare to enable on-demand (dynamic) advertisement for this prefix")
        if state["on_demand_locked"]:
            raise ProviderError(self.name, "cannot %s prefix %s (%s): its advertisement is locked "
                                "(on_demand_locked)" % (what, state["prefix_id"], state["cidr"]),
                                hint="Unlock it in the dashboard (IP Addresses > IP Prefixes) or wait until "
                                     "Cloudflare releases the lock, then run again")
        if state["bgp_signal"]:
            raise ProviderError(self.name, "cannot %s prefix %s (%s): it is controlled by BGP signal, not the API"
                                % (what, state["prefix_id"], state["cidr"]),
                                hint="Advertise it from your routers, or disable BGP-signal control")
        return wanted

    def apply(self, state, wanted):
        advertised = wanted["advertised"]
        if self.params["advertisement_api"] == "bgp_status":
            self.call("PATCH", "%s/bgp/status" % self._prefix_path, {"advertised": advertised})
        else:
            self.call("PATCH", "%s/bgp/prefixes/%s" % (self._prefix_path, state["bgp_prefix_id"]),
                      {"on_demand": {"advertised": advertised}})
        # The answer is Cloudflare's intent, not what it advertises: ``wait`` re-reads.
        return None

    # -- the Test button ------------------------------------------------------------------------------
    def test(self):
        prefixes = self.call("GET", self._account_path) or []
        findings = Findings()
        findings.append(Finding("token", True, "the API token is valid and can read account %s"
                                % self.params["account_id"]))
        listing = ", ".join("%s (%s)" % (p.get("id"), p.get("cidr")) for p in prefixes)
        findings.append(Finding("prefixes", bool(prefixes), "the account has %d prefix(es)%s" % (
            len(prefixes), ": " + listing if listing else ""), level=None if prefixes else "error"))
        chosen = [p for p in prefixes if p.get("id") == self.params["prefix_id"]]
        if not chosen:
            findings.append(Finding("prefix", False, "prefix_id %s is not one of them" % self.params["prefix_id"]))
            return findings
        state = self.read()
        findings.state = state
        findings.append(Finding("prefix", True, "prefix %s (%s) found%s" % (
            state["prefix_id"], state["cidr"],
            ", BGP prefix %s" % state["bgp_prefix_id"] if state["bgp_prefix_id"] else "")))
        findings.append(Finding("on_demand", state["on_demand_enabled"], "on-demand advertisement is %s" % (
            "enabled" if state["on_demand_enabled"] else "NOT enabled: the prefix cannot be toggled")))
        findings.append(Finding("locked", not state["on_demand_locked"], "advertisement is %s" % (
            "locked (on_demand_locked): changes will be refused" if state["on_demand_locked"] else "not locked"),
            level="warning" if state["on_demand_locked"] else "ok"))
        findings.append(Finding("advertised", True, "the prefix is %s" % (
            "advertised now (an always-on prefix stays advertised after incidents)" if state["advertised"]
            else "not advertised now")))
        findings.append(Finding("write", True, "write permission cannot be checked without a write; the token "
                                "needs %s, and Activate names it if it is missing" % PERMISSIONS, level="ok"))
        return findings
