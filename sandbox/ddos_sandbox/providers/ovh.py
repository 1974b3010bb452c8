"""OVHcloud API simulator: the IP's Edge Network Firewall and the (retired) mitigation objects.

What it reproduces, because the collection depends on it:
- the signature: every authenticated call carries X-Ovh-Application / -Consumer / -Timestamp /
  -Signature, verified exactly as OVH does (SHA-1 of secret+consumer key+METHOD+full URL as
  sent+body+timestamp); a mismatch answers 400 INVALID_SIGNATURE; ``GET /auth/time`` gives
  the server clock;
- consumer keys carry access rules (method + path with ``*``); a call outside them answers
  403 NOT_GRANTED_CALL; ``GET /auth/currentCredential`` returns them;
- the IP block in the path is percent-encoded (``203.0.113.0%2F24``);
- firewall state changes pass through ``enableFirewallPending`` / ``disableFirewallPending``
  for ``apply_delay`` seconds; a change asked meanwhile answers 409;
- every request is checked against OVH's own schema (``specs/ovh.json``, OVH's apis/models
  format): path, method, path/query parameter types, body fields, read-only fields.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import hashlib
import ipaddress
import re
import time
from http import HTTPStatus
from urllib.parse import unquote

from ddos_sandbox.core import HttpError, Response, Simulator, route
from ddos_sandbox.spec import load_spec

APP_KEY = "sandbox-ovh-app-key"
APP_SECRET = "sandbox-ovh-app-secret"
CONSUMER_KEY = "sandbox-ovh-consumer-key"
READONLY_CONSUMER_KEY = "sandbox-ovh-consumer-key-readonly"

IP_BLOCK = "203.0.113.0/24"
IP = "203.0.113.10"          # no firewall object yet
IP_ENABLED = "203.0.113.20"  # firewall already enabled before any incident, with rules

GOOD_RULES = [{"method": m, "path": p} for m, p in (
    ("GET", "/ip"), ("GET", "/ip/*"), ("POST", "/ip/*"), ("PUT", "/ip/*"), ("DELETE", "/ip/*"))]

DEFAULT_SCENARIO = {
    "applications": {APP_KEY: APP_SECRET},
    "consumer_keys": {
        CONSUMER_KEY: {"application": APP_KEY, "rules": GOOD_RULES},
        # The commonest setup mistake: "GET /ip" without the wildcard, no write rules.
        READONLY_CONSUMER_KEY: {"application": APP_KEY, "rules": [{"method": "GET", "path": "/ip"}]},
    },
    "blocks": {
        IP_BLOCK: {
            "firewall": {IP_ENABLED: {"enabled": True, "rules": [0, 1]}},
            "mitigation": {},
        },
    },
    "apply_delay": 0,
}


class OvhSchemaChecker:
    """Checks a request against OVH's apis/models schema; same interface as OpenApiChecker."""

    def __init__(self, schema, prefix):
        self.prefix = prefix
        self.models = schema["models"]
        self.operations = []
        for api in schema["apis"]:
            regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", api["path"]) + "$"
            for op in api["operations"]:
                self.operations.append((re.compile(regex), op["httpMethod"], op))

    def errors(self, method, host_url, path, query, headers, body, content_type):
        path = path[len(self.prefix):]
        candidates = [(regex.match(path), op) for regex, verb, op in self.operations if verb == method]
        candidates = [(m, op) for m, op in candidates if m]
        if not candidates:
            return []  # a call the trimmed schema does not describe (e.g. /auth/*)
        match, op = candidates[0]
        problems = []
        body_json = None
        if body:
            try:
                body_json = json.loads(body)
            except ValueError:
                return ["body is not JSON"]
        named_body = {}
        for param in op["parameters"]:
            kind, name, dtype = param["paramType"], param.get("name"), param["dataType"]
            if kind == "path":
                value = unquote(match.group(name))
                if not self._valid(dtype, value):
                    problems.append("path parameter %s=%r is not a valid %s" % (name, value, dtype))
            elif kind == "query":
                if name in query and not self._valid(dtype, query[name][0], from_query=True):
                    problems.append("query parameter %s=%r is not a valid %s" % (name, query[name][0], dtype))
            elif kind == "body" and name:
                named_body[name] = param
            elif kind == "body":
                problems.extend(self._check_model(dtype, body_json))
        if named_body:
            if not isinstance(body_json, dict):
                return problems + ["body must be a JSON object with %s" % ", ".join(named_body)]
            for name, param in named_body.items():
                if name not in body_json:
                    if param.get("required"):
                        problems.append("body field %s is required" % name)
                elif not self._valid(param["dataType"], body_json[name]):
                    problems.append("body field %s=%r is not a valid %s" % (name, body_json[name], param["dataType"]))
            problems.extend("body field %s is unknown" % k for k in body_json if k not in named_body)
        return problems

    def _check_model(self, model_name, value):
        model = self.models.get(model_name)
        if model is None or not isinstance(value, dict):
            return ["body must be a %s object" % model_name]
        problems = []
        for key, item in value.items():
            prop = model["properties"].get(key)
            if prop is None:
                problems.append("body field %s is not a property of %s" % (key, model_name))
            elif prop.get("readOnly"):
                problems.append("body field %s of %s is read-only" % (key, model_name))
            elif not self._valid(prop["fullType"], item):
                problems.append("body field %s=%r is not a valid %s" % (key, item, prop["fullType"]))
        return problems

    def _valid(self, dtype, value, from_query=False):
        if dtype == "boolean":
            return value in ("true", "false") if from_query else isinstance(value, bool)
        if dtype == "long":
            return str(value).lstrip("-").isdigit() if from_query else isinstance(value, int)
        if dtype == "string":
            return isinstance(value, str)
        if dtype in ("ipv4", "ipv4Block", "ipBlock", "ip"):
            try:
                net = ipaddress.ip_network(value, strict=False) if "Block" in dtype else ipaddress.ip_address(value)
            except (ValueError, TypeError):
                return False
            return dtype in ("ipBlock", "ip") or net.version == 4
        model = self.models.get(dtype)
        if model and "enum" in model:
            return value in model["enum"]
        return True


def _ovh_error(status, message, error_class=None, error_code=None):
    raise HttpError(status, message, error_code or error_class, {"class": error_class})


class OvhSimulator(Simulator):
    name = "ovh"
    prefix = "/ovh/1.0"

    def __init__(self):
        self.checker = OvhSchemaChecker(load_spec("ovh.json"), self.prefix)
        super().__init__()

    def reset(self, scenario=None):
        scenario = copy.deepcopy(scenario or DEFAULT_SCENARIO)
        self.applications = scenario.get("applications", {})
        self.consumer_keys = scenario.get("consumer_keys", {})
        self.apply_delay = float(scenario.get("apply_delay", 0))
        self.query_seq = 0
        self.blocks = {}
        for block, content in scenario.get("blocks", {}).items():
            firewall = {ip: {"enabled": f.get("enabled", False), "state": "ok", "until": 0.0, "target": None,
                             "rules": list(f.get("rules", []))} for ip, f in content.get("firewall", {}).items()}
            mitigation = {ip: {"permanent": m.get("permanent", True), "auto": False, "state": "ok"}
                          for ip, m in content.get("mitigation", {}).items()}
            self.blocks[block] = {"firewall": firewall, "mitigation": mitigation}

    def state(self):
        return {block: {"firewall": {ip: {"enabled": self._settle(f)["enabled"], "state": f["state"],
                                          "rules": len(f["rules"])} for ip, f in content["firewall"].items()},
                        "mitigation": copy.deepcopy(content["mitigation"])} for block, content in self.blocks.items()}

    def error_body(self, status, message, code=None, extra=None):
        extra = extra or {}
        if code and code.isupper():  # auth failures carry an errorCode, like the real API (REFERENCE §2.5)
            return {"errorCode": code, "httpCode": "%d %s" % (status, HTTPStatus(status).phrase), "message": message}
        default = {400: "Client::BadRequest", 403: "Client::Forbidden", 404: "Client::NotFound",
                   409: "Client::Conflict", 429: "Client::TooManyRequests"}.get(status, "Server::InternalServerError")
        return {"class": extra.get("class") or default, "message": message}

    # Every answer carries the query id OVH support asks for (REFERENCE §2.5; python-ovh puts it
    # into its exceptions).
    def dispatch(self, request):
        return self._with_query_id(super().dispatch(request))

    def fail(self, exc):
        return self._with_query_id(super().fail(exc))

    def _with_query_id(self, response):
        self.query_seq += 1
        response.headers["X-Ovh-Queryid"] = "EU.sandbox.%08d" % self.query_seq
        return response

    # -- auth ----------------------------------------------------------------------------------------
    def authenticate(self, request):
        if request.path == "/auth/time":
            return
        app = request.headers.get("X-Ovh-Application")
        secret = self.applications.get(app)
        if secret is None:
            _ovh_error(403, "This application key is invalid", error_code="INVALID_KEY")
        ck = request.headers.get("X-Ovh-Consumer")
        consumer = self.consumer_keys.get(ck)
        if consumer is None or consumer.get("application") != app:
            _ovh_error(403, "This credential does not exist", error_code="INVALID_CREDENTIAL")
        stamp = request.headers.get("X-Ovh-Timestamp", "")
        url = "http://%s%s" % (request.headers.get("Host"), request.raw_path)
        body = request.body.decode("utf-8") if request.body else ""
        expected = "$1$" + hashlib.sha1("+".join([secret, ck, request.method, url, body, stamp]).encode()).hexdigest()
        if request.headers.get("X-Ovh-Signature") != expected or not stamp.isdigit() \
                or abs(int(stamp) - time.time()) > 180:
            _ovh_error(400, "Invalid signature", error_code="INVALID_SIGNATURE")
        if request.path != "/auth/currentCredential":
            concrete = unquote(request.path)
            if not any(r["method"] == request.method and fnmatch.fnmatchcase(concrete, r["path"])
                       for r in consumer["rules"]):
                _ovh_error(403, "This call has not been granted", error_code="NOT_GRANTED_CALL")
        request.consumer = consumer

    # -- helpers ---------------------------------------------------------------------------------------
    def _block(self, request):
        block = self.blocks.get(request.params["ip"])
        if block is None:
            _ovh_error(404, "The requested object (ip = %s) does not exist" % request.params["ip"], "Client::NotFound")
        return block

    def _settle(self, fw):
        if fw["target"] is not None and time.time() >= fw["until"]:
            fw.update(enabled=fw["target"], state="ok", target=None)
        return fw

    def _firewall_view(self, ip, fw):
        self._settle(fw)
        return {"ipOnFirewall": ip, "enabled": fw["enabled"], "state": fw["state"]}

    # -- routes ------------------------------------------------------------------------------------------
    @route("GET", "/auth/time")
    def auth_time(self, request):
        return int(time.time())

    @route("GET", "/auth/currentCredential")
    def current_credential(self, request):
        return {"credentialId": 1, "applicationId": 1, "status": "validated", "ovhSupport": False,
                "rules": copy.deepcopy(request.consumer["rules"]), "creation": "2026-01-01T00:00:00Z",
                "expiration": None, "lastUse": None}

    @route("GET", "/ip")
    def list_ips(self, request):
        """The account's IP blocks; ``ip`` filters on "contains or equals" (schema: GET /ip)."""
        wanted = request.arg("ip")
        if wanted is None:
            return sorted(self.blocks)
        net = ipaddress.ip_network(wanted, strict=False)  # the schema checker already refused a non-ipBlock
        return sorted(b for b in self.blocks
                      if ipaddress.ip_network(b).version == net.version and net.subnet_of(ipaddress.ip_network(b)))

    @route("GET", "/ip/{ip}")
    def get_ip(self, request):
        self._block(request)
        return {"ip": request.params["ip"], "type": "dedicated", "description": None, "canBeTerminated": False}

    @route("GET", "/ip/{ip}/firewall")
    def list_firewall(self, request):
        return sorted(self._block(request)["firewall"])

    @route("POST", "/ip/{ip}/firewall")
    def create_firewall(self, request):
        block = self._block(request)
        ip = request.json["ipOnFirewall"]
        if ip in block["firewall"]:
            _ovh_error(409, "This IP is already on the firewall", "Client::Conflict")
        if ipaddress.ip_address(ip) not in ipaddress.ip_network(request.params["ip"]):
            _ovh_error(400, "%s is not in %s" % (ip, request.params["ip"]), "Client::BadRequest")
        block["firewall"][ip] = {"enabled": False, "state": "ok", "until": 0.0, "target": None, "rules": []}
        return self._firewall_view(ip, block["firewall"][ip])

    @route("GET", "/ip/{ip}/firewall/{ipOnFirewall}")
    def get_firewall(self, request):
        fw = self._block(request)["firewall"].get(request.params["ipOnFirewall"])
        if fw is None:
            _ovh_error(404, "The requested object (ipOnFirewall = %s) does not exist" % request.params["ipOnFirewall"],
                       "Client::NotFound")
        return self._firewall_view(request.params["ipOnFirewall"], fw)

    @route("PUT", "/ip/{ip}/firewall/{ipOnFirewall}")
    def put_firewall(self, request):
        fw = self._block(request)["firewall"].get(request.params["ipOnFirewall"])
        if fw is None:
            _ovh_error(404, "The requested object (ipOnFirewall = %s) does not exist" % request.params["ipOnFirewall"],
                       "Client::NotFound")
        self._settle(fw)
        if fw["state"] != "ok":
            _ovh_error(409, "A firewall task is already pending on this IP", "Client::Conflict")
        enabled = request.json.get("enabled", fw["enabled"])
        if enabled != fw["enabled"]:
            if self.apply_delay > 0:
                fw.update(state="enableFirewallPending" if enabled else "disableFirewallPending",
                          target=enabled, until=time.time() + self.apply_delay)
            else:
                fw["enabled"] = enabled
        return Response(200, b"null")  # OVH answers "void" calls with a JSON null

    @route("DELETE", "/ip/{ip}/firewall/{ipOnFirewall}")
    def delete_firewall(self, request):
        block = self._block(request)
        if block["firewall"].pop(request.params["ipOnFirewall"], None) is None:
            _ovh_error(404, "The requested object does not exist", "Client::NotFound")
        return Response(200, json.dumps("%s removed from the firewall" % request.params["ipOnFirewall"]).encode())

    @route("GET", "/ip/{ip}/firewall/{ipOnFirewall}/rule")
    def list_rules(self, request):
        fw = self._block(request)["firewall"].get(request.params["ipOnFirewall"])
        if fw is None:
            _ovh_error(404, "The requested object does not exist", "Client::NotFound")
        return list(fw["rules"])

    @route("GET", "/ip/{ip}/mitigation/{ipOnMitigation}")
    def get_mitigation(self, request):
        item = self._block(request)["mitigation"].get(request.params["ipOnMitigation"])
        if item is None:
            _ovh_error(404, "The requested object (ipOnMitigation = %s) does not exist"
                       % request.params["ipOnMitigation"], "Client::NotFound")
        return dict(item, ipOnMitigation=request.params["ipOnMitigation"])

    @route("POST", "/ip/{ip}/mitigation")
    def create_mitigation(self, request):
        block = self._block(request)
        ip = request.json["ipOnMitigation"]
        if ip in block["mitigation"]:
            _ovh_error(409, "This IP is already on permanent mitigation", "Client::Conflict")
        block["mitigation"][ip] = {"permanent": True, "auto": False, "state": "ok"}
        return dict(block["mitigation"][ip], ipOnMitigation=ip)

    @route("DELETE", "/ip/{ip}/mitigation/{ipOnMitigation}")
    def delete_mitigation(self, request):
        block = self._block(request)
        item = block["mitigation"].pop(request.params["ipOnMitigation"], None)
        if item is None:
            _ovh_error(404, "The requested object does not exist", "Client::NotFound")
        return dict(item, ipOnMitigation=request.params["ipOnMitigation"], state="removalPending")


SIMULATOR = OvhSimulator
