"""AWS Shield Advanced simulator: moto in server mode, plus what moto lacks.

The sandbox serves Shield's JSON 1.1 protocol under ``/aws`` (a client's ``endpoint_url`` is
``http://127.0.0.1:PORT/aws``). Every request is checked against the botocore service model
(``specs/aws-shield.json``: required members, types, lengths, patterns, enums) and its SigV4
``Authorization`` must name a known fake access key. Then:
- ``GetSubscriptionState`` and the three application-layer automatic response (ALAR) calls,
  which moto does not implement, are answered here (ALAR only for CloudFront / ALB resources
  that are protected, as AWS requires);
- everything else (subscriptions, protections) is forwarded to a real moto server started on
  127.0.0.1, and ``DescribeProtection`` answers get the ALAR configuration merged in.
A read-only key (``AKIDSANDBOXREADONLY``) gets ``AccessDeniedException`` on writes.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from ddos_sandbox.core import HttpError, Response, Simulator, route
from ddos_sandbox.spec import load_spec

ACCESS_KEY = "AKIDSANDBOXSHIELD01"
SECRET_KEY = "sandbox-aws-secret-key"
READONLY_KEY = "AKIDSANDBOXREADONLY"
# Temporary (STS) credentials: AWS accepts an ASIA... key only with its session token.
TEMPORARY_KEY = "ASIASANDBOXSHIELD01"
SESSION_TOKEN = "sandbox-aws-session-token"
ACCOUNT = "123456789012"
CLOUDFRONT = "arn:aws:cloudfront::%s:distribution/E2SANDBOX1" % ACCOUNT
ALB = "arn:aws:elasticloadbalancing:us-east-1:%s:loadbalancer/app/web/50dc6c495c0c9188" % ACCOUNT
EIP = "arn:aws:ec2:us-east-1:%s:eip-allocation/eipalloc-0sandbox" % ACCOUNT
PREPROTECTED = "arn:aws:route53:::hostedzone/Z0SANDBOX"
TARGET_PREFIX = "AWSShield_20160616."
READS = ("Get", "Describe", "List")

DEFAULT_SCENARIO = {
    "keys": {ACCESS_KEY: "read_write", READONLY_KEY: "read_only", TEMPORARY_KEY: "read_write"},
    "session_tokens": {TEMPORARY_KEY: SESSION_TOKEN},
    "subscribed": True,
    # Protections that exist before any incident (withdrawal must leave them alone).
    "protections": [{"Name": "customer-route53", "ResourceArn": PREPROTECTED}],
}


class ShapeChecker:
    """Validates a JSON 1.1 request body against the input shape of its operation."""

    def __init__(self, model):
        self.shapes = model["shapes"]
        self.operations = model["operations"]

    def errors(self, operation, body):
        op = self.operations.get(operation)
        if op is None:
            return ["unknown operation %s" % operation]
        if "input" not in op:
            return []
        return self._check(op["input"]["shape"], body, operation)

    def _check(self, shape_name, value, where):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            if not isinstance(value, dict):
                return ["%s must be an object" % where]
            problems = ["%s.%s is required" % (where, m) for m in shape.get("required", []) if m not in value]
            for key, item in value.items():
                member = shape["members"].get(key)
                if member is None:
                    problems.append("%s.%s is not a member of %s" % (where, key, shape_name))
                else:
                    problems.extend(self._check(member["shape"], item, "%s.%s" % (where, key)))
            return problems
        if kind == "list":
            if not isinstance(value, list):
                return ["%s must be a list" % where]
            problems = []
            if "min" in shape and len(value) < shape["min"] or "max" in shape and len(value) > shape["max"]:
                problems.append("%s has %d items, allowed %s-%s" % (where, len(value), shape.get("min"), shape.get("max")))
            for index, item in enumerate(value):
                problems.extend(self._check(shape["member"]["shape"], item, "%s[%d]" % (where, index)))
            return problems
        if kind == "string":
            if not isinstance(value, str):
                return ["%s must be a string" % where]
            if "enum" in shape and value not in shape["enum"]:
                return ["%s=%r is not one of %s" % (where, value, shape["enum"])]
            if not shape.get("min", 0) <= len(value) <= shape.get("max", 1 << 20):
                return ["%s=%r has a length outside %s-%s" % (where, value, shape.get("min"), shape.get("max"))]
            if "pattern" in shape and not re.match(shape["pattern"], value):
                return ["%s=%r does not match %s" % (where, value, shape["pattern"])]
            return []
        if kind in ("integer", "long"):
            return [] if isinstance(value, int) and not isinstance(value, bool) else ["%s must be an integer" % where]
        if kind == "boolean":
            return [] if isinstance(value, bool) else ["%s must be a boolean" % where]
        return []


class _TargetChecker:
    """The core's checker interface: finds the operation in X-Amz-Target, checks the body."""

    def __init__(self, shapes):
        self.shapes = shapes

    def errors(self, method, host_url, path, query, headers, body, content_type):
        target = headers.get("X-Amz-Target", "")
        if not target.startswith(TARGET_PREFIX):
            return []  # answered as an unknown operation by the handler
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return ["the body is not JSON"]
        return self.shapes.errors(target[len(TARGET_PREFIX):], payload)


class AwsShieldSimulator(Simulator):
    name = "aws_shield"
    prefix = "/aws"

    def __init__(self):
        self.checker = _TargetChecker(ShapeChecker(load_spec("aws-shield.json")))
        self.moto = None
        self.moto_url = None
        self.scenario = None
        super().__init__()

    # -- lifecycle: a real moto server behind us -------------------------------------------------------
    def start(self, sandbox):
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto._server.server_address[:2]
        self.moto_url = "http://%s:%s" % (host, port)
        self._seed()

    def stop(self):
        if self.moto is not None:
            self.moto.stop()

    def reset(self, scenario=None):
        self.scenario = scenario or DEFAULT_SCENARIO
        self.keys = dict(self.scenario.get("keys", DEFAULT_SCENARIO["keys"]))
        self.session_tokens = dict(self.scenario.get("session_tokens", DEFAULT_SCENARIO["session_tokens"]))
        self.subscribed = bool(self.scenario.get("subscribed", True))
        self.alar = {}  # resource ARN -> {"Status": "ENABLED"|"DISABLED", "Action": {...}}
        # L7-capable resources with no WAFv2 web ACL associated (all others have one).
        self.without_web_acl = set(self.scenario.get("without_web_acl", []))
        if self.moto_url:
            self._seed()

    def _seed(self):
        """Start moto from a clean slate and create the scenario's subscription and protections."""
        urllib.request.urlopen(urllib.request.Request(self.moto_url + "/moto-api/reset", method="POST"), timeout=10)
        if self.subscribed:
            self._moto("CreateSubscription", {})
        for protection in self.scenario.get("protections", []):
            self._moto("CreateProtection", protection)

    def state(self):
        listed = json.loads(self._moto("ListProtections", {}).body)
        return {"subscribed": self.subscribed,
                "protections": {p["ResourceArn"]: {"name": p["Name"], "alar": self.alar.get(p["ResourceArn"])}
                                for p in listed.get("Protections", [])}}

    # -- protocol -----------------------------------------------------------------------------------------
    def error_body(self, status, message, code=None, extra=None):
        default = "ValidationException" if status == 400 else "InternalErrorException"
        body = {"__type": code or default, "message": message}
        body.update(extra or {})
        return body

    def authenticate(self, request):
        match = re.search(r"Credential=([^/]+)/", request.headers.get("Authorization", ""))
        if not match or match.group(1) not in self.keys:
            raise HttpError(400, "The security token included in the request is invalid.", "UnrecognizedClientException")
        token = self.session_tokens.get(match.group(1))
        if token is not None and request.headers.get("X-Amz-Security-Token") != token:
            raise HttpError(400, "The security token included in the request is invalid.", "UnrecognizedClientException")
        request.access = self.keys[match.group(1)]

    def is_write(self, method, headers):
        return not headers.get("X-Amz-Target", "").rpartition(".")[2].startswith(READS)

    @route("POST", "/")
    def call(self, request):
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith(TARGET_PREFIX):
            raise HttpError(400, "Missing or unknown X-Amz-Target", "UnknownOperationException")
        operation = target[len(TARGET_PREFIX):]
        body = request.json or {}
        if request.access == "read_only" and not operation.startswith(READS):
            raise HttpError(400, "User is not authorized to perform: shield:%s" % operation, "AccessDeniedException")
        handler = getattr(self, "_op_" + operation, None)
        if handler is not None:
            return handler(body)
        response = self._moto(operation, body, request.headers.get("Authorization"))
        if operation == "DescribeProtection" and response.status == 200:
            data = json.loads(response.body)
            config = self.alar.get(data["Protection"]["ResourceArn"])
            if config:
                data["Protection"]["ApplicationLayerAutomaticResponseConfiguration"] = config
            return Response(200, data, {"Content-Type": "application/x-amz-json-1.1"})
        return response

    def _moto(self, operation, body, authorization=None):
        headers = {"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": "application/x-amz-json-1.1",
                   # moto routes by the signing scope; it does not check the signature itself
                   "Authorization": authorization or "AWS4-HMAC-SHA256 Credential=%s/20260101/us-east-1/shield/"
                                                     "aws4_request, SignedHeaders=host, Signature=0" % ACCESS_KEY}
        req = urllib.request.Request(self.moto_url + "/", data=json.dumps(body).encode(), headers=headers,
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Response(resp.status, resp.read(), {"Content-Type": "application/x-amz-json-1.1"})
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read(), {"Content-Type": "application/x-amz-json-1.1"})

    # -- what moto lacks ---------------------------------------------------------------------------------------
    def _op_GetSubscriptionState(self, body):
        return {"SubscriptionState": "ACTIVE" if self.subscribed else "INACTIVE"}

    def _protected(self, arn):
        response = self._moto("DescribeProtection", {"ResourceArn": arn})
        if response.status != 200:
            raise HttpError(400, "The referenced protection does not exist.", "ResourceNotFoundException",
                            {"resourceType": "protection"})

    def _alar_ready(self, body):
        arn = body["ResourceArn"]
        if ":cloudfront:" not in arn and ":loadbalancer/app/" not in arn:
            raise HttpError(400, "Application layer automatic response is only for CloudFront distributions and "
                                 "Application Load Balancers", "InvalidParameterException")
        self._protected(arn)
        if arn in self.without_web_acl:
            # REFERENCE §4: the resource needs a WAFv2 web ACL; the exact error is not documented.
            raise HttpError(400, "The resource must have a web ACL associated before enabling automatic "
                                 "application layer DDoS mitigation", "InvalidOperationException")
        if set(body.get("Action") or {}) not in ({"Block"}, {"Count"}):
            raise HttpError(400, "Specify exactly one action, Block or Count", "InvalidParameterException")
        return arn

    def _op_EnableApplicationLayerAutomaticResponse(self, body):
        arn = self._alar_ready(body)
        if (self.alar.get(arn) or {}).get("Status") == "ENABLED":
            raise HttpError(400, "Automatic response is already enabled; use Update", "InvalidOperationException")
        self.alar[arn] = {"Status": "ENABLED", "Action": body["Action"]}
        return {}

    def _op_UpdateApplicationLayerAutomaticResponse(self, body):
        arn = self._alar_ready(body)
        if (self.alar.get(arn) or {}).get("Status") != "ENABLED":
            raise HttpError(400, "Automatic response is not enabled", "InvalidOperationException")
        self.alar[arn] = {"Status": "ENABLED", "Action": body["Action"]}
        return {}

    def _op_DisableApplicationLayerAutomaticResponse(self, body):
        arn = body["ResourceArn"]
        if (self.alar.get(arn) or {}).get("Status") != "ENABLED":
            raise HttpError(400, "Automatic response is not enabled", "InvalidOperationException")
        # The model requires Action beside Status whenever the configuration is present
        # (ApplicationLayerAutomaticResponseConfiguration): the last action is kept, disabled.
        self.alar[arn] = {"Status": "DISABLED", "Action": self.alar[arn]["Action"]}
        return {}

    def _op_CreateSubscription(self, body):
        # REFERENCE §4 billing trap: a paid one-year commitment. No client may ever send it; the
        # sandbox refuses it so that a test which does fails loudly.
        raise HttpError(400, "the sandbox refuses CreateSubscription: it starts a paid one-year commitment",
                        "AccessDeniedException")

    def _op_DeleteProtection(self, body):
        # AWS refuses to delete a protection whose automatic response is still on.
        listed = json.loads(self._moto("ListProtections", {}).body).get("Protections", [])
        for protection in listed:
            if protection["Id"] == body["ProtectionId"] and \
                    (self.alar.get(protection["ResourceArn"]) or {}).get("Status") == "ENABLED":
                raise HttpError(400, "Disable application layer automatic response first", "InvalidOperationException")
        return self._moto("DeleteProtection", body)


SIMULATOR = AwsShieldSimulator
