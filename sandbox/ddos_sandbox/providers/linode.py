"""Linode / Akamai Cloud Firewalls simulator (``/linode/v4/networking/firewalls...``).

Behaves like the real API where a lockdown client can get it wrong:

- ``PUT .../rules`` replaces inbound **and** outbound and both policies: a key left out falls
  back to its default (rules ``[]``, policy ``PUT_DEFAULT_POLICY``), so sending only
  ``inbound`` wipes the egress rules. Resend all four keys.
- every rules PUT increments ``rules.version`` and recomputes ``rules.fingerprint`` (8 hex
  chars of a hash of the rules); ``GET .../history`` and ``.../history/rules/{version}`` give
  earlier versions back.
- addresses are normalised (``1.2.3.4`` -> ``1.2.3.4/32``, IPv6 compressed and lower-case);
  ``pl::...`` prefix-list references pass through untouched.
- validation: rule label 3-32 chars, starting with a letter, ``[A-Za-z0-9_.-]``; description
  1-100; at most 25 rules in total, 255 addresses per rule, 15 port pieces (a range counts
  two); ports 1-65535 without leading zeros; no ``ports`` for ICMP/IPENCAP; each problem is
  one ``{"reason", "field"}`` entry in ``{"errors": [...]}``.
- firewall label ``^[a-zA-Z]((?!--|__|\\.\\.)[a-zA-Z0-9-_.])+$``, 3-32, unique; ``status``
  ``enabled``/``disabled`` (a disabled firewall enforces nothing).
- devices: ``FIREWALL`` is attached to Linode ``LINODE``, ``FIREWALL_UNATTACHED`` to nothing.
- tokens carry ``firewall:read_only`` or ``firewall:read_write``; unknown token 401, writing
  with read_only 403. A 429 is ``{"errors": [{"reason": ...}]}`` (inject it with a fault
  carrying ``Retry-After``).

- newer than the 4.189.0 spec (so the checker's copy of the spec is widened in memory, see
  ``_current_spec``): a rule entry may be a Rule Set reference ``{"ruleset": <id>}`` and
  nothing else (linodego ``firewall_rules.go``, REFERENCE §8/§9); the scenario's
  ``rulesets`` hold their rules, an unknown id is 400 (assumed). ``protocol`` may also be
  ``ALL`` or an IP protocol number as a string (``"50"``, ``"6"`` with ports): the live
  API recorded in linodego's ``TestFirewallRules_ExtendedProtocols`` cassette stores them.
- ``rules.outbound`` may be ``null`` in a scenario (recorded live, linodego cassettes); a PUT
  stores ``[]`` for it, as the spec types it an array.

For the lockdown tests: ``ssh_open(firewall_id)`` and ``ssh_history`` (see ``_common``).
Rules apply in order, first match wins, then the policy; a disabled firewall lets all in.
A Rule Set reference applies its rules at its place in the list.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import re

from ddos_sandbox.core import HttpError, Simulator, route
from ddos_sandbox.providers._common import ANY_V4, SSH_PORT, SshWatch, covers, int_arg, now_iso, page_slice, port_in
from ddos_sandbox.spec import OpenApiChecker, load_spec

RULE_LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{2,31}$")
FIREWALL_LABEL_RE = re.compile(r"^[a-zA-Z]((?!--|__|\.\.)[a-zA-Z0-9-_.])+$")
PROTOCOLS = ("TCP", "UDP", "ICMP", "IPENCAP")
PORTED = ("TCP", "UDP", "6", "17")  # ports only with TCP/UDP, by name or number (assumed for the numbers)
TCP_MATCHING = ("TCP", "6", "ALL")
ACTIONS = ("ACCEPT", "DROP")
MAX_RULES, MAX_ADDRESSES, MAX_PORT_PIECES = 25, 255, 15
PUT_DEFAULT_POLICY = "ACCEPT"
TIME_FMT = "%Y-%m-%dT%H:%M:%S"

FIREWALL = 10101             # attached to LINODE, inbound + outbound rules, DROP inbound
FIREWALL_UNATTACHED = 10102  # attached to nothing
LINODE = 123456
TOKEN_RW = "sandbox-linode-token-rw"
TOKEN_RO = "sandbox-linode-token-ro"

DEFAULT_SCENARIO = {
    "tokens": {
        TOKEN_RW: {"scopes": "firewall:read_write linodes:read_only"},
        TOKEN_RO: {"scopes": "firewall:read_only"},
    },
    "linodes": {str(LINODE): "web-1"},
    "firewalls": [
        {"id": FIREWALL, "label": "web-firewall", "status": "enabled", "tags": ["web"],
         "devices": [LINODE],
         "rules": {
             "inbound": [
                 {"label": "ssh-office", "action": "ACCEPT", "protocol": "TCP", "ports": "22",
                  "addresses": {"ipv4": ["198.51.100.0/24"]}, "description": "SSH from the office"},
                 {"label": "web", "action": "ACCEPT", "protocol": "TCP", "ports": "80, 443",
                  "addresses": {"ipv4": ["0.0.0.0/0"], "ipv6": ["::/0"]}},
                 {"label": "ping", "action": "ACCEPT", "protocol": "ICMP",
                  "addresses": {"ipv4": ["0.0.0.0/0"]}},
             ],
             "inbound_policy": "DROP",
             "outbound": [
                 {"label": "block-smtp", "action": "DROP", "protocol": "TCP", "ports": "25",
                  "addresses": {"ipv4": ["0.0.0.0/0"], "ipv6": ["::/0"]}},
             ],
             "outbound_policy": "ACCEPT",
        }},
        {"id": FIREWALL_UNATTACHED, "label": "spare-firewall", "status": "enabled", "tags": [],
         "devices": [],
         "rules": {"inbound": [], "inbound_policy": "ACCEPT", "outbound": [], "outbound_policy": "ACCEPT"}},
    ],
}


RULESET_REFERENCE = {"type": "object", "required": ["ruleset"], "additionalProperties": False,
                     "properties": {"ruleset": {"type": "integer", "minimum": 1}}}


def _current_spec():
    """The 4.189.0 spec with what the current API accepts beyond it: every rule item may also
    be a Rule Set reference, and ``protocol`` may also be ALL or an IP protocol number."""
    spec = load_spec("linode.json")

    def widen(node):
        if isinstance(node, dict):
            props = node.get("properties") or {}
            if "protocol" in props and "addresses" in props and "action" in props:
                props["protocol"] = {"type": "string", "pattern": "^(TCP|UDP|ICMP|IPENCAP|ALL|[0-9]{1,3})$"}
                return {"oneOf": [node, RULESET_REFERENCE]}
            return {k: widen(v) for k, v in node.items()}
        if isinstance(node, list):
            return [widen(v) for v in node]
        return node
    return widen(spec)


def fingerprint(rules):
    """8 hex chars that change whenever the rules or policies change."""
    payload = {k: rules[k] for k in ("inbound", "inbound_policy", "outbound", "outbound_policy")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:8]


class LinodeSimulator(SshWatch, Simulator):
    name = "linode"
    prefix = "/linode/v4"

    def __init__(self):
        # The spec's paths are /{apiVersion}/networking/... on https://api.linode.com, so the
        # server is the prefix without its version; /linode/v4/... then validates apiVersion=v4.
        self.checker = OpenApiChecker(_current_spec(), "http://sandbox/linode")
        super().__init__()

    # -- state ----------------------------------------------------------------------------------
    def reset(self, scenario=None):
        scenario = copy.deepcopy(scenario or DEFAULT_SCENARIO)
        # A scenario that only describes firewalls keeps the bundled fake credentials.
        self.tokens = scenario.get("tokens") or copy.deepcopy(DEFAULT_SCENARIO["tokens"])
        self.linodes = {int(k): v for k, v in scenario.get("linodes", {}).items()}
        # Rule Sets: {id: [rules]}; a firewall rule {"ruleset": id} applies them in its place.
        self.rulesets = {int(k): v for k, v in scenario.get("rulesets", {}).items()}
        self.firewalls = {}
        for f in scenario.get("firewalls", []):
            stamp = f.get("created", "2024-01-01T00:01:01")
            fw = {"id": f["id"], "label": f["label"], "status": f.get("status", "enabled"),
                  "tags": list(f.get("tags", [])), "created": stamp, "updated": stamp,
                  "devices": [{"id": f["id"] * 100 + i + 1, "linode": lid, "created": stamp}
                              for i, lid in enumerate(f.get("devices", []))],
                  "history": []}
            rules = f.get("rules", {})
            fw["rules"] = self._stored_rules(
                {k: rules.get(k, [] if k in ("inbound", "outbound") else PUT_DEFAULT_POLICY)
                 for k in ("inbound", "inbound_policy", "outbound", "outbound_policy")}, 0, stamp)
            if "outbound" in rules and rules["outbound"] is None:
                fw["rules"]["outbound"] = None  # the live API answers null for no outbound rules
            self.firewalls[f["id"]] = fw
        self._reset_ssh()

    def _stored_rules(self, body, version, stamp):
        rules = {"inbound": self._rule_list(body["inbound"], "inbound"),
                 "inbound_policy": body["inbound_policy"],
                 "outbound": self._rule_list(body["outbound"], "outbound"),
                 "outbound_policy": body["outbound_policy"], "version": version + 1}
        rules["fingerprint"] = fingerprint(rules)
        return rules

    def _entity(self, linode_id):
        label = self.linodes.get(linode_id, "linode%d" % linode_id)
        return {"id": linode_id, "type": "linode", "label": label, "url": "/v4/linode/instances/%d" % linode_id}

    def view(self, fw):
        return {"id": fw["id"], "label": fw["label"], "status": fw["status"], "created": fw["created"],
                "updated": fw["updated"], "tags": list(fw["tags"]), "rules": copy.deepcopy(fw["rules"]),
                "entities": [self._entity(d["linode"]) for d in fw["devices"]]}

    def device_view(self, device):
        return {"id": device["id"], "created": device["created"], "updated": device["created"],
                "entity": self._entity(device["linode"])}

    def state(self):
        return {"firewalls": {fid: dict(self.view(fw), devices=[d["linode"] for d in fw["devices"]])
                              for fid, fw in self.firewalls.items()}}

    def ssh_open(self, firewall_id, source=ANY_V4):
        """Is TCP 22 from every address of ``source`` (default 0.0.0.0/0) accepted right now?
        First matching inbound rule wins, then ``inbound_policy``; disabled = no filtering."""
        fw = self.firewalls[firewall_id]
        if fw["status"] != "enabled":
            return True
        source = ipaddress.ip_network(source) if isinstance(source, str) else source
        for rule in self._expanded(fw["rules"]["inbound"]):
            if rule["protocol"] not in TCP_MATCHING or (rule.get("ports") and not port_in(rule["ports"], SSH_PORT)):
                continue
            addresses = rule["addresses"].get("ipv%d" % source.version, [])
            if rule["action"] == "ACCEPT" and any(covers(a, source) for a in addresses):
                return True
            if rule["action"] == "DROP" and any(_overlaps(a, source) for a in addresses):
                return False  # part of "anywhere" is dropped before any accept
        return fw["rules"]["inbound_policy"] == "ACCEPT"

    def _expanded(self, rules):
        out = []
        for rule in rules:
            out.extend(self.rulesets.get(rule["ruleset"], []) if "ruleset" in rule else [rule])
        return out

    # -- envelope, auth -------------------------------------------------------------------------
    def error_body(self, status, message, code=None, extra=None):
        if message == "injected fault" and status == 429:
            message = "Too Many Requests"
        problems = (extra or {}).get("errors")
        if problems:
            return {"errors": problems}
        entry = {"reason": message}
        if (extra or {}).get("field"):
            entry["field"] = extra["field"]
        return {"errors": [entry]}

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        token = self.tokens.get(header[len("Bearer "):]) if header.startswith("Bearer ") else None
        if token is None:
            raise HttpError(401, "Invalid Token")
        scopes = token.get("scopes", "").split()
        if request.method == "GET":
            ok = "firewall:read_only" in scopes or "firewall:read_write" in scopes or "*" in scopes
        else:
            ok = "firewall:read_write" in scopes or "*" in scopes
        if not ok:
            raise HttpError(403, "Unauthorized")

    def _firewall(self, request):
        try:
            fw = self.firewalls.get(int(request.params["firewall_id"]))
        except ValueError:
            fw = None
        if fw is None:
            raise HttpError(404, "Not found")
        return fw

    @staticmethod
    def _paged(request, items):
        page = int_arg(request, "page", 1, 1, 10 ** 6)
        page_size = int_arg(request, "page_size", 100, 25, 500)
        chunk, pages = page_slice(items, page, page_size)
        return {"data": chunk, "page": page, "pages": pages, "results": len(items)}

    # -- validation -----------------------------------------------------------------------------
    def _rule_list(self, rules, direction):
        """Checked and normalised rules; every problem found is reported, like the API does."""
        if rules is None:
            return []
        if not isinstance(rules, list):
            raise HttpError(400, "Must be a list", extra={"field": direction})
        problems, out = [], []
        for i, rule in enumerate(rules):
            field = "%s[%d]" % (direction, i)
            out.append(self._rule(rule, field, problems))
        if problems:
            raise HttpError(400, problems[0]["reason"], extra={"errors": problems})
        return out

    def _rule(self, rule, field, problems):
        def bad(reason, sub):
            problems.append({"reason": reason, "field": "%s.%s" % (field, sub)})

        out = {}
        if "ruleset" in rule:
            extra = sorted(k for k in rule if k != "ruleset")
            ruleset = rule["ruleset"]
            if extra:
                bad("A Rule Set reference may not have other fields (%s)" % ", ".join(extra), "ruleset")
            elif isinstance(ruleset, bool) or not isinstance(ruleset, int) or ruleset not in self.rulesets:
                bad("Rule Set %r not found" % (ruleset,), "ruleset")
            return {"ruleset": ruleset}
        if "label" in rule and rule["label"] is not None:
            if not RULE_LABEL_RE.match(str(rule["label"])):
                bad("Label must be 3-32 characters, start with a letter and contain only letters, "
                    "numbers, '_', '.' and '-'", "label")
            out["label"] = rule["label"]
        if rule.get("description") is not None:
            if not 1 <= len(str(rule["description"])) <= 100:
                bad("Description must be 1-100 characters", "description")
            out["description"] = rule["description"]
        if rule.get("action") not in ACTIONS:
            bad("Must be one of ACCEPT, DROP", "action")
        out["action"] = rule.get("action")
        protocol = rule.get("protocol")
        if not _protocol_ok(protocol):
            bad("Must be one of TCP, UDP, ICMP, IPENCAP, ALL or an IP protocol number", "protocol")
        out["protocol"] = protocol
        ports = rule.get("ports")
        if ports not in (None, ""):
            if protocol not in PORTED:
                bad("Ports may not be specified for %s rules" % protocol, "ports")
            else:
                reason = _ports_problem(str(ports))
                if reason:
                    bad(reason, "ports")
            out["ports"] = ports
        addresses = rule.get("addresses") or {}
        normal = {}
        for family in ("ipv4", "ipv6"):
            if family in addresses and addresses[family] is not None:
                values = addresses[family]
                if not values:
                    bad("Must not be empty", "addresses.%s" % family)
                normal[family] = []
                for value in values:
                    try:
                        normal[family].append(_normalise(value, 4 if family == "ipv4" else 6))
                    except ValueError:
                        bad("Invalid %s address or network: %s" % (family.upper(), value), "addresses.%s" % family)
        if not normal:
            bad("Must contain ipv4 and/or ipv6 addresses", "addresses")
        if sum(len(v) for v in normal.values()) > MAX_ADDRESSES:
            bad("A rule may contain at most %d addresses" % MAX_ADDRESSES, "addresses")
        out["addresses"] = normal
        return out

    # -- routes ---------------------------------------------------------------------------------
    @route("GET", "/networking/firewalls")
    def list_firewalls(self, request):
        return self._paged(request, [self.view(fw) for fw in self.firewalls.values()])

    @route("GET", "/networking/firewalls/{firewall_id}")
    def get_firewall(self, request):
        return self.view(self._firewall(request))

    @route("PUT", "/networking/firewalls/{firewall_id}")
    def put_firewall(self, request):
        fw = self._firewall(request)
        body = request.json or {}
        if "label" in body:
            label = body["label"]
            if not isinstance(label, str) or not 3 <= len(label) <= 32 or not FIREWALL_LABEL_RE.match(label):
                raise HttpError(400, "Label must be 3-32 characters, start with a letter and use only letters, "
                                "numbers, '-', '_' and '.' (no '--', '__' or '..')", extra={"field": "label"})
            if any(o["label"] == label and o["id"] != fw["id"] for o in self.firewalls.values()):
                raise HttpError(400, "Label must be unique among your Cloud Firewalls", extra={"field": "label"})
        if "status" in body and body["status"] not in ("enabled", "disabled"):
            raise HttpError(400, "Must be one of enabled, disabled", extra={"field": "status"})
        for key in ("label", "status", "tags"):
            if key in body:
                fw[key] = copy.deepcopy(body[key])
        fw["updated"] = now_iso(TIME_FMT)
        self._record_ssh(fw["id"])
        return self.view(fw)

    @route("GET", "/networking/firewalls/{firewall_id}/rules")
    def get_rules(self, request):
        return copy.deepcopy(self._firewall(request)["rules"])

    @route("PUT", "/networking/firewalls/{firewall_id}/rules")
    def put_rules(self, request):
        fw = self._firewall(request)
        body = request.json or {}
        # Replacement of both directions: whatever is left out becomes empty / the default.
        wanted = {"inbound": body.get("inbound") or [], "outbound": body.get("outbound") or [],
                  "inbound_policy": body.get("inbound_policy") or PUT_DEFAULT_POLICY,
                  "outbound_policy": body.get("outbound_policy") or PUT_DEFAULT_POLICY}
        for key in ("inbound_policy", "outbound_policy"):
            if wanted[key] not in ACTIONS:
                raise HttpError(400, "Must be one of ACCEPT, DROP", extra={"field": key})
        total = len(wanted["inbound"]) + len(wanted["outbound"]) if isinstance(wanted["inbound"], list) \
            and isinstance(wanted["outbound"], list) else 0
        if total > MAX_RULES:
            raise HttpError(400, "A firewall may have at most %d rules (inbound and outbound together)" % MAX_RULES,
                            extra={"field": "rules"})
        stamp = now_iso(TIME_FMT)
        new = self._stored_rules(wanted, fw["rules"]["version"], stamp)
        fw["history"].append((fw["rules"], fw["updated"], fw["status"]))
        fw["rules"], fw["updated"] = new, stamp
        self._record_ssh(fw["id"])
        return copy.deepcopy(new)

    @route("GET", "/networking/firewalls/{firewall_id}/devices")
    def list_devices(self, request):
        fw = self._firewall(request)
        return self._paged(request, [self.device_view(d) for d in fw["devices"]])

    @route("GET", "/networking/firewalls/{firewall_id}/history")
    def history(self, request):
        fw = self._firewall(request)
        entries = [{"updated": updated, "status": status, "rules": {"version": rules["version"]}}
                   for rules, updated, status in fw["history"]]
        entries.append({"updated": fw["updated"], "status": fw["status"], "rules": {"version": fw["rules"]["version"]}})
        return self._paged(request, entries)

    @route("GET", "/networking/firewalls/{firewall_id}/history/rules/{version}")
    def history_rules(self, request):
        fw = self._firewall(request)
        for rules in [r for r, _u, _s in fw["history"]] + [fw["rules"]]:
            if str(rules["version"]) == request.params["version"]:
                return copy.deepcopy(rules)
        raise HttpError(404, "Not found")


def _protocol_ok(protocol):
    if protocol in PROTOCOLS or protocol == "ALL":
        return True
    return isinstance(protocol, str) and protocol.isdigit() and 0 <= int(protocol) <= 255


def _normalise(value, version):
    """``1.2.3.4`` -> ``1.2.3.4/32``; IPv6 compressed, lower case; prefix lists untouched."""
    text = str(value)
    if text.startswith("pl:"):
        return text
    iface = ipaddress.ip_interface(text)
    if iface.version != version:
        raise ValueError(text)
    return iface.with_prefixlen


def _ports_problem(ports):
    pieces = 0
    for piece in ports.split(","):
        piece = piece.strip()
        bounds = piece.split("-")
        if not piece or len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            return "Ports must be a port, a range or a comma-separated list of those"
        if any(len(b) > 1 and b.startswith("0") for b in bounds):
            return "Ports may not have leading zeros"
        numbers = [int(b) for b in bounds]
        if not all(1 <= n <= 65535 for n in numbers):
            return "Ports must be between 1 and 65535"
        if len(numbers) == 2 and numbers[1] <= numbers[0]:
            return "The end of a port range must be greater than its start"
        pieces += len(numbers)
    if pieces > MAX_PORT_PIECES:
        return "At most %d port pieces (a range counts as two)" % MAX_PORT_PIECES
    return None


def _overlaps(address, source):
    try:
        net = ipaddress.ip_network(str(address), strict=False)
    except ValueError:
        return False
    return net.version == source.version and net.overlaps(source)


SIMULATOR = LinodeSimulator
