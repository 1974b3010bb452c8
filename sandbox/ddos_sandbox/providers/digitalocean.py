"""DigitalOcean Cloud Firewalls simulator (``/digitalocean/v2/firewalls...``).

Behaves like the real API where a lockdown client can get it wrong:

- ``PUT /v2/firewalls/{id}`` replaces the whole firewall: an omitted ``droplet_ids`` or
  ``tags`` detaches them, an omitted ``outbound_rules`` removes all egress.
- all-ports rules are *returned* as ``"0"`` (ICMP always ``"0"``) but ``"0"`` is *rejected*
  on input with 422 "You must specify a positive value for ports" (send ``"all"`` or
  ``"1-65535"``; for ICMP omit ``ports``) - so a GET pasted into a PUT fails.
- ``name`` must match ``^[a-zA-Z0-9][a-zA-Z0-9.-]+$`` (no spaces, no underscores).
- after a write, ``status`` is ``waiting`` and ``pending_changes`` lists every Droplet being
  reprogrammed until ``apply_delay`` seconds (scenario) have passed; then ``succeeded``/[].
- ``POST .../rules`` adds rules, ``DELETE .../rules`` removes only rules that match exactly
  (protocol, ports and targets); both answer 204 without a body.
- tokens carry scopes: ``firewall:read`` (reads), ``firewall:update`` (writes, 403 otherwise);
  a PUT that attaches Droplets or tags also needs ``droplet:read`` / ``tag:read`` (403
  otherwise) - ``sandbox-do-token-fw-only`` has only the two firewall scopes.
- errors use ``{"id": "...", "message": "...", "request_id": "..."}``; 429 is
  ``too_many_requests`` (inject it with a fault carrying ``Retry-After``).

Spec deviation, on purpose: the spec marks ``ports`` required in every rule, but the real
API refuses any ``ports`` on ICMP rules and accepts them omitted (doctl #278), so the
checker here does not require ``ports``; the simulator requires it for tcp/udp itself.

For the lockdown tests: ``ssh_open(firewall_id)`` and ``ssh_history`` (see ``_common``).
An inbound rule set is an allow-list: no inbound rule means nothing gets in.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import time
import uuid

from ddos_sandbox.core import HttpError, Response, Simulator, route
from ddos_sandbox.providers._common import ANY_V4, SSH_PORT, SshWatch, covers, now_iso, page_slice, port_in
from ddos_sandbox.spec import OpenApiChecker, load_spec

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]+$")
TARGET_KEYS = ("addresses", "droplet_ids", "load_balancer_uids", "kubernetes_ids", "tags")
POSITIVE_PORTS = "You must specify a positive value for ports"

FIREWALL = "6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c"       # web firewall, droplets + tags attached
FIREWALL_EMPTY = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"  # no rules, nothing attached
DROPLET = 8043964
DROPLET_2 = 8043965
LOAD_BALANCER = "4de7ac8b-495b-4884-9a69-1050c6793cd6"

TOKEN_RW = "sandbox-do-token-rw"
TOKEN_RO = "sandbox-do-token-ro"
TOKEN_FW_ONLY = "sandbox-do-token-fw-only"
READ, UPDATE = "firewall:read", "firewall:update"
DROPLET_READ, TAG_READ = "droplet:read", "tag:read"

DEFAULT_SCENARIO = {
    "tokens": {
        TOKEN_RW: {"scopes": [READ, UPDATE, DROPLET_READ, TAG_READ]},
        TOKEN_RO: {"scopes": [READ, DROPLET_READ, TAG_READ]},
        TOKEN_FW_ONLY: {"scopes": [READ, UPDATE]},
    },
    "firewalls": [
        {"id": FIREWALL, "name": "web-firewall", "created_at": "2024-05-23T21:24:00Z",
         "inbound_rules": [
             {"protocol": "tcp", "ports": "22", "sources": {"tags": ["gateway"], "addresses": ["18.0.0.0/8"]}},
             {"protocol": "tcp", "ports": "80", "sources": {"load_balancer_uids": [LOAD_BALANCER]}},
             {"protocol": "tcp", "ports": "443", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}},
             {"protocol": "udp", "ports": "0", "sources": {"droplet_ids": [DROPLET_2]}},
             {"protocol": "icmp", "ports": "0", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}},
         ],
         "outbound_rules": [
             {"protocol": "tcp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0", "::/0"]}},
             {"protocol": "udp", "ports": "53", "destinations": {"addresses": ["0.0.0.0/0", "::/0"]}},
         ],
         "droplet_ids": [DROPLET, DROPLET_2], "tags": ["web"]},
        {"id": FIREWALL_EMPTY, "name": "spare", "created_at": "2024-06-01T10:00:00Z",
         "inbound_rules": [], "outbound_rules": [], "droplet_ids": [], "tags": []},
    ],
    # Seconds a firewall stays "waiting" with pending_changes after a write.
    "apply_delay": 0,
}


def _relaxed_spec():
    """The DigitalOcean spec without ``ports`` required in rules (see module docstring)."""
    spec = load_spec("digitalocean.json")

    def walk(node):
        if isinstance(node, dict):
            req = node.get("required")
            if isinstance(req, list) and "ports" in req and "protocol" in req:
                node["required"] = [r for r in req if r != "ports"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(spec)
    return spec


class DigitalOceanSimulator(SshWatch, Simulator):
    name = "digitalocean"
    prefix = "/digitalocean"

    def __init__(self):
        # Spec paths already start with /v2, so the server is the bare prefix.
        self.checker = OpenApiChecker(_relaxed_spec(), "http://sandbox" + self.prefix)
        super().__init__()

    # -- state ----------------------------------------------------------------------------------
    def reset(self, scenario=None):
        scenario = copy.deepcopy(scenario or DEFAULT_SCENARIO)
        # A scenario that only describes firewalls keeps the bundled fake credentials.
        self.tokens = scenario.get("tokens") or copy.deepcopy(DEFAULT_SCENARIO["tokens"])
        self.apply_delay = float(scenario.get("apply_delay", 0))
        self.firewalls = {}
        for fw in scenario.get("firewalls", []):
            self.firewalls[fw["id"]] = {
                "id": fw["id"], "name": fw["name"], "created_at": fw.get("created_at", now_iso()),
                # Scenario rules are written in the API's *output* form ("0" = all ports).
                "inbound_rules": copy.deepcopy(fw.get("inbound_rules", [])),
                "outbound_rules": copy.deepcopy(fw.get("outbound_rules", [])),
                "droplet_ids": list(fw.get("droplet_ids", [])), "tags": list(fw.get("tags", [])),
                "pending": None,  # (visible_at, [pending_change, ...]) while apply_delay runs
            }
        self._reset_ssh()

    def view(self, fw):
        pending = fw["pending"]
        if pending is not None and time.time() >= pending[0]:
            fw["pending"] = pending = None
        return {"id": fw["id"], "name": fw["name"], "status": "waiting" if pending else "succeeded",
                "created_at": fw["created_at"],
                "inbound_rules": copy.deepcopy(fw["inbound_rules"]),
                "outbound_rules": copy.deepcopy(fw["outbound_rules"]),
                "droplet_ids": list(fw["droplet_ids"]), "tags": list(fw["tags"]),
                "pending_changes": copy.deepcopy(pending[1]) if pending else []}

    def state(self):
        return {"firewalls": {fid: self.view(fw) for fid, fw in self.firewalls.items()}}

    def ssh_open(self, firewall_id, source=ANY_V4):
        """Is TCP 22 from ``source`` (default: anywhere, 0.0.0.0/0) allowed in right now?"""
        for rule in self.firewalls[firewall_id]["inbound_rules"]:
            if rule["protocol"] != "tcp":
                continue
            if rule["ports"] != "0" and not port_in(rule["ports"], SSH_PORT):
                continue
            if any(covers(a, source) for a in rule.get("sources", {}).get("addresses", [])):
                return True
        return False

    # -- envelope, auth -------------------------------------------------------------------------
    ERROR_IDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 409: "conflict", 422: "unprocessable_entity", 429: "too_many_requests",
                 500: "server_error"}

    def error_body(self, status, message, code=None, extra=None):
        if status == 429 and message == "injected fault":
            message = "API Rate limit exceeded."
        return {"id": code or self.ERROR_IDS.get(status, "server_error" if status >= 500 else "bad_request"),
                "message": message, "request_id": str(uuid.uuid4())}

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        token = self.tokens.get(header[len("Bearer "):]) if header.startswith("Bearer ") else None
        if token is None:
            raise HttpError(401, "Unable to authenticate you")
        request.scopes = set(token.get("scopes", []))
        self._need(request, READ if request.method == "GET" else UPDATE)

    @staticmethod
    def _need(request, scope):
        if scope not in request.scopes:
            raise HttpError(403, "You are not authorized to perform this operation")

    def _firewall(self, request):
        fw = self.firewalls.get(request.params["firewall_id"])
        if fw is None:
            raise HttpError(404, "The resource you requested could not be found.")
        return fw

    # -- input validation -----------------------------------------------------------------------
    def _rule(self, rule, target_key):
        """A rule as sent, checked and turned into the stored (returned) form."""
        protocol = rule.get("protocol")
        if protocol not in ("tcp", "udp", "icmp"):
            raise HttpError(422, "protocol must be one of tcp, udp, icmp")
        ports = rule.get("ports")
        if ports is not None:
            ports = str(ports).strip()
        if protocol == "icmp":
            if ports is not None:  # any ports on ICMP are refused (doctl #278); the wording is assumed
                raise HttpError(422, POSITIVE_PORTS if ports in ("0", "all", "") else
                                "ports may not be specified for icmp rules")
            ports = "0"  # ICMP has no ports; the API answers "0"
        else:
            ports = self._ports(ports)
        targets = rule.get(target_key) or {}
        stored = {}
        for key in TARGET_KEYS:
            values = targets.get(key)
            if values:
                stored[key] = list(values)
        # A rule without any target is accepted and answered as ``{}`` (assumed: doctl's fixture
        # shows the API returning ``"sources": {}``, godo's an outbound rule without the key; no
        # document says a PUT refuses it).
        for address in stored.get("addresses", []):
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise HttpError(422, "%s is not a valid IP address or CIDR" % address)
        return {"protocol": protocol, "ports": ports, target_key: stored}

    @staticmethod
    def _ports(ports):
        if ports is None or ports == "" or ports == "0":
            raise HttpError(422, POSITIVE_PORTS)
        if ports in ("all", "1-65535"):
            return "0"
        low, sep, high = ports.partition("-")
        try:
            low, high = int(low), int(high) if sep else int(low)
        except ValueError:
            raise HttpError(422, "ports must be a single port, a range (8000-9000) or all")
        if low <= 0 or high <= 0:
            raise HttpError(422, POSITIVE_PORTS)
        if high > 65535 or low > high:
            raise HttpError(422, "ports must be between 1 and 65535, low to high")
        return ports

    def _rules(self, body, key, target_key):
        rules = body.get(key)
        if rules is None:
            return []
        if not isinstance(rules, list):
            raise HttpError(422, "%s must be an array" % key)
        return [self._rule(rule, target_key) for rule in rules]

    def _changed(self, fw, old_droplets):
        """After a write: waiting + pending_changes for every Droplet touched, until apply_delay."""
        if self.apply_delay > 0:
            changes = [{"droplet_id": d, "removing": False, "status": "waiting"} for d in fw["droplet_ids"]]
            changes += [{"droplet_id": d, "removing": True, "status": "waiting"}
                        for d in old_droplets if d not in fw["droplet_ids"]]
            fw["pending"] = (time.time() + self.apply_delay, changes)
        else:
            fw["pending"] = None
        self._record_ssh(fw["id"])

    # -- routes ---------------------------------------------------------------------------------
    @route("GET", "/v2/firewalls")
    def list_firewalls(self, request):
        per_page = int(request.arg("per_page", 20))
        page = int(request.arg("page", 1))
        items = [self.view(fw) for fw in self.firewalls.values()]
        chunk, pages = page_slice(items, page, per_page)
        base = "https://api.digitalocean.com/v2/firewalls?per_page=%d&page=" % per_page
        links = {}
        if pages > 1:
            nav = {}
            if page > 1:
                nav.update(first=base + "1", prev=base + str(page - 1))
            if page < pages:
                nav.update(next=base + str(page + 1), last=base + str(pages))
            links["pages"] = nav
        return {"firewalls": chunk, "links": links, "meta": {"total": len(items)}}

    @route("GET", "/v2/firewalls/{firewall_id}")
    def get_firewall(self, request):
        return {"firewall": self.view(self._firewall(request))}

    @route("PUT", "/v2/firewalls/{firewall_id}")
    def put_firewall(self, request):
        fw = self._firewall(request)
        body = request.json or {}
        name = body.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise HttpError(422, "name must contain only alphanumeric characters, dashes, and periods")
        if "inbound_rules" not in body and "outbound_rules" not in body:
            raise HttpError(422, "must specify at least one of inbound_rules or outbound_rules")
        inbound = self._rules(body, "inbound_rules", "sources")
        outbound = self._rules(body, "outbound_rules", "destinations")
        # Updating needs read access to every resource attached by the new firewall.
        if body.get("droplet_ids"):
            self._need(request, DROPLET_READ)
        if body.get("tags"):
            self._need(request, TAG_READ)
        # Full replacement: whatever is omitted falls back to empty (detached / removed).
        old_droplets = list(fw["droplet_ids"])
        fw.update(name=name, inbound_rules=inbound, outbound_rules=outbound,
                  droplet_ids=list(body.get("droplet_ids") or []), tags=list(body.get("tags") or []))
        self._changed(fw, old_droplets)
        return {"firewall": self.view(fw)}

    @route("POST", "/v2/firewalls/{firewall_id}/rules")
    def add_rules(self, request):
        fw = self._firewall(request)
        body = request.json or {}
        inbound = self._rules(body, "inbound_rules", "sources")
        outbound = self._rules(body, "outbound_rules", "destinations")
        if not inbound and not outbound:
            raise HttpError(400, "must specify inbound_rules or outbound_rules")
        # A rule already present is not added twice (unverified against the live API).
        for key, new in (("inbound_rules", inbound), ("outbound_rules", outbound)):
            for rule in new:
                if rule not in fw[key]:
                    fw[key].append(rule)
        self._changed(fw, fw["droplet_ids"])
        return Response(204)

    @route("DELETE", "/v2/firewalls/{firewall_id}/rules")
    def delete_rules(self, request):
        fw = self._firewall(request)
        body = request.json or {}
        inbound = self._rules(body, "inbound_rules", "sources")
        outbound = self._rules(body, "outbound_rules", "destinations")
        if not inbound and not outbound:
            raise HttpError(400, "must specify inbound_rules or outbound_rules")
        # Exact match only: same protocol, ports and the very same targets (list order and
        # address spelling included). A rule that matches nothing is silently ignored.
        for key, gone in (("inbound_rules", inbound), ("outbound_rules", outbound)):
            fw[key] = [rule for rule in fw[key] if rule not in gone]
        self._changed(fw, fw["droplet_ids"])
        return Response(204)


SIMULATOR = DigitalOceanSimulator
