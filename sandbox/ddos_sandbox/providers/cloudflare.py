"""Cloudflare API v4 simulator: Magic Transit prefixes (legacy bgp/status and the current
bgp/prefixes on-demand call) and zone settings (security_level).

Behaves like the real API where the collection depends on it: the success/errors envelope,
API tokens that carry permissions (a token without the write permission gets 403 code
10000), 32-hex IDs (a malformed ID gets 400 code 7003, an ID this token cannot use 403 code
9109), ``on_demand_locked`` prefixes refusing changes, BGP-signal prefixes refusing API
control, and ``editable: false`` zone settings.
"""

from __future__ import annotations

import copy
import re
import time
from datetime import datetime, timezone

from ddos_sandbox.core import HttpError, Simulator, route
from ddos_sandbox.spec import OpenApiChecker, load_spec

HEX32 = re.compile(r"^[0-9a-f]{32}$")

# Token permission names as the Cloudflare dashboard shows them.
MT_WRITE = ("Magic Transit Write", "IP Prefixes: Write", "IP Prefixes: BGP On Demand Write")
MT_READ = MT_WRITE + ("Magic Transit Read", "IP Prefixes: Read")
ZONE_WRITE = ("Zone Settings Write",)
ZONE_READ = ZONE_WRITE + ("Zone Settings Read",)
SECURITY_LEVELS = ("off", "essentially_off", "low", "medium", "high", "under_attack")

ACCOUNT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
PREFIX = "1f2e3d4c5b6a79880716253443526170"
BGP_PREFIX = "7c6b5a49382716051f2e3d4c5b6a7988"
# An on-demand prefix that is already advertised before any incident (the name is older than
# STATIC_PREFIX and kept because tests import it).
ALWAYS_ON_PREFIX = "2a3b4c5d6e7f80910a1b2c3d4e5f6071"
ALWAYS_ON_BGP = "8d7c6b5a4938271605f4e3d2c1b0a998"
# A really always-on prefix: on-demand is not enabled, Cloudflare advertises it statically, and
# ``advertised``/``advertised_modified_at`` are null (REFERENCE §1, spec addressing_advertised).
STATIC_PREFIX = "3c4d5e6f708192a3b4c5d6e7f8091a2b"
STATIC_BGP = "9e8d7c6b5a49382716f5e4d3c2b1a0f9"
ZONE = "5e6f708192a3b4c5d6e7f8091a2b3c4d"

DEFAULT_SCENARIO = {
    "tokens": {
        "sandbox-cf-token-rw": {"permissions": list(MT_WRITE[:1] + ZONE_WRITE)},
        "sandbox-cf-token-ro": {"permissions": ["Magic Transit Read", "Zone Settings Read"]},
    },
    "accounts": {
        ACCOUNT: {
            "prefixes": [
                {"id": PREFIX, "cidr": "203.0.113.0/24", "asn": 64500, "description": "on-demand prefix",
                 "on_demand_enabled": True, "on_demand_locked": False, "advertised": False,
                 "bgp_prefixes": [{"id": BGP_PREFIX, "cidr": "203.0.113.0/24"}]},
                {"id": ALWAYS_ON_PREFIX, "cidr": "198.51.100.0/24", "asn": 64500,
                 "description": "on-demand prefix advertised before any incident",
                 "on_demand_enabled": True, "on_demand_locked": False, "advertised": True,
                 "bgp_prefixes": [{"id": ALWAYS_ON_BGP, "cidr": "198.51.100.0/24"}]},
                {"id": STATIC_PREFIX, "cidr": "192.0.2.0/24", "asn": 64500, "description": "always-on prefix",
                 "on_demand_enabled": False, "on_demand_locked": False,
                 "bgp_prefixes": [{"id": STATIC_BGP, "cidr": "192.0.2.0/24"}]},
            ],
        },
    },
    "zones": {
        ZONE: {"name": "example.test", "account_id": ACCOUNT, "security_level": "medium", "editable": True},
    },
    # Seconds during which reads still show the old advertisement after a change (to rehearse
    # and test ``wait``; assumed: REFERENCE §1 says ``advertised`` is the intended state).
    "apply_delay": 0,
    # Answer a PATCH without ``on_demand`` / ``advertised`` (every member of the answer is optional
    # in the spec): the client must then read to learn the state.
    "bare_answers": False,
}


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CloudflareSimulator(Simulator):
    name = "cloudflare"
    prefix = "/cloudflare/client/v4"

    def __init__(self):
        self.checker = OpenApiChecker(load_spec("cloudflare.json"), "http://sandbox" + self.prefix)
        super().__init__()

    # -- state ----------------------------------------------------------------------------------
    def reset(self, scenario=None):
        scenario = copy.deepcopy(scenario or DEFAULT_SCENARIO)
        self.tokens = scenario.get("tokens", {})
        self.apply_delay = float(scenario.get("apply_delay", 0))
        self.bare_answers = bool(scenario.get("bare_answers", False))
        self.accounts = {}
        for account_id, account in scenario.get("accounts", {}).items():
            prefixes = {}
            for p in account.get("prefixes", []):
                stamp = _now()
                prefix = {
                    "id": p["id"], "account_id": account_id, "cidr": p["cidr"], "asn": p.get("asn", 64500),
                    "description": p.get("description", ""), "approved": p.get("approved", "V"),
                    "loa_document_id": None, "on_demand_enabled": p.get("on_demand_enabled", True),
                    "on_demand_locked": p.get("on_demand_locked", False),
                    "advertised": p.get("advertised", False) if p.get("on_demand_enabled", True) else None,
                    "advertised_modified_at": stamp if p.get("on_demand_enabled", True) else None,
                    "created_at": stamp, "modified_at": stamp,
                    "bgp_signal": p.get("bgp_signal", False),
                    "bgp_prefixes": [dict(id=b["id"], cidr=b["cidr"],
                                          auto_advertise_withdraw=b.get("auto_advertise_withdraw", False))
                                     for b in p.get("bgp_prefixes", [])],
                    "pending": None,  # (advertised, visible_at) while apply_delay runs
                }
                prefixes[p["id"]] = prefix
            self.accounts[account_id] = prefixes
        self.zones = {}
        for zone_id, z in scenario.get("zones", {}).items():
            self.zones[zone_id] = {"id": zone_id, "name": z["name"], "account_id": z.get("account_id"),
                                   "security_level": z.get("security_level", "medium"),
                                   "editable": z.get("editable", True), "modified_on": None}

    def state(self):
        return {
            "accounts": {a: {pid: {"cidr": p["cidr"], "advertised": self._visible(p),
                                   "on_demand_enabled": p["on_demand_enabled"],
                                   "on_demand_locked": p["on_demand_locked"]}
                             for pid, p in prefixes.items()} for a, prefixes in self.accounts.items()},
            "zones": {z: {"name": v["name"], "security_level": v["security_level"], "editable": v["editable"]}
                      for z, v in self.zones.items()},
        }

    # -- envelope, auth -------------------------------------------------------------------------
    def error_body(self, status, message, code=None, extra=None):
        return {"success": False, "errors": [{"code": code or (10000 if status in (401, 403) else 1000),
                                              "message": message}],
                "messages": [], "result": None}

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise HttpError(400, "Invalid request headers", 6003)
        token = self.tokens.get(header[len("Bearer "):])
        if token is None:
            raise HttpError(401, "Invalid API Token", 1000)
        request.permissions = set(token.get("permissions", []))

    def _need(self, request, permissions, what):
        if not request.permissions.intersection(permissions):
            raise HttpError(403, "Authentication error (token lacks permission to %s)" % what, 10000)

    def _ok(self, result, **extra):
        body = {"success": True, "errors": [], "messages": [], "result": result}
        body.update(extra)
        return body

    def _account(self, request):
        account_id = request.params["account_id"]
        if not HEX32.match(account_id):
            raise HttpError(400, "Could not route to /accounts/%s, perhaps your object identifier is invalid?"
                            % account_id, 7003)
        if account_id not in self.accounts:
            raise HttpError(403, "Unauthorized to access requested resource", 9109)
        return self.accounts[account_id]

    def _prefix(self, request):
        prefixes = self._account(request)
        prefix = prefixes.get(request.params["prefix_id"])
        if prefix is None:
            raise HttpError(404, "Prefix not found", 1002)
        return prefix

    def _bgp(self, request, prefix):
        for bgp in prefix["bgp_prefixes"]:
            if bgp["id"] == request.params["bgp_prefix_id"]:
                return bgp
        raise HttpError(404, "BGP prefix not found", 1002)

    # -- advertisement model ----------------------------------------------------------------------
    def _visible(self, prefix):
        """The advertisement reads report: the new value only once apply_delay has passed."""
        pending = prefix["pending"]
        if pending is not None:
            advertised, visible_at = pending
            if time.time() >= visible_at:
                prefix["advertised"] = advertised
                prefix["advertised_modified_at"] = _now()
                prefix["pending"] = None
            else:
                return prefix["advertised"]
        return prefix["advertised"]

    def _set_advertised(self, prefix, advertised):
        if not prefix["on_demand_enabled"]:
            raise HttpError(400, "Prefix is not enabled for on-demand advertisement", 1004)
        if prefix["on_demand_locked"]:
            raise HttpError(400, "Advertisement status of this prefix is locked", 1005)
        if prefix["bgp_signal"]:
            raise HttpError(400, "This prefix is controlled by BGP signal and cannot be changed via API", 1006)
        if self.apply_delay > 0:
            prefix["pending"] = (advertised, time.time() + self.apply_delay)
        else:
            prefix["advertised"] = advertised
            prefix["advertised_modified_at"] = _now()
            prefix["pending"] = None
        prefix["modified_at"] = _now()

    def _prefix_view(self, p):
        view = {k: p[k] for k in ("id", "account_id", "cidr", "asn", "description", "approved", "loa_document_id",
                                  "on_demand_enabled", "on_demand_locked", "advertised_modified_at",
                                  "created_at", "modified_at")}
        view["advertised"] = self._visible(p) if p["on_demand_enabled"] else None
        return view

    def _bgp_view(self, p, bgp):
        # auto_advertise_withdraw: REFERENCE §1 (newer than the 2024 spec; shown in the API reference).
        return {"id": bgp["id"], "asn": p["asn"], "cidr": bgp["cidr"], "asn_prepend_count": 0,
                "auto_advertise_withdraw": bgp["auto_advertise_withdraw"],
                "on_demand": {"advertised": self._visible(p), "advertised_modified_at": p["advertised_modified_at"],
                              "on_demand_enabled": p["on_demand_enabled"], "on_demand_locked": p["on_demand_locked"]},
                "bgp_signal_opts": {"enabled": p["bgp_signal"], "modified_at": None},
                "created_at": p["created_at"], "modified_at": p["modified_at"]}

    # -- Magic Transit routes ------------------------------------------------------------------
    @route("GET", "/accounts/{account_id}/addressing/prefixes")
    def list_prefixes(self, request):
        self._need(request, MT_READ, "read IP prefixes")
        prefixes = self._account(request)
        result = [self._prefix_view(p) for p in prefixes.values()]
        return self._ok(result, result_info={"page": 1, "per_page": len(result), "count": len(result),
                                             "total_count": len(result)})

    @route("GET", "/accounts/{account_id}/addressing/prefixes/{prefix_id}")
    def get_prefix(self, request):
        self._need(request, MT_READ, "read IP prefixes")
        return self._ok(self._prefix_view(self._prefix(request)))

    @route("GET", "/accounts/{account_id}/addressing/prefixes/{prefix_id}/bgp/status")
    def get_status(self, request):
        self._need(request, MT_READ, "read IP prefixes")
        p = self._prefix(request)
        return self._ok({"advertised": self._visible(p), "advertised_modified_at": p["advertised_modified_at"]})

    @route("PATCH", "/accounts/{account_id}/addressing/prefixes/{prefix_id}/bgp/status")
    def patch_status(self, request):
        self._need(request, MT_READ, "read IP prefixes")
        p = self._prefix(request)
        self._need(request, MT_WRITE, "change prefix advertisement (needs Magic Transit Write or IP Prefixes: Write)")
        advertised = request.json["advertised"]
        self._set_advertised(p, advertised)
        # The PATCH answers the intended state, not what reads show yet.
        if self.bare_answers:
            return self._ok({})
        return self._ok({"advertised": advertised, "advertised_modified_at": p["advertised_modified_at"]})

    @route("GET", "/accounts/{account_id}/addressing/prefixes/{prefix_id}/bgp/prefixes")
    def list_bgp(self, request):
        self._need(request, MT_READ, "read IP prefixes")
        p = self._prefix(request)
        return self._ok([self._bgp_view(p, b) for b in p["bgp_prefixes"]])

    @route("GET", "/accounts/{account_id}/addressing/prefixes/{prefix_id}/bgp/prefixes/{bgp_prefix_id}")
    def get_bgp(self, request):
        self._need(request, MT_READ, "read IP prefixes")
        p = self._prefix(request)
        return self._ok(self._bgp_view(p, self._bgp(request, p)))

    @route("PATCH", "/accounts/{account_id}/addressing/prefixes/{prefix_id}/bgp/prefixes/{bgp_prefix_id}")
    def patch_bgp(self, request):
        self._need(request, MT_READ, "read IP prefixes")
        p = self._prefix(request)
        bgp = self._bgp(request, p)
        self._need(request, MT_WRITE, "change prefix advertisement (needs Magic Transit Write or IP Prefixes: Write)")
        on_demand = (request.json or {}).get("on_demand") or {}
        if "auto_advertise_withdraw" in (request.json or {}):
            bgp["auto_advertise_withdraw"] = bool(request.json["auto_advertise_withdraw"])
        if "advertised" in on_demand:
            self._set_advertised(p, bool(on_demand["advertised"]))
        view = self._bgp_view(p, bgp)
        if "advertised" in on_demand:
            view["on_demand"]["advertised"] = bool(on_demand["advertised"])
        if self.bare_answers:
            del view["on_demand"]
        return self._ok(view)

    # -- zone settings ----------------------------------------------------------------------------
    def _zone(self, request):
        zone_id = request.params["zone_id"]
        if not HEX32.match(zone_id):
            raise HttpError(400, "Could not route to /zones/%s, perhaps your object identifier is invalid?"
                            % zone_id, 7003)
        zone = self.zones.get(zone_id)
        if zone is None:
            raise HttpError(404, "Invalid zone identifier", 1001)
        return zone

    def _setting(self, zone):
        return {"id": "security_level", "value": zone["security_level"], "editable": zone["editable"],
                "modified_on": zone["modified_on"]}

    @route("GET", "/zones")
    def list_zones(self, request):
        self._need(request, ZONE_READ, "read zone settings")
        name = request.arg("name")
        result = [{"id": z["id"], "name": z["name"], "status": "active",
                   "account": {"id": z["account_id"]}} for z in self.zones.values()
                  if name in (None, z["name"])]
        return self._ok(result, result_info={"page": 1, "per_page": 20, "count": len(result),
                                             "total_count": len(result)})

    @route("GET", "/zones/{zone_id}/settings/{setting_id}")
    def get_setting(self, request):
        self._need(request, ZONE_READ, "read zone settings")
        zone = self._zone(request)
        if request.params["setting_id"] != "security_level":
            raise HttpError(400, "Unknown setting %s" % request.params["setting_id"], 1007)
        return self._ok(self._setting(zone))

    @route("PATCH", "/zones/{zone_id}/settings/{setting_id}")
    def patch_setting(self, request):
        self._need(request, ZONE_READ, "read zone settings")
        zone = self._zone(request)
        self._need(request, ZONE_WRITE, "edit zone settings (needs Zone Settings Write)")
        if request.params["setting_id"] != "security_level":
            raise HttpError(400, "Unknown setting %s" % request.params["setting_id"], 1007)
        if not zone["editable"]:
            raise HttpError(400, "This setting cannot be changed on this zone's plan", 1008)
        value = (request.json or {}).get("value")
        if value not in SECURITY_LEVELS:
            raise HttpError(400, "Invalid value for zone setting security_level", 1007)
        zone["security_level"] = value
        zone["modified_on"] = _now()
        return self._ok(self._setting(zone))


SIMULATOR = CloudflareSimulator
