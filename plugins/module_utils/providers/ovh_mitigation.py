# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""OVHcloud: the IP's Edge Network Firewall (default), or the retired permanent mitigation.

OVH retired the permanent-mitigation option on 2025-09-08: its calls still answer 2xx but
protect nothing. The default ``mode: edge_firewall`` therefore enables the Edge Network
Firewall for the IP (creating its firewall object when absent) and disables it on withdraw;
the rules are the customer's, set up beforehand. ``mode: permanent_mitigation`` keeps the old
calls for whoever still needs them, with a warning.

Requests are signed by python-ovh (the official client); ``api_url`` points it elsewhere
(the sandbox). The IP block's ``/`` is percent-encoded in paths.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from urllib.parse import quote, unquote

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import (
    Finding, Findings, Provider, wait_for)
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import (
    attempts_made, refuse_redirects, shared_adapter)
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import IP, NETWORK

ENDPOINTS = ["ovh-eu", "ovh-ca", "ovh-us", "kimsufi-eu", "kimsufi-ca", "soyoustart-eu", "soyoustart-ca"]
PENDING = ("enableFirewallPending", "disableFirewallPending")
RETIRED = ("OVH retired permanent mitigation on 2025-09-08: these calls still answer but no longer protect the IP. "
           "Use mode=edge_firewall")
MODES = {
    # mode: the calls it makes (method, path template) — what the consumer key must allow
    "edge_firewall": (("GET", "/ip/{block}/firewall/{ip}"), ("GET", "/ip/{block}/firewall/{ip}/rule"),
                      ("POST", "/ip/{block}/firewall"), ("PUT", "/ip/{block}/firewall/{ip}"),
                      ("DELETE", "/ip/{block}/firewall/{ip}"), ("GET", "/ip/{block}")),
    "permanent_mitigation": (("GET", "/ip/{block}/mitigation/{ip}"), ("POST", "/ip/{block}/mitigation"),
                             ("DELETE", "/ip/{block}/mitigation/{ip}"), ("GET", "/ip/{block}")),
}
DISCOVERY = ("GET", "/ip")  # GET /ip?ip=<ip>: the account's blocks that contain the IP


class OvhMitigation(Provider):
    name = "ovh_mitigation"
    title = "OVHcloud"
    wait_sleep = 5.0
    options = dict(
        endpoint=dict(type="str", default="ovh-eu", choices=ENDPOINTS, fallback=(env_fallback, ["OVH_ENDPOINT"])),
        application_key=dict(type="str", required=True, no_log=True,
                             fallback=(env_fallback, ["OVH_APPLICATION_KEY"])),
        application_secret=dict(type="str", required=True, no_log=True,
                                fallback=(env_fallback, ["OVH_APPLICATION_SECRET"])),
        consumer_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["OVH_CONSUMER_KEY"])),
        ip=dict(type="str", required=True),
        ip_block=dict(type="str"),
        mode=dict(type="str", default="edge_firewall", choices=list(MODES)),
    )
    shapes = dict(ip=IP, ip_block=NETWORK)
    identity = ("ip",)

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self.calls = []
        self.block = None  # without ip_block: discovered from the account (GET /ip?ip=), never guessed
        try:
            self.ip = str(ipaddress.ip_address(params["ip"]))
            if params.get("ip_block"):
                self.block = str(ipaddress.ip_network(params["ip_block"], strict=False))
        except ValueError as exc:
            self.ip = None
            self._bad_input = str(exc)
        else:
            self._bad_input = None
            if self.block and ipaddress.ip_address(self.ip) not in ipaddress.ip_network(self.block):
                self._bad_input = "ip %s is not inside ip_block %s" % (self.ip, self.block)
        if params["mode"] == "permanent_mitigation":
            self.warn(RETIRED)

    # -- plumbing ------------------------------------------------------------------------------------
    @property
    def api_url(self):
        return (self.params.get("api_url") or "").rstrip("/")

    def connect(self):
        import ovh  # python-ovh, the official client: it signs every request

        client = ovh.Client(endpoint=self.params["endpoint"], application_key=self.params["application_key"],
                            application_secret=self.params["application_secret"],
                            consumer_key=self.params["consumer_key"], timeout=self.params["timeout"])
        if self.api_url:
            client._endpoint = self.api_url  # python-ovh knows only named endpoints; the sandbox is a URL
        # python-ovh sends through one requests Session: give it our bounded retries (429, 5xx, resets).
        adapter = shared_adapter(self.params["retries"], 0.5)
        client._session.mount("https://", adapter)
        client._session.mount("http://", adapter)
        refuse_redirects(client._session, self.name, client._endpoint, self.secrets())  # no 3xx followed
        return client

    def call(self, method, path, data=None, absent_ok=False, query=None):
        """One signed call. Returns the decoded answer; with ``absent_ok`` a 404 returns None."""
        if self.http._time_delta is None:
            # python-ovh fetches the server time on the first signed call; fetch it here as a call
            # of its own, so that its failure is reported as GET /auth/time, not as our path.
            self.calls.append(("GET", "/auth/time"))
            self._mapped("GET", "/auth/time", lambda: self.http.time_delta)
        self.calls.append((method, path))
        if query:
            return self._mapped(method, path, lambda: self.http.get(path, **query), absent_ok)
        return self._mapped(method, path, lambda: self.http.call(method, path, data=data), absent_ok)

    def _mapped(self, method, path, send, absent_ok=False):
        """Run one python-ovh call; its exceptions become one ProviderError naming the call."""
        import ovh.exceptions as errors

        try:
            return send()
        except errors.ResourceNotFoundError as exc:
            if absent_ok:
                return None
            raise self._error(method, path, "Client::NotFound", exc, 404)
        except errors.NotGrantedCall as exc:
            raise self._error(method, path, "NOT_GRANTED_CALL", exc, 403, hint=(
                "The consumer key lacks the access rule for %s %s. Create a new one with the rules listed by the "
                "Test (ansible-playbook ddos.scrubbing.test) - see docs/providers/ovh_mitigation.md"
                % (method, unquote(path))))
        except (errors.InvalidKey, errors.InvalidCredential, errors.NotCredential, errors.Forbidden) as exc:
            raise self._error(method, path, type(exc).__name__, exc, 403, hint=(
                "Check application_key, application_secret and consumer_key (a consumer key is only valid once "
                "validated at its validationUrl, and only with the application that requested it)"))
        except errors.BadParametersError as exc:
            hint = ("Check application_secret, and the controller's clock (OVH signatures embed the time)"
                    if "signature" in str(exc).lower() else "")
            raise self._error(method, path, "Client::BadRequest", exc, 400, hint=hint)
        except errors.ResourceConflictError as exc:
            raise self._error(method, path, "Client::Conflict", exc, 409,
                              hint="OVH is still applying a previous change; run again in a minute")
        except errors.HTTPError as exc:
            # urllib3 retried connection failures and timeouts until its budget was spent.
            raise self._error(method, path, None, exc, None, hint="Check api_url/endpoint and the network",
                              attempts=self.params["retries"] + 1)
        except errors.APIError as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            raise self._error(method, path, type(exc).__name__, exc, status)

    def _error(self, method, path, code, exc, status, hint="", attempts=None):
        message = str(exc).replace("\n", " ").strip() or type(exc).__name__
        if attempts is None:
            attempts = attempts_made(getattr(exc, "response", None))
        if attempts > 1:
            message = "%s (after %d attempts)" % (message, attempts)
        return ProviderError(self.name, redact(message, self.secrets()), status=status, code=code,
                             hint=hint, method=method, path=path)

    def api_calls(self):
        return list(self.calls)

    def close(self):
        if self._http is not None:
            self._http._session.adapters.clear()  # the adapter is shared: keep its pool
            self._http._session.close()

    def _path(self, template):
        if self._bad_input:  # before any call: a bad address must cause no request at all
            self.fail(self._bad_input, hint="Give ip as one IPv4 address and ip_block as the block that contains it "
                                            "(e.g. ip=203.0.113.10, ip_block=203.0.113.0/24)")
        if self.block is None and "{block}" in template:
            self.block = self._discover_block()
        return template.format(block=quote(self.block or "", safe=""), ip=self.ip)

    def _discover_block(self):
        """The account's IP block that contains ``ip`` (OVH filters "contains or equals")."""
        found = [b for b in (self.call("GET", "/ip", query={"ip": self.ip}) or []) if _network(b)]
        if not found:
            raise ProviderError(self.name, "ip %s is in no IP block of this OVH account" % self.ip,
                                hint="The account's IP blocks are: %s. Check ip, and that endpoint (ovh-eu, ovh-ca, "
                                     "ovh-us, kimsufi-*, soyoustart-*) matches the account" % self._owned_blocks())
        block = str(max((_network(b) for b in found), key=lambda net: net.prefixlen))
        if len(found) > 1:
            self.warn("ip %s is in %d IP blocks of the account (%s); using the most specific, %s. Set ip_block to "
                      "choose another" % (self.ip, len(found), ", ".join(sorted(found)), block))
        return block

    # -- the contract -----------------------------------------------------------------------------------
    def read(self):
        if self.params["mode"] == "permanent_mitigation":
            item = self.call("GET", self._path("/ip/{block}/mitigation/{ip}"), absent_ok=True)
            if item is None:
                self._check_block()
            return dict(mode="permanent_mitigation", ip=self.ip, ip_block=self.block, exists=item is not None,
                        enabled=bool(item and item.get("permanent")), state=(item or {}).get("state"))
        fw = self.call("GET", self._path("/ip/{block}/firewall/{ip}"), absent_ok=True)
        if fw is None:
            self._check_block()
            rules = 0
        else:
            rules = len(self.call("GET", self._path("/ip/{block}/firewall/{ip}/rule")) or [])
        return dict(mode="edge_firewall", ip=self.ip, ip_block=self.block, exists=fw is not None,
                    enabled=bool(fw and fw.get("enabled")), state=(fw or {}).get("state"), rules=rules)

    def _check_block(self):
        """An absent object is normal; an IP block absent from the account is a mistake."""
        if not self.params.get("ip_block"):
            return  # discovered from the account's own list: it exists
        if self.call("GET", self._path("/ip/{block}"), absent_ok=True) is None:
            raise ProviderError(self.name, "the IP block %s is not in this OVH account" % self.block,
                                hint="The account's IP blocks are: %s. Check ip/ip_block (or leave ip_block out: it "
                                     "is then discovered), and that endpoint (ovh-eu, ovh-ca, ovh-us, kimsufi-*, "
                                     "soyoustart-*) matches the account" % self._owned_blocks())

    def _owned_blocks(self):
        try:
            owned = [b for b in (self.call("GET", "/ip") or []) if isinstance(b, str)]
        except ProviderError:  # a consumer key without GET /ip: say so rather than nothing
            return "(not listed: the consumer key lacks GET /ip)"
        return ", ".join(sorted(owned)) or "none"

    def is_active(self, state):
        return bool(state and state.get("enabled"))

    def snapshot(self, state):
        return dict(mode=state["mode"], ip=state["ip"], ip_block=state["ip_block"], exists=state["exists"],
                    enabled=state["enabled"])

    def activation(self, state, snapshot):
        return dict(exists=True, enabled=True)

    def restoration(self, state, snapshot):
        # Back to exactly what was there: an object that did not exist before is removed again
        # (a firewall object only while it holds no rules: rules are never deleted).
        return dict(exists=bool(snapshot.get("exists")), enabled=bool(snapshot.get("enabled")))

    def release(self, state):
        if state["mode"] == "permanent_mitigation":
            return dict(exists=False, enabled=False)
        return dict(enabled=False)

    def matches(self, state, wanted):
        # While a change is pending, "enabled" is about to flip: never take it as converged.
        if state.get("state") in PENDING:
            return False
        if wanted.get("exists") is False and state["exists"] and not state["enabled"] and state.get("rules"):
            return True  # someone added rules to the object we created: keep it, disabled
        return all(state.get(k) == v for k, v in wanted.items())

    def apply(self, state, wanted):
        if state["mode"] == "permanent_mitigation":
            if wanted["enabled"] and not state["exists"]:
                self.call("POST", self._path("/ip/{block}/mitigation"), {"ipOnMitigation": self.ip})
            elif not wanted["enabled"] and state["exists"]:
                self.call("DELETE", self._path("/ip/{block}/mitigation/{ip}"))
            return None
        if state["state"] in PENDING:  # a change during a pending one is refused by OVH
            state = self._wait_not_pending()
            if self.matches(state, wanted):
                return state
        if wanted.get("exists") is False and state["exists"]:
            if state["enabled"]:
                self.call("PUT", self._path("/ip/{block}/firewall/{ip}"), {"enabled": False})
                state = self._wait_not_pending()
            if not state["rules"]:
                self.call("DELETE", self._path("/ip/{block}/firewall/{ip}"))
            return None
        if not state["exists"]:
            self.call("POST", self._path("/ip/{block}/firewall"), {"ipOnFirewall": self.ip})
        self.call("PUT", self._path("/ip/{block}/firewall/{ip}"), {"enabled": wanted["enabled"]})
        return None  # OVH answers void; the pending state is read back while waiting

    def _wait_not_pending(self):
        """OVH refuses a change while another is pending on the IP: wait for it to finish."""
        return wait_for(self, lambda current: current["state"] not in PENDING, self._wait_timeout(),
                        self.params.get("wait_sleep"), what="kept a change pending")

    # -- the Test button -----------------------------------------------------------------------------------
    def test(self):
        findings = Findings()
        credential = self.call("GET", "/auth/currentCredential")
        findings.append(Finding("credentials", True, "the application and consumer key are valid (status %s)"
                                % credential.get("status")))
        rules = [r for r in credential.get("rules") or [] if isinstance(r, dict)]
        calls = MODES[self.params["mode"]]
        if not self.params.get("ip_block"):
            # The block is discovered with GET /ip?ip=: that rule is checked before using it.
            calls = (DISCOVERY,) + calls
            if not _granted(rules, *DISCOVERY):
                return self._missing_rules(findings, [DISCOVERY], calls)
        # OVH grants a call when a rule of the same method has a path pattern (``*`` = anything)
        # matching the concrete path; check every call this mode makes.
        missing = [(m, t) for m, t in calls if not _granted(rules, m, unquote(self._path(t)))]
        if missing:
            return self._missing_rules(findings, missing, calls)
        findings.append(Finding("access_rules", True, "the consumer key allows every call %s needs"
                                % self.params["mode"]))
        state = self.read()
        findings.state = state
        if not self.params.get("ip_block"):
            findings.append(Finding("ip_block", True, "%s is in the account's IP block %s (discovered; set ip_block "
                                    "to pin it)" % (self.ip, self.block)))
        if self.params["mode"] == "permanent_mitigation":
            findings.append(Finding("retired", False, RETIRED, level="warning"))
            findings.append(Finding("mitigation", True, "permanent mitigation is %s for %s" % (
                "on" if state["enabled"] else "off", self.ip)))
            return findings
        if not state["exists"]:
            findings.append(Finding("firewall", True, "%s has no Edge Network Firewall object yet; activation "
                                    "creates it, with no rules" % self.ip, level="warning"))
            return findings
        rule_count = state["rules"]
        findings.append(Finding("firewall", True, "the Edge Network Firewall of %s is %s" % (
            self.ip, "enabled" if state["enabled"] else "disabled")))
        findings.append(Finding("rules", bool(rule_count), "%d firewall rule(s) configured%s" % (
            rule_count, "" if rule_count else ": activating it would filter nothing; add your rules first"),
            level=None if rule_count else "warning"))
        return findings

    def _missing_rules(self, findings, missing, calls):
        findings.append(Finding("access_rules", False, "the consumer key lacks the access rule(s) %s; create a new "
                                "consumer key with: %s" % (
                                    ", ".join("%s %s" % (m, _rule_path(t)) for m, t in missing),
                                    ", ".join("%s %s" % rule for rule in _needed_rules(calls)))))
        return findings


def _network(value):
    try:
        return ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return None


def _granted(rules, method, path):
    return any(r.get("method") == method and fnmatch.fnmatchcase(path, str(r.get("path", ""))) for r in rules)


def _rule_path(template):
    """The access rule that grants a call: its IP segments as ``*`` (as typed on OVH's token page)."""
    return template.replace("{block}", "*").replace("{ip}", "*")


def _needed_rules(calls):
    return sorted({(m, _rule_path(t)) for m, t in calls})
