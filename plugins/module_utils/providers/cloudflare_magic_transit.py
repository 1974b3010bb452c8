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
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import HEX32
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
    shapes = dict(account_id=HEX32, prefix_id=HEX32, bgp_prefix_id=HEX32)
    identity = ("account_id", "prefix_id")

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
            p = _object(self._get(self._prefix_path))
            return self._state(p, p, bgp_prefix_id=None, approved=p.get("approved"), auto_withdraw=None)
        if self.params.get("bgp_prefix_id"):
            bgp = _object(self._get("%s/bgp/prefixes/%s" % (self._prefix_path, self.params["bgp_prefix_id"])))
        else:
            listed = self._get("%s/bgp/prefixes" % self._prefix_path)
            bgp = _object(self._discover(listed if isinstance(listed, list) else []))
        # ``withdraw_if_no_route`` is the same field in one SDK generation (REFERENCE §1).
        auto_withdraw = bgp.get("auto_advertise_withdraw", bgp.get("withdraw_if_no_route"))
        return self._state(bgp, _object(bgp.get("on_demand")), bgp_prefix_id=self.params.get("bgp_prefix_id") or
                           bgp.get("id"), approved=None, auto_withdraw=auto_withdraw,
                           bgp_signal=bool(_object(bgp.get("bgp_signal_opts")).get("enabled")))

    def _state(self, obj, on_demand, bgp_prefix_id, approved, auto_withdraw, bgp_signal=False):
        """One state shape for both APIs. Every field of the answer is optional in the spec;
        ``advertised`` is null unless on-demand is enabled (REFERENCE §1)."""
        advertised = on_demand.get("advertised")
        enabled = on_demand.get("on_demand_enabled")
        if enabled is None:
            if advertised is None:  # nothing says whether Cloudflare or we control it: never guess
                raise ProviderError(self.name, "Cloudflare's answer for prefix %s says neither on_demand_enabled "
                                    "nor advertised" % self.params["prefix_id"],
                                    hint="Run the Test (ddos.scrubbing.test) and check the prefix in the dashboard "
                                         "(IP Addresses > IP Prefixes)")
            enabled = True  # advertised is only non-null for on-demand prefixes
        return dict(prefix_id=self.params["prefix_id"], cidr=obj.get("cidr"), bgp_prefix_id=bgp_prefix_id,
                    advertised=None if advertised is None else bool(advertised),
                    advertised_modified_at=on_demand.get("advertised_modified_at"),
                    on_demand_enabled=bool(enabled), always_on=not enabled,
                    on_demand_locked=bool(on_demand.get("on_demand_locked")), bgp_signal=bgp_signal,
                    approved=approved, auto_advertise_withdraw=None if auto_withdraw is None else bool(auto_withdraw))

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
        """Protected now: advertised on demand, or always-on (Cloudflare advertises it all the time,
        unless the prefix is still pending approval)."""
        if not state:
            return False
        if state.get("always_on"):
            return state.get("approved") != "P"
        return bool(state.get("advertised"))

    def describe(self, state):
        """What the provider says, for the status table and the Test."""
        if state.get("always_on"):
            text = "always-on" if state.get("approved") != "P" else "always-on, pending approval"
        else:
            text = "advertised" if state.get("advertised") else "withdrawn"
        if state.get("auto_advertise_withdraw"):
            text += ", auto advertise/withdraw by route"
        return text

    def snapshot(self, state):
        return dict(advertised=state["advertised"], cidr=state["cidr"], prefix_id=state["prefix_id"],
                    bgp_prefix_id=state["bgp_prefix_id"], always_on=state["always_on"])

    def activation(self, state, snapshot):
        wanted = self._wanted(state, True)
        if state.get("auto_advertise_withdraw") and not state["always_on"]:
            self.warn("auto_advertise_withdraw is on for prefix %s (%s): Cloudflare advertises it only while the "
                      "Magic routing table has a matching route, and withdraws it when none is left, whatever "
                      "this run asked. Check the Magic Transit routes (tunnels) if it stays withdrawn"
                      % (state["prefix_id"], state["cidr"]))
        return wanted

    def restoration(self, state, snapshot):
        # A prefix advertised before the incident stays advertised.
        return self._wanted(state, bool(snapshot.get("advertised")))

    def release(self, state):
        return self._wanted(state, False)

    def _wanted(self, state, advertised):
        what = "advertise" if advertised else "withdraw"
        if state["always_on"]:
            # Cloudflare advertises it statically: there is nothing to switch, and no call would be accepted.
            self.warn("prefix %s (%s) is always-on (on-demand advertisement is not enabled): Cloudflare advertises "
                      "it all the time, so there is nothing to %s; no call was made%s" % (
                          state["prefix_id"], state["cidr"], what,
                          "" if state.get("approved") != "P" else
                          ". It is still pending approval by Cloudflare and not advertised yet"))
            return {}
        wanted = dict(advertised=advertised)
        if bool(state["advertised"]) == advertised:
            return wanted
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

    def matches(self, state, wanted):
        return all(bool(state.get(k)) == v for k, v in wanted.items())

    def apply(self, state, wanted):
        advertised = wanted["advertised"]
        if self.params["advertisement_api"] != "bgp_status" and not state["bgp_prefix_id"]:
            raise ProviderError(self.name, "Cloudflare's answer for prefix %s has no BGP prefix id to change"
                                % state["prefix_id"], hint="Set bgp_prefix_id (the Test lists the prefix's BGP prefixes)")
        if self.params["advertisement_api"] == "bgp_status":
            answer = _object(self.call("PATCH", "%s/bgp/status" % self._prefix_path, {"advertised": advertised}))
        else:
            answer = _object(_object(self.call("PATCH", "%s/bgp/prefixes/%s" % (
                self._prefix_path, state["bgp_prefix_id"]), {"on_demand": {"advertised": advertised}})).get("on_demand"))
        return self._answered(state, answer)

    @staticmethod
    def _answered(state, answer):
        """The state after a change, from the change's own answer when it says the advertisement.

        ``advertised`` is the intended state in every answer, reads included (REFERENCE §1: there
        is no in-progress field, and re-reading verifies nothing), so an answer that reports it is
        what ``wait`` waits for: reading again would only cost a call against the rate limit. An
        answer without it (every field is optional in the spec) returns None: ``wait`` reads."""
        if not isinstance(answer.get("advertised"), bool):
            return None
        return dict(state, advertised=answer["advertised"],
                    advertised_modified_at=answer.get("advertised_modified_at", state.get("advertised_modified_at")))

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
        if state["always_on"]:
            pending = state.get("approved") == "P"
            findings.append(Finding("always_on", not pending, "the prefix is always-on (on-demand advertisement is not "
                                    "enabled): Cloudflare advertises it all the time; activation and withdrawal "
                                    "leave it as it is%s" % (
                                        ": it is still PENDING approval by Cloudflare and not advertised yet"
                                        if pending else ""), level="warning"))  # this integration never acts
        else:
            findings.append(Finding("on_demand", True, "on-demand advertisement is enabled"))
            findings.append(Finding("locked", not state["on_demand_locked"], "advertisement is %s" % (
                "locked (on_demand_locked): changes will be refused" if state["on_demand_locked"] else "not locked"),
                level="warning" if state["on_demand_locked"] else "ok"))
            findings.append(Finding("advertised", True, "the prefix is %s" % (
                "advertised now (withdrawal leaves a prefix advertised before the incident advertised)"
                if state["advertised"] else "not advertised now")))
        if state["auto_advertise_withdraw"] is not None:
            findings.append(Finding("auto_advertise_withdraw", True, "auto_advertise_withdraw is %s" % (
                "ON: Cloudflare advertises the prefix only while the Magic routing table has a matching route, "
                "and withdraws it when none is left, whatever activation asked" if state["auto_advertise_withdraw"]
                else "off: advertisement follows only the API calls"),
                level="warning" if state["auto_advertise_withdraw"] else "ok"))
        findings.append(Finding("write", True, "write permission cannot be checked without a write; the token "
                                "needs %s, and Activate names it if it is missing" % PERMISSIONS, level="ok"))
        return findings


def _object(value):
    """The spec makes every result member optional and ``result`` may even be a string: read
    what is there as a dict."""
    return value if isinstance(value, dict) else {}
