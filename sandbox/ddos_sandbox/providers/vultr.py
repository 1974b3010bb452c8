"""Vultr firewall groups simulator (``/vultr/v2/firewalls...``).

Behaves like the real API where a lockdown client can get it wrong:

- a group is an allow-list: a group with **zero rules blocks all inbound traffic**.
- rules have integer ids unique in their group and never reused, so a deleted-then-recreated
  rule gets a new id (store rule content, not ids). There is no update call.
- creating a rule identical to an existing one (ip_type, protocol, subnet, subnet_size, port,
  source) is refused with 400; so is a rule beyond the group's ``max_rule_count``.
- v4 and v6 are separate rules; ``subnet`` must be of the ``ip_type`` family and
  ``subnet_size`` within it; port ranges use a colon (``8000:9000``, a dash is refused);
  ``icmp``/``gre``/``esp``/``ah`` rules must not carry a port; ``source: "cloudflare"``
  ignores the subnet.
- lists use cursor pagination: ``per_page`` (default 100, max 500, small values honoured so
  clients' paging is exercised) and ``cursor``; ``meta.total`` and ``meta.links.next`` /
  ``prev`` (cursor strings, ``""`` when none).
- API keys are all-or-nothing; a key with an IP allow-list that excludes the caller
  (``sandbox-vultr-key-blocked``) gets 403. Every error is ``{"error": "...", "status": n}``.
  A 429 is the same envelope (inject it with a fault carrying ``Retry-After``).

For the lockdown tests: ``ssh_open(group_id)`` and ``ssh_history`` (see ``_common``).
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import re

from ddos_sandbox.core import HttpError, Response, Simulator, route
from ddos_sandbox.providers._common import ANY_V4, SSH_PORT, SshWatch, covers, int_arg, now_iso, port_in
from ddos_sandbox.spec import OpenApiChecker, load_spec

PROTOCOLS = ("icmp", "tcp", "udp", "gre", "esp", "ah")
PORTED = ("tcp", "udp")
PORT_RE = re.compile(r"^(\d{1,5})(?::(\d{1,5}))?$")
IDENTITY = ("ip_type", "protocol", "subnet", "subnet_size", "port", "source")

GROUP = "cb676a46-66fd-4dfb-b839-443f2e6c0b60"        # web group, 5 rules across v4/v6
GROUP_EMPTY = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"  # no rules: blocks everything
KEY = "sandbox-vultr-key"
KEY_BLOCKED = "sandbox-vultr-key-blocked"

DEFAULT_SCENARIO = {
    "keys": {
        KEY: {},
        # The portal's "Access Control" IP list does not include the caller.
        KEY_BLOCKED: {"allowed_ips": ["192.0.2.10/32"]},
    },
    "groups": [
        {"id": GROUP, "description": "web servers", "date_created": "2024-10-10T01:56:20+00:00",
         "instance_count": 2, "max_rule_count": 50,
         "rules": [
             {"ip_type": "v4", "protocol": "tcp", "port": "22", "subnet": "198.51.100.0", "subnet_size": 24,
              "source": "", "notes": "office ssh"},
             {"ip_type": "v4", "protocol": "tcp", "port": "443", "subnet": "0.0.0.0", "subnet_size": 0,
              "source": "", "notes": "https"},
             {"ip_type": "v6", "protocol": "tcp", "port": "443", "subnet": "::", "subnet_size": 0,
              "source": "", "notes": "https v6"},
             {"ip_type": "v4", "protocol": "tcp", "port": "8000:8999", "subnet": "0.0.0.0", "subnet_size": 0,
              "source": "cloudflare", "notes": "app via cloudflare"},
             {"ip_type": "v4", "protocol": "icmp", "port": "", "subnet": "0.0.0.0", "subnet_size": 0,
              "source": "", "notes": "ping"},
         ]},
        {"id": GROUP_EMPTY, "description": "spare", "date_created": "2024-11-01T08:00:00+00:00",
         "instance_count": 0, "max_rule_count": 50, "rules": []},
    ],
}


def _cursor(offset):
    return base64.b64encode(("next__%d" % offset).encode()).decode() if offset is not None else ""


def _offset(cursor):
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        if text.startswith("next__"):
            return max(0, int(text[len("next__"):]))
    except (ValueError, UnicodeDecodeError):
        pass
    raise HttpError(400, "Invalid cursor.")


class VultrSimulator(SshWatch, Simulator):
    name = "vultr"
    prefix = "/vultr/v2"

    def __init__(self):
        # The spec's server is https://api.vultr.com/v2 and its paths start at /firewalls.
        self.checker = OpenApiChecker(load_spec("vultr.json"), "http://sandbox" + self.prefix)
        super().__init__()

    # -- state ----------------------------------------------------------------------------------
    def reset(self, scenario=None):
        scenario = copy.deepcopy(scenario or DEFAULT_SCENARIO)
        # A scenario that only describes firewalls keeps the bundled fake credentials.
        self.keys = scenario.get("keys") or copy.deepcopy(DEFAULT_SCENARIO["keys"])
        self.caller_ip = scenario.get("caller_ip", "127.0.0.1")
        self.groups = {}
        for g in scenario.get("groups", []):
            group = {"id": g["id"], "description": g.get("description", ""),
                     "date_created": g.get("date_created", now_iso("%Y-%m-%dT%H:%M:%S+00:00")),
                     "date_modified": g.get("date_created", now_iso("%Y-%m-%dT%H:%M:%S+00:00")),
                     "instance_count": g.get("instance_count", 0), "max_rule_count": g.get("max_rule_count", 50),
                     "rules": [], "next_id": 1}
            for r in g.get("rules", []):
                self._add(group, dict(r))
            self.groups[g["id"]] = group
        self._reset_ssh()

    def _add(self, group, rule):
        rule["id"] = group["next_id"]
        group["next_id"] += 1  # ids are never reused: a re-created rule gets a new one
        group["rules"].append(rule)
        return rule

    @staticmethod
    def rule_view(rule):
        return {"id": rule["id"], "type": rule["ip_type"], "ip_type": rule["ip_type"], "action": "accept",
                "protocol": rule["protocol"], "port": rule.get("port", ""), "subnet": rule["subnet"],
                "subnet_size": rule["subnet_size"], "source": rule.get("source", ""), "notes": rule.get("notes", "")}

    @staticmethod
    def group_view(group):
        return {"id": group["id"], "description": group["description"], "date_created": group["date_created"],
                "date_modified": group["date_modified"], "instance_count": group["instance_count"],
                "rule_count": len(group["rules"]), "max_rule_count": group["max_rule_count"]}

    def state(self):
        return {"firewall_groups": {gid: dict(self.group_view(g), rules=[self.rule_view(r) for r in g["rules"]])
                                    for gid, g in self.groups.items()}}

    def ssh_open(self, firewall_id, source=ANY_V4):
        """Is TCP 22 from ``source`` (default: anywhere, 0.0.0.0/0) accepted right now? With no
        rule matching (zero rules included) everything is dropped."""
        for rule in self.groups[firewall_id]["rules"]:
            if rule["protocol"] != "tcp" or rule.get("source", "") != "":
                continue
            if rule.get("port", "") and not port_in(rule["port"], SSH_PORT, range_sep=":"):
                continue
            if covers("%s/%s" % (rule["subnet"], rule["subnet_size"]), source):
                return True
        return False

    # -- envelope, auth -------------------------------------------------------------------------
    def error_body(self, status, message, code=None, extra=None):
        if message == "injected fault" and status == 429:
            message = "Rate limit reached - please try your request again later."
        return {"error": message, "status": status}

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        key = self.keys.get(header[len("Bearer "):]) if header.startswith("Bearer ") else None
        if key is None:
            raise HttpError(401, "Invalid API token.")
        allowed = key.get("allowed_ips")
        if allowed and not any(covers(net, self.caller_ip + "/32") for net in allowed):
            raise HttpError(403, "Unauthorized IP address: %s" % self.caller_ip)

    def _group(self, request):
        group = self.groups.get(request.params["group_id"])
        if group is None:
            raise HttpError(404, "Firewall group not found.")
        return group

    def _rule(self, request, group):
        try:
            rule_id = int(request.params["rule_id"])
        except ValueError:
            raise HttpError(400, "Invalid firewall rule ID.")
        for rule in group["rules"]:
            if rule["id"] == rule_id:
                return rule
        raise HttpError(404, "Firewall rule not found.")

    @staticmethod
    def _page(request, items):
        per_page = int_arg(request, "per_page", 100, 1, 500)
        cursor = request.arg("cursor")
        start = _offset(cursor) if cursor else 0
        chunk = items[start:start + per_page]
        nxt = start + per_page if start + per_page < len(items) else None
        prev = max(0, start - per_page) if start > 0 else None
        return chunk, {"total": len(items), "links": {"next": _cursor(nxt), "prev": _cursor(prev)}}

    # -- validation -----------------------------------------------------------------------------
    def _new_rule(self, body, group):
        ip_type = body.get("ip_type")
        if ip_type not in ("v4", "v6"):
            raise HttpError(400, "Invalid ip_type. Must be v4 or v6.")
        protocol = str(body.get("protocol", "")).lower()
        if protocol not in PROTOCOLS:
            raise HttpError(400, "Invalid protocol. Must be one of: %s." % ", ".join(PROTOCOLS))
        source = body.get("source", "") or ""
        subnet, size = body.get("subnet"), body.get("subnet_size")
        if not isinstance(size, int) or isinstance(size, bool):
            raise HttpError(400, "subnet_size must be an integer.")
        version = 4 if ip_type == "v4" else 6
        try:
            address = ipaddress.ip_address(str(subnet))
        except ValueError:
            raise HttpError(400, "Invalid subnet: %s." % subnet)
        if address.version != version:
            raise HttpError(400, "Subnet %s does not match ip_type %s." % (subnet, ip_type))
        if not 0 <= size <= (32 if version == 4 else 128):
            raise HttpError(400, "Invalid subnet_size %s for ip_type %s." % (size, ip_type))
        port = body.get("port", "") or ""
        if protocol not in PORTED:
            if port:
                raise HttpError(400, "Port is not allowed for protocol %s." % protocol)
        elif port:
            match = PORT_RE.match(port)
            low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
            if not match or not 1 <= low <= high <= 65535:
                raise HttpError(400, "Invalid port %r: use a port or a range from:to (colon)." % port)
        rule = {"ip_type": ip_type, "protocol": protocol, "subnet": str(subnet), "subnet_size": size,
                "port": port, "source": source, "notes": body.get("notes", "") or ""}
        if any(all(r.get(k, "") == rule[k] for k in IDENTITY) for r in group["rules"]):
            raise HttpError(400, "Unable to create firewall rule: this rule already exists.")
        if len(group["rules"]) >= group["max_rule_count"]:
            raise HttpError(400, "Unable to create firewall rule: the group has reached its maximum of %d rules."
                            % group["max_rule_count"])
        return rule

    # -- routes ---------------------------------------------------------------------------------
    @route("GET", "/firewalls")
    def list_groups(self, request):
        chunk, meta = self._page(request, [self.group_view(g) for g in self.groups.values()])
        return {"firewall_groups": chunk, "meta": meta}

    @route("GET", "/firewalls/{group_id}")
    def get_group(self, request):
        return {"firewall_group": self.group_view(self._group(request))}

    @route("GET", "/firewalls/{group_id}/rules")
    def list_rules(self, request):
        group = self._group(request)
        chunk, meta = self._page(request, [self.rule_view(r) for r in group["rules"]])
        return {"firewall_rules": chunk, "meta": meta}

    @route("GET", "/firewalls/{group_id}/rules/{rule_id}")
    def get_rule(self, request):
        group = self._group(request)
        return {"firewall_rule": self.rule_view(self._rule(request, group))}

    @route("POST", "/firewalls/{group_id}/rules")
    def create_rule(self, request):
        group = self._group(request)
        rule = self._add(group, self._new_rule(request.json or {}, group))
        group["date_modified"] = now_iso("%Y-%m-%dT%H:%M:%S+00:00")
        self._record_ssh(group["id"])
        return Response(201, {"firewall_rule": self.rule_view(rule)})

    @route("DELETE", "/firewalls/{group_id}/rules/{rule_id}")
    def delete_rule(self, request):
        group = self._group(request)
        rule = self._rule(request, group)
        group["rules"].remove(rule)
        group["date_modified"] = now_iso("%Y-%m-%dT%H:%M:%S+00:00")
        self._record_ssh(group["id"])
        return Response(204)


SIMULATOR = VultrSimulator
