# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""AWS Shield Advanced: protections for resources, and optional L7 automatic response.

Activation verifies the subscription is active — it never creates one: that starts a paid
one-year commitment — makes sure a protection exists for each resource, and optionally turns
application-layer automatic response (Block or Count) on. Withdrawal undoes only what
activation did: a protection or an automatic response that existed before stays.
boto3 signs the requests and retries throttling (standard mode); Shield is global and served
from us-east-1.
"""

from __future__ import annotations

import hashlib
import re

from ansible.module_utils.basic import env_fallback

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import Finding, Findings, Provider
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError, redact
from ansible_collections.ddos.scrubbing.plugins.module_utils._http import REDIRECT_HINT, is_redirect, redirect_message
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import Shape

REGION = "us-east-1"
ACTIONS = {"block": {"Block": {}}, "count": {"Count": {}}}
L7_CAPABLE = (":cloudfront:", ":loadbalancer/app/")  # CloudFront distributions and ALBs only
# The ARNs Shield Advanced protects (REFERENCE §4). Route 53 and CloudFront ARNs have an empty
# region, Route 53 also an empty account: the generic ARN shape would refuse them.
_PROTECTABLE = re.compile(r"arn:aws[a-z-]*:(cloudfront|route53|globalaccelerator|ec2|elasticloadbalancing):"
                          r"[a-z0-9-]*:(\d{12})?:\S+")
PROTECTABLE_ARN = Shape("the ARN of a CloudFront distribution, Route 53 hosted zone, Global Accelerator, Elastic IP "
                        "allocation or load balancer",
                        lambda value: isinstance(value, str) and _PROTECTABLE.fullmatch(value) is not None,
                        "arn:aws:ec2:us-east-1:123456789012:eip-allocation/eipalloc-0123456789abcdef0")
IAM_ACTIONS = ("shield:GetSubscriptionState, shield:DescribeProtection, shield:CreateProtection, "
               "shield:DeleteProtection, shield:EnableApplicationLayerAutomaticResponse, "
               "shield:UpdateApplicationLayerAutomaticResponse, shield:DisableApplicationLayerAutomaticResponse")
HINTS = {
    "AccessDeniedException": "The AWS identity needs these IAM actions: " + IAM_ACTIONS,
    "UnrecognizedClientException": "The access key is not valid: check aws_access_key_id/aws_secret_access_key "
                                   "or the profile",
    "InvalidClientTokenId": "The access key is not valid: check aws_access_key_id/aws_secret_access_key",
    "InvalidResourceException": "This ARN cannot be protected by Shield Advanced: use a CloudFront distribution, "
                                "Route 53 hosted zone, Global Accelerator, Elastic IP allocation, or a Classic or "
                                "Application Load Balancer",
    "InvalidParameterException": "Check resource_arns; application-layer automatic response needs a CloudFront "
                                 "distribution or an ALB with a WAF web ACL associated",
    "LimitsExceededException": "The account's Shield Advanced protection limit is reached",
    "OptimisticLockException": "Another change was made at the same time; run again",
    "InvalidOperationException": "Application-layer automatic response needs the resource protected and a WAFv2 "
                                 "web ACL associated with it: associate one, or drop application_layer_response",
}


class AwsShield(Provider):
    name = "aws_shield"
    title = "AWS Shield Advanced"
    wait_sleep = 2.0
    options = dict(
        resource_arns=dict(type="list", elements="str", required=True),
        application_layer_response=dict(type="str", choices=["block", "count"]),
        region=dict(type="str", aliases=["aws_region"],
                    fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION", "EC2_REGION"])),
        profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])),
        aws_access_key_id=dict(type="str", aliases=["access_key", "aws_access_key"], no_log=True,
                               fallback=(env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "EC2_ACCESS_KEY"])),
        aws_secret_access_key=dict(type="str", aliases=["secret_key", "aws_secret_key"], no_log=True,
                                   fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
                                                            "EC2_SECRET_KEY"])),
        session_token=dict(type="str", aliases=["aws_session_token"], no_log=True,
                           fallback=(env_fallback, ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])),
        endpoint_url=dict(type="str", aliases=["aws_endpoint_url"], fallback=(env_fallback, ["AWS_URL", "EC2_URL"])),
    )
    mutually_exclusive = [("profile", "aws_access_key_id")]
    shapes = dict(resource_arns=PROTECTABLE_ARN)
    identity = ("resource_arns",)
    may_be_empty = ("session_token",)  # empty is no token (long-term keys); see connect()

    def __init__(self, params, **kw):
        super().__init__(params, **kw)
        self.calls = []
        if params.get("region") and params["region"] != REGION:
            self.warn("Shield Advanced is a global service served from us-east-1; region %s is not used for it"
                      % params["region"])

    # -- plumbing -----------------------------------------------------------------------------------------
    def connect(self):
        import boto3
        from botocore.config import Config

        # An empty session token (the AWX credential type injects AWS_SESSION_TOKEN empty for
        # long-term keys) means none.
        session = boto3.session.Session(profile_name=self.params.get("profile"),
                                        aws_access_key_id=self.params.get("aws_access_key_id"),
                                        aws_secret_access_key=self.params.get("aws_secret_access_key"),
                                        aws_session_token=self.params.get("session_token") or None)
        config = Config(region_name=REGION, connect_timeout=self.params["timeout"],
                        read_timeout=self.params["timeout"],
                        retries={"mode": "standard", "total_max_attempts": self.params["retries"] + 1})
        client = session.client("shield", config=config,
                                endpoint_url=self.params.get("endpoint_url") or self.params.get("api_url") or None)
        client.meta.events.register("before-call.shield", self._count)
        return client

    def _count(self, model, **kwargs):
        self.calls.append(model.name)

    def api_calls(self):
        return list(self.calls)

    def close(self):
        if self._http is not None:
            self._http.close()

    def call(self, operation, absent_ok=False, fine=(), **kwargs):
        """One Shield call through boto3; errors become one ProviderError with the fix.
        ``absent_ok``: a missing resource returns None; ``fine``: error codes that mean "already so"."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ParamValidationError

        try:
            return getattr(self.http, operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code")
            if (absent_ok and code == "ResourceNotFoundException") or code in fine:
                return None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status and is_redirect(status):  # botocore never follows one; say where it pointed
                location = (exc.response["ResponseMetadata"].get("HTTPHeaders") or {}).get("location")
                raise ProviderError(self.name, redact(redirect_message(location, self.http.meta.endpoint_url),
                                                      self.secrets()),
                                    status=status, hint=REDIRECT_HINT, method=_api_name(operation))
            raise ProviderError(self.name, redact(error.get("Message") or str(exc), self.secrets()), status=status,
                                code=code, hint=HINTS.get(code, ""), method=_api_name(operation))
        except NoCredentialsError:
            raise ProviderError(self.name, "no AWS credentials were found",
                                hint="Set aws_access_key_id and aws_secret_access_key, or profile, or the AWS_* "
                                     "environment variables")
        except ParamValidationError as exc:
            raise ProviderError(self.name, redact(str(exc), self.secrets()), hint="Check resource_arns")
        except BotoCoreError as exc:
            raise ProviderError(self.name, redact(str(exc), self.secrets()),
                                hint="Check endpoint_url and the network")

    # -- the contract ---------------------------------------------------------------------------------------
    def read(self):
        arns = self.params["resource_arns"]
        if not arns or any(not a.startswith("arn:aws") for a in arns):
            self.fail("resource_arns must be a non-empty list of ARNs (arn:aws:...), got %r" % (arns,),
                      hint="List the CloudFront, Route 53, Global Accelerator, Elastic IP or load balancer ARNs "
                           "to protect")
        subscription = self.call("get_subscription_state")["SubscriptionState"]
        protections = {}
        for arn in arns:
            found = self.call("describe_protection", absent_ok=True, ResourceArn=arn)
            protection = (found or {}).get("Protection")
            config = (protection or {}).get("ApplicationLayerAutomaticResponseConfiguration") or {}
            protections[arn] = {
                "protected": protection is not None, "id": (protection or {}).get("Id"),
                "l7": _action_name(config) if config.get("Status") == "ENABLED" else None}
        return dict(subscription=subscription, protections=protections)

    def is_active(self, state):
        """Protected as far as activation can make it: every resource protected, and the wanted
        L7 response on those that can have one (an Elastic IP cannot: protected is all it gets)."""
        wanted_l7 = self.params.get("application_layer_response")
        return bool(state) and state["subscription"] == "ACTIVE" and all(
            p["protected"] and (wanted_l7 is None or not _l7_capable(arn) or p["l7"] == wanted_l7)
            for arn, p in state["protections"].items())

    def snapshot(self, state):
        return dict(protections={arn: {"protected": p["protected"], "l7": p["l7"]}
                                 for arn, p in state["protections"].items()})

    def activation(self, state, snapshot):
        if state["subscription"] != "ACTIVE":
            raise ProviderError(self.name, "the account has no active Shield Advanced subscription (state %s)" %
                                state["subscription"],
                                hint="Subscribe in the AWS Shield console first; this module never subscribes, "
                                     "because a subscription is a paid one-year commitment")
        l7 = self.params.get("application_layer_response")
        wanted = {}
        for arn, p in state["protections"].items():
            if l7 and not _l7_capable(arn):
                self.warn("%s does not support application-layer automatic response (CloudFront and ALB only); "
                          "it is protected without it" % arn)
                wanted[arn] = {"protected": True, "l7": p["l7"]}
            else:
                wanted[arn] = {"protected": True, "l7": l7 or p["l7"]}
        return dict(protections=wanted)

    def restoration(self, state, snapshot):
        saved = snapshot.get("protections") or {}
        wanted = {}
        for arn in state["protections"]:
            before = saved.get(arn)
            # A resource added to resource_arns after the activation has no snapshot: leave it alone.
            wanted[arn] = dict(before) if before else dict((k, state["protections"][arn][k]) for k in ("protected", "l7"))
        return dict(protections=wanted)

    def release(self, state):
        raise ProviderError(self.name, "withdrawal needs the snapshot of the activation",
                            hint="Without it the module cannot tell the protections it created from those that "
                                 "existed before, and never deletes the latter; pass snapshot (the playbooks keep it)")

    def matches(self, state, wanted):
        return all({k: state["protections"][arn][k] for k in ("protected", "l7")} == want
                   for arn, want in wanted["protections"].items())

    def predict(self, state, wanted):
        after = {arn: dict(state["protections"][arn], **want) for arn, want in wanted["protections"].items()}
        return dict(state, protections=after)

    def apply(self, state, wanted):
        for arn, want in wanted["protections"].items():
            current = state["protections"][arn]
            if want["protected"] and not current["protected"]:
                self._create(arn)
            if want["l7"] != current["l7"] and (want["protected"] or current["protected"]):
                if want["l7"] is None:
                    self.call("disable_application_layer_automatic_response", ResourceArn=arn)
                elif current["l7"] is None:
                    self.call("enable_application_layer_automatic_response", ResourceArn=arn,
                              Action=ACTIONS[want["l7"]])
                else:
                    self.call("update_application_layer_automatic_response", ResourceArn=arn,
                              Action=ACTIONS[want["l7"]])
            if not want["protected"] and current["protected"]:
                self.call("delete_protection", ProtectionId=current["id"])
        return None

    def _create(self, arn):
        name = "ddos-scrubbing-" + hashlib.sha1(arn.encode()).hexdigest()[:12]
        # Someone (or a run that died) may have protected it meanwhile: that is the wanted state.
        self.call("create_protection", fine=("ResourceAlreadyExistsException",), Name=name, ResourceArn=arn)

    # -- the Test button ------------------------------------------------------------------------------------------
    def test(self):
        findings = Findings()
        state = self.read()
        findings.state = state
        findings.append(Finding("credentials", True, "the AWS credentials can call Shield"))
        findings.append(Finding("subscription", state["subscription"] == "ACTIVE",
                                "the Shield Advanced subscription is %s%s" % (
                                    state["subscription"], "" if state["subscription"] == "ACTIVE" else
                                    ": activation would fail (this module never subscribes)")))
        for arn, p in state["protections"].items():
            detail = "%s is %s" % (arn, "protected" if p["protected"] else "not protected yet (activation protects it)")
            if p["l7"]:
                detail += ", L7 automatic response %s" % p["l7"]
            findings.append(Finding("resource", True, detail))
        if self.params.get("application_layer_response"):
            unsupported = [a for a in state["protections"] if not _l7_capable(a)]
            if unsupported:
                findings.append(Finding("l7", False, "application-layer automatic response is for CloudFront and "
                                        "ALBs only (with a WAF web ACL); not for %s" % ", ".join(unsupported),
                                        level="warning"))
        return findings


def _l7_capable(arn):
    return any(kind in arn for kind in L7_CAPABLE)


def _action_name(config):
    action = config.get("Action") or {}
    return "block" if "Block" in action else "count" if "Count" in action else None


def _api_name(operation):
    return "".join(part.capitalize() for part in operation.split("_"))
