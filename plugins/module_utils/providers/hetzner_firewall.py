# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Hetzner Robot: the dedicated server's stateless firewall, switched on and off.

Robot's ``POST /firewall/{server}`` replaces the WHOLE configuration, so a status-only POST
wipes the customer's rules. Every write here re-sends the current rules and flags unchanged,
and changes only ``status``. The rules themselves are the customer's, set up in Robot
beforehand. Writes are form-encoded; the status is ``in process`` for 20–30 s after a write.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import (
    Finding, Findings, Provider, wait_for)
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import HttpClient, decode
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import IP, POSITIVE_INT

API_URL = "https://robot-ws.your-server.de"
RULE_FIELDS = ("name", "ip_version", "dst_ip", "src_ip", "dst_port", "src_port", "protocol", "tcp_flags", "action")
IN_PROCESS = "in process"
# This module never writes rules; with none, activation applies no filtering of the customer's
# and Robot's implicit deny drops every incoming packet.
NO_INPUT_RULES = ("the firewall has no input rules: activating it applies none of your filtering, and Robot's "
                  "implicit deny then drops ALL incoming traffic (SSH included). Add your rules in Robot > Server > "
                  "Firewall first")


def parse_error(response):
    """Robot answers ``{"error": {"status", "code", "message", ...}}``."""
    body = decode(response)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = error.get("message") or ""
        if error.get("invalid"):
            message += " (invalid: %s)" % ", ".join(error["invalid"])
        limit = _limit(error)
        if limit:
            message += " (Robot allows %s requests per %s s)" % limit
        return error.get("code"), message
    return None, "HTTP %s" % response.status_code


def rate_limit_wait(response):
    """Robot signals its rate limit as 403 RATE_LIMIT_EXCEEDED, not 429."""
    if response.status_code != 403:
        return None
    body = decode(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("code") != "RATE_LIMIT_EXCEEDED":
        return None
    # `interval` is the length of Robot's window: waiting it out is the one safe pause.
    return float(error.get("interval") or 1)


def _limit(error):
    """(max requests, interval) of a rate-limit answer. The docs name the field max_request,
    the live API sends max_requests: read both."""
    maximum = error.get("max_requests", error.get("max_request"))
    if maximum is None or error.get("interval") is None:
        return None
    return maximum, error["interval"]


class HetznerFirewall(Provider):
    name = "hetzner_firewall"
    title = "Hetzner Robot firewall"
    default_api_url = API_URL
    wait_sleep = 5.0
    shapes = {"server_ip": IP, "server_number": POSITIVE_INT}
    identity = ("server_ip", "server_number")
    options = dict(
        robot_user=dict(type="str", required=True,
                        fallback=(env_fallback, ["HETZNER_ROBOT_USER", "HROBOT_API_USER"])),
        robot_password=dict(type="str", required=True, no_log=True,
                            fallback=(env_fallback, ["HETZNER_ROBOT_PASSWORD", "HROBOT_API_PASSWORD"])),
        server_ip=dict(type="str"),
        server_number=dict(type="int"),
    )
    required_one_of = [("server_ip", "server_number")]
    mutually_exclusive = [("server_ip", "server_number")]

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self._number = params.get("server_number")

    def connect(self):
        return HttpClient(self.name, self.api_url, timeout=self.params["timeout"], retries=self.params["retries"],
                          auth=(self.params["robot_user"], self.params["robot_password"]),
                          secrets=self.secrets(), error_parser=parse_error, hint=self.hint,
                          rate_limit_wait=rate_limit_wait, sleep=self.sleep)

    def hint(self, status, code, message, method, path):
        if status == 401:
            return ("Robot rejected the login. Use a Robot web-service user (Robot > Settings > Web service and app "
                    "settings; the user name starts with #ws+), not your Robot login nor Hetzner Cloud credentials. "
                    "It is not retried: three failed logins block this IP for 10 minutes")
        if code == "BLOCKED":
            return "Robot blocks this IP for 10 minutes after three failed logins; fix the credentials and wait"
        if code == "SERVER_NOT_FOUND":
            return ("This server is not in the Robot account: use the server number, or the main IPv4 shown in "
                    "Robot (not a failover or additional IP)")
        if code == "FIREWALL_IN_PROCESS":
            return "Robot is still applying a previous change; run again in a minute"
        if code == "FIREWALL_NOT_AVAILABLE":
            return "This server's product has no Robot firewall"
        return ""

    # -- the server --------------------------------------------------------------------------------
    def server_number(self):
        if self._number is None:
            wanted = self.params["server_ip"]
            for item in self.http.get("/server") or []:
                server = item.get("server", item)
                if server.get("server_ip") == wanted:
                    self._number = server["server_number"]
                    break
            else:
                raise ProviderError(self.name, "no server with main IP %s in this Robot account" % wanted,
                                    hint="Use the main IPv4 shown in Robot (Server tab), not a failover or "
                                         "additional IP, or give server_number")
        return self._number

    # -- the contract --------------------------------------------------------------------------------
    def read(self):
        firewall = self.http.get("/firewall/%s" % self.server_number())["firewall"]
        return dict(server_number=firewall.get("server_number"), server_ip=firewall.get("server_ip"),
                    status=firewall.get("status"), filter_ipv6=bool(firewall.get("filter_ipv6")),
                    whitelist_hos=bool(firewall.get("whitelist_hos")), port=firewall.get("port") or "main",
                    rules={d: [dict((k, r.get(k)) for k in RULE_FIELDS) for r in (firewall.get("rules") or {}).get(d)
                               or []] for d in ("input", "output")})

    def is_active(self, state):
        return bool(state and state.get("status") == "active")

    def snapshot(self, state):
        if state["status"] == IN_PROCESS:
            # Someone's change is still being applied: only its outcome says whether the
            # firewall was on before the incident, so wait for it (reads only) instead of guessing.
            state = self._wait_out_in_process()
        # The rules are not part of the snapshot: they stay the customer's, and every write
        # re-sends them as they are at that moment (edits made during the incident survive).
        # The flags are kept for the record only; writes re-send the current ones too.
        return dict(server_number=state["server_number"], status=state["status"],
                    filter_ipv6=state["filter_ipv6"], whitelist_hos=state["whitelist_hos"], port=state["port"])

    def activation(self, state, snapshot):
        if state["status"] != "active" and not state["rules"]["input"]:
            self.warn(NO_INPUT_RULES)
        return dict(status="active")

    def restoration(self, state, snapshot):
        if snapshot.get("server_number") not in (None, state["server_number"]):
            # Another server's status would be a guess for this one: refuse before any write.
            raise ProviderError(self.name, "the snapshot was taken on server %s, not on server %s"
                                % (snapshot["server_number"], state["server_number"]),
                                hint="Pass the snapshot this integration's activation returned")
        if snapshot.get("status") not in ("active", "disabled"):
            raise ProviderError(self.name, "the snapshot has no valid status (%r)" % (snapshot.get("status"),),
                                hint="Pass the snapshot the activation returned, or withdraw without one "
                                     "(the firewall is then disabled)")
        return dict(status=snapshot["status"])

    def release(self, state):
        return dict(status="disabled")

    def apply(self, state, wanted):
        if state["status"] == IN_PROCESS:
            state = self._wait_out_in_process()
            if self.matches(state, wanted):
                return state  # the change that was in process already gave what we want: no write
        form = {"status": wanted["status"], "filter_ipv6": _flag(state["filter_ipv6"]),
                "whitelist_hos": _flag(state["whitelist_hos"]), "port": state["port"]}
        for direction in ("input", "output"):
            for index, rule in enumerate(state["rules"][direction]):
                for field in RULE_FIELDS:
                    if rule.get(field) not in (None, ""):
                        form["rules[%s][%d][%s]" % (direction, index, field)] = rule[field]
        firewall = self.http.request("POST", "/firewall/%s" % state["server_number"], data=form)["firewall"]
        return dict(state, status=firewall.get("status"))

    def _wait_out_in_process(self):
        """A write during 'in process' fails on Robot: let the previous change finish first."""
        try:
            return wait_for(self, lambda current: current["status"] != IN_PROCESS, self._wait_timeout(),
                            self.params.get("wait_sleep"))
        except ProviderError as exc:
            if exc.method is not None:  # an API error while reading: already says what is wrong
                raise
            # The runner's timeout text speaks of "the change accepted"; here we sent nothing yet.
            raise ProviderError(self.name, "Robot was still applying an earlier change to server %s ('in process') "
                                "after wait_timeout=%ss; nothing was sent" % (self._number, self._wait_timeout()),
                                hint="Check the server's Firewall tab in Robot, then run again (or raise "
                                     "wait_timeout): the run is idempotent")

    def settled(self, state, wanted):
        return state["status"] == wanted["status"]

    # -- the Test button -------------------------------------------------------------------------------
    def test(self):
        findings = Findings()
        state = self.read()
        findings.state = state
        findings.append(Finding("login", True, "the Robot web-service login works"))
        findings.append(Finding("server", True, "server %s (%s) found; its firewall is %s" % (
            state["server_number"], state["server_ip"], state["status"])))
        inbound = len(state["rules"]["input"])
        if inbound:
            findings.append(Finding("rules", True, "%d input rule(s) and %d output rule(s) are configured" % (
                inbound, len(state["rules"]["output"]))))
        else:
            findings.append(Finding("rules", False, NO_INPUT_RULES, level="warning"))
        if not state["filter_ipv6"]:
            # a warning: during an attack the lockdown leaves every IPv6 packet through
            findings.append(Finding("ipv6", True, "filter_ipv6 is off: IPv6 traffic is not filtered, also while the "
                                    "firewall is active; turn it on in Robot if the server has IPv6 traffic",
                                    level="warning"))
        return findings


def _flag(value):
    return "true" if value else "false"
