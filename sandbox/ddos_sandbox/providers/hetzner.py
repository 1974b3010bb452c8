"""Hetzner Robot web service simulator: the dedicated servers' stateless firewall.

Hetzner publishes no machine-readable spec for Robot, so this simulator validates the form
fields itself, the way Robot answers (400 INVALID_INPUT listing the invalid fields), and
reproduces what the collection must survive:
- HTTP basic auth with web-service users (``#ws+…``); 401 for bad credentials, and after
  three failed logins the caller is blocked (403 ``BLOCKED``) for a while — the reason a 401
  must never be retried;
- ``POST /firewall/{server}`` REPLACES the whole configuration: a POST with only ``status``
  wipes the rules (the trap), exactly like the real API;
- after a POST the status is ``in process`` for ``apply_delay`` seconds, and writes during
  it fail with 409 ``FIREWALL_IN_PROCESS``;
- rate limiting is a 403 ``RATE_LIMIT_EXCEEDED`` (``rate_limited`` scenario knob: the next N
  calls get it);
- servers are addressed by number or (deprecated) by main IP; others get 404 SERVER_NOT_FOUND.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import re
import time

from ddos_sandbox.core import HttpError, Simulator, route

RULE_FIELDS = ("name", "ip_version", "dst_ip", "src_ip", "dst_port", "src_port", "protocol", "tcp_flags", "action")
PROTOCOLS = ("tcp", "udp", "gre", "icmp", "ipip", "ah", "esp")
MAX_RULES = 10
NAME = re.compile(r"^[a-zA-Z0-9 .\-+_@]*$")
PORT = re.compile(r"^\d{1,5}(-\d{1,5})?$")
RULE_KEY = re.compile(r"^rules\[(input|output)\]\[(\d+)\]\[(\w+)\]$")

SERVER = 321
SERVER_IP = "192.0.2.10"
BARE_SERVER = 322
BARE_SERVER_IP = "192.0.2.20"


def _rule(name, action="accept", **fields):
    rule = {k: None for k in RULE_FIELDS}
    rule.update(name=name, action=action, **fields)
    return rule


DEFAULT_SCENARIO = {
    "users": {"#ws+sandbox": "sandbox-robot-password"},
    "servers": {
        str(SERVER): {
            "server_ip": SERVER_IP, "status": "disabled", "filter_ipv6": False, "whitelist_hos": True,
            "port": "main",
            "rules": {
                "input": [
                    _rule("Allow SSH", ip_version="ipv4", dst_port="22", protocol="tcp", src_ip="198.51.100.0/24"),
                    _rule("Allow HTTPS", ip_version="ipv4", dst_port="443", protocol="tcp"),
                    _rule("Replies", ip_version="ipv4", dst_port="32768-65535", protocol="tcp", tcp_flags="ack"),
                ],
                "output": [_rule("Allow all")],
            },
        },
        str(BARE_SERVER): {"server_ip": BARE_SERVER_IP, "status": "disabled", "filter_ipv6": False,
                           "whitelist_hos": True, "port": "main", "rules": {"input": [], "output": []}},
    },
    "apply_delay": 0,
    "rate_limited": 0,
}


class HetznerSimulator(Simulator):
    name = "hetzner"
    prefix = "/hetzner"

    def reset(self, scenario=None):
        scenario = copy.deepcopy(scenario or DEFAULT_SCENARIO)
        self.users = scenario.get("users", {})
        self.servers = {int(k): v for k, v in scenario.get("servers", {}).items()}
        for server in self.servers.values():
            server["busy_until"] = 0.0
        self.apply_delay = float(scenario.get("apply_delay", 0))
        self.rate_limited = int(scenario.get("rate_limited", 0))
        self.failed_logins = 0
        self.blocked_until = 0.0

    def state(self):
        return {str(number): {"status": self._status(s), "filter_ipv6": s["filter_ipv6"],
                              "whitelist_hos": s["whitelist_hos"], "port": s["port"],
                              "rules": copy.deepcopy(s["rules"])} for number, s in self.servers.items()}

    def error_body(self, status, message, code=None, extra=None):
        body = {"status": status, "code": code or {401: "UNAUTHORIZED", 404: "NOT_FOUND"}.get(status, "ERROR"),
                "message": message}
        body.update(extra or {})
        return {"error": body}

    def authenticate(self, request):
        now = time.time()
        if now < self.blocked_until:
            raise HttpError(403, "Your IP is blocked for 10 minutes after 3 failed logins", "BLOCKED")
        user, password = _basic(request.headers.get("Authorization", ""))
        if user is None or self.users.get(user) != password:
            self.failed_logins += 1
            if self.failed_logins >= 3:
                self.blocked_until = now + 600
            raise HttpError(401, "Unauthorized", "UNAUTHORIZED")
        self.failed_logins = 0
        if self.rate_limited > 0:
            self.rate_limited -= 1
            raise HttpError(403, "rate limit exceeded", "RATE_LIMIT_EXCEEDED", {"max_requests": 200, "interval": 1})

    # -- helpers -----------------------------------------------------------------------------------
    def _server(self, request):
        key = request.params["server"]
        if key.isdigit() and int(key) in self.servers:
            return self.servers[int(key)]
        for server in self.servers.values():
            if server["server_ip"] == key:
                return server
        raise HttpError(404, "Server not found", "SERVER_NOT_FOUND")

    def _status(self, server):
        return "in process" if time.time() < server["busy_until"] else server["status"]

    def _view(self, number, server):
        return {"firewall": {"server_ip": server["server_ip"], "server_number": number,
                             "status": self._status(server), "filter_ipv6": server["filter_ipv6"],
                             "whitelist_hos": server["whitelist_hos"], "port": server["port"],
                             "rules": copy.deepcopy(server["rules"])}}

    def _number(self, server):
        return next(n for n, s in self.servers.items() if s is server)

    # -- routes ------------------------------------------------------------------------------------
    @route("GET", "/server")
    def list_servers(self, request):
        return [{"server": {"server_ip": s["server_ip"], "server_number": n, "server_name": "sandbox-%d" % n,
                            "product": "AX41", "status": "ready"}} for n, s in sorted(self.servers.items())]

    @route("GET", "/firewall/{server}")
    def get_firewall(self, request):
        server = self._server(request)
        return self._view(self._number(server), server)

    @route("POST", "/firewall/{server}")
    def post_firewall(self, request):
        server = self._server(request)
        if self._status(server) == "in process":
            raise HttpError(409, "The firewall is being updated", "FIREWALL_IN_PROCESS")
        form = request.form
        config = _parse_form(form)
        # The real API replaces the whole configuration: rules not sent are gone.
        server.update(status=config["status"], filter_ipv6=config["filter_ipv6"],
                      whitelist_hos=config["whitelist_hos"], port=config["port"], rules=config["rules"])
        server["busy_until"] = time.time() + self.apply_delay
        return self._view(self._number(server), server)


def _basic(header):
    if not header.startswith("Basic "):
        return None, None
    try:
        user, _sep, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except ValueError:
        return None, None
    return user, password


def _parse_form(form):
    """Validate a firewall POST like Robot does; return the configuration it sets."""
    invalid = []
    allowed = {"status", "filter_ipv6", "whitelist_hos", "port", "template_id"}
    for key in form:
        if key not in allowed and not RULE_KEY.match(key):
            invalid.append(key)
    status = form.get("status")
    if status not in ("active", "disabled"):
        invalid.append("status")
    for flag in ("filter_ipv6", "whitelist_hos"):
        if flag in form and form[flag] not in ("true", "false"):
            invalid.append(flag)
    if form.get("port", "main") not in ("main", "kvm"):
        invalid.append("port")
    rules = {"input": {}, "output": {}}
    for key, value in form.items():
        match = RULE_KEY.match(key)
        if not match:
            continue
        direction, index, field = match.group(1), int(match.group(2)), match.group(3)
        if field not in RULE_FIELDS:
            invalid.append(key)
            continue
        rules[direction].setdefault(index, {})[field] = value or None
    result = {"input": [], "output": []}
    for direction, indexed in rules.items():
        if sorted(indexed) != list(range(len(indexed))) or len(indexed) > MAX_RULES:
            invalid.append("rules[%s]" % direction)
            continue
        for index in sorted(indexed):
            rule = {k: indexed[index].get(k) for k in RULE_FIELDS}
            problems = _rule_problems(rule)
            invalid.extend("rules[%s][%d][%s]" % (direction, index, p) for p in problems)
            result[direction].append(rule)
    if invalid:
        raise HttpError(400, "invalid input", "INVALID_INPUT", {"missing": None, "invalid": sorted(set(invalid))})
    return {"status": status, "filter_ipv6": form.get("filter_ipv6", "false") == "true",
            "whitelist_hos": form.get("whitelist_hos", "true") == "true", "port": form.get("port", "main"),
            "rules": result}


def _rule_problems(rule):
    problems = []
    if rule["action"] not in ("accept", "discard"):
        problems.append("action")
    if rule["name"] and (not NAME.match(rule["name"]) or len(rule["name"]) > 60):
        problems.append("name")
    if rule["ip_version"] not in (None, "ipv4", "ipv6"):
        problems.append("ip_version")
    if rule["ip_version"] is None and any(rule[k] for k in ("src_ip", "dst_ip", "protocol")):
        problems.append("ip_version")  # Robot: without ip_version, addresses and protocol are not allowed
    if rule["protocol"] not in (None,) + PROTOCOLS:
        problems.append("protocol")
    for field in ("src_ip", "dst_ip"):
        if rule[field]:
            try:
                ipaddress.ip_network(rule[field], strict=False)
            except ValueError:
                problems.append(field)
    for field in ("src_port", "dst_port"):
        if rule[field] and not PORT.match(rule[field]):
            problems.append(field)
    return problems


SIMULATOR = HetznerSimulator
