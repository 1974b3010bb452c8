"""AWS Shield Advanced. Two layers:
- against the sandbox, where moto (server mode) serves subscriptions and protections and the
  simulator answers GetSubscriptionState and the automatic-response calls moto lacks;
- with botocore's Stubber, which pins the exact requests for GetSubscriptionState and the
  three application-layer automatic response (ALAR) calls.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from conftest import converge, make_provider
from ddos_sandbox.providers.aws_shield import (ACCESS_KEY, ALB, CLOUDFRONT, EIP, PREPROTECTED, READONLY_KEY,
                                               SECRET_KEY)

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.aws_shield import AwsShield


def shield(sandbox, **params):
    base = dict(endpoint_url=sandbox.api_url("aws_shield"), aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY, resource_arns=[CLOUDFRONT, EIP], retries=2, wait_sleep=0.01)
    base.update(params)
    return make_provider(AwsShield, sleep=lambda s: None, **base)


def protections(sandbox):
    return sandbox.state()["aws_shield"]["protections"]


def shield_writes(sandbox):
    """Shield is one POST endpoint; the simulator marks as writes the operations that change something."""
    return sandbox.requests(provider="aws_shield", writes_only=True)


@pytest.fixture(autouse=True)
def _operation_names(sandbox, monkeypatch):
    """Name each logged Shield call by its X-Amz-Target (all are POST /)."""
    original = sandbox.handle

    def handle(method, raw_path, headers, body, host_url):
        response, entry = original(method, raw_path, headers, body, host_url)
        if entry is not None:
            entry["operation"] = headers.get("X-Amz-Target", "").rpartition(".")[2]
        return response, entry
    monkeypatch.setattr(sandbox, "handle", handle)


def test_protects_then_undoes_only_what_it_did(sandbox):
    provider = shield(sandbox, resource_arns=[CLOUDFRONT, EIP, PREPROTECTED])
    on = converge(provider, "active")
    assert on["changed"] and on["active"]
    assert set(protections(sandbox)) == {CLOUDFRONT, EIP, PREPROTECTED}
    assert [e["operation"] for e in shield_writes(sandbox)] == ["CreateProtection", "CreateProtection"]
    off = converge(shield(sandbox, resource_arns=[CLOUDFRONT, EIP, PREPROTECTED]), "inactive", snapshot=on["snapshot"])
    assert off["changed"]
    assert set(protections(sandbox)) == {PREPROTECTED}, "a protection that existed before stays"


def test_l7_automatic_response_on_and_restored(sandbox):
    on = converge(shield(sandbox, resource_arns=[CLOUDFRONT, ALB], application_layer_response="block"), "active")
    state = protections(sandbox)
    assert state[CLOUDFRONT]["alar"] == {"Status": "ENABLED", "Action": {"Block": {}}}
    assert state[ALB]["alar"]["Status"] == "ENABLED"
    converge(shield(sandbox, resource_arns=[CLOUDFRONT, ALB], application_layer_response="block"), "inactive",
             snapshot=on["snapshot"])
    assert protections(sandbox) == {PREPROTECTED: {"name": "customer-route53", "alar": None}}
    ops = [e["operation"] for e in shield_writes(sandbox)]
    assert ops.index("DisableApplicationLayerAutomaticResponse") < ops.index("DeleteProtection")


def test_l7_on_a_resource_that_cannot_have_it_is_a_warning(sandbox):
    provider = shield(sandbox, resource_arns=[EIP], application_layer_response="count")
    on = converge(provider, "active")
    assert on["changed"] and any("does not support application-layer" in w for w in provider.warnings)
    assert not any(e["operation"].endswith("AutomaticResponse") for e in shield_writes(sandbox))


def test_rerun_and_check_mode_make_no_write(sandbox):
    assert converge(shield(sandbox), "active", check_mode=True)["changed"]
    assert shield_writes(sandbox) == []
    on = converge(shield(sandbox), "active")
    count = len(shield_writes(sandbox))
    again = converge(shield(sandbox), "active", snapshot=on["snapshot"])
    assert not again["changed"] and len(shield_writes(sandbox)) == count


def test_no_subscription_fails_clearly_and_never_subscribes(sandbox):
    sim = sandbox.simulators["aws_shield"]
    sim.reset(dict(sim.scenario, subscribed=False))
    with pytest.raises(ProviderError) as err:
        converge(shield(sandbox), "active")
    assert "no active Shield Advanced subscription" in str(err.value) and "never subscribes" in str(err.value)
    assert shield_writes(sandbox) == []


def test_unprotectable_arn_and_bad_input(sandbox):
    with pytest.raises(ProviderError, match="cannot be protected by Shield Advanced"):
        converge(shield(sandbox, resource_arns=["arn:aws:s3:::my-bucket"]), "active")
    sandbox.log.clear()
    with pytest.raises(ProviderError, match="resource_arns must be a non-empty list of ARNs"):
        converge(shield(sandbox, resource_arns=["i-0123456789"]), "active")
    assert sandbox.requests() == []


def test_credentials_errors_name_the_fix_and_hide_the_secret(sandbox):
    with pytest.raises(ProviderError) as err:
        converge(shield(sandbox, aws_access_key_id="AKIDWRONGWRONG00"), "active")
    assert "UnrecognizedClientException" in str(err.value) and "aws_access_key_id" in str(err.value)
    with pytest.raises(ProviderError) as err:
        converge(shield(sandbox, aws_access_key_id=READONLY_KEY), "active")
    assert "AccessDeniedException" in str(err.value) and "shield:CreateProtection" in str(err.value)
    assert SECRET_KEY not in str(err.value)


def test_withdraw_without_snapshot_refuses(sandbox):
    with pytest.raises(ProviderError, match="needs the snapshot"):
        converge(shield(sandbox), "inactive")


def test_throttling_is_retried_bounded(sandbox):
    sandbox.add_fault(provider="aws_shield", status=400, count=1,
                      body={"__type": "ThrottlingException", "message": "Rate exceeded"})
    assert converge(shield(sandbox), "active")["changed"]
    sandbox.add_fault(provider="aws_shield", status=400, count=10,
                      body={"__type": "ThrottlingException", "message": "Rate exceeded"})
    with pytest.raises(ProviderError, match="ThrottlingException"):
        converge(shield(sandbox, retries=2), "active")


def test_test_button(sandbox):
    report = build_test_report(shield(sandbox, resource_arns=[CLOUDFRONT, PREPROTECTED]))
    assert report["ok"] and "ACTIVE" in " ".join(f["detail"] for f in report["findings"])
    assert shield_writes(sandbox) == []
    sim = sandbox.simulators["aws_shield"]
    sim.reset(dict(sim.scenario, subscribed=False))
    report = build_test_report(shield(sandbox))
    assert not report["ok"] and "never subscribes" in report["msg"]


def test_module_end_to_end(sandbox, module_runner):
    args = dict(endpoint_url=sandbox.api_url("aws_shield"), aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY, resource_arns=[CLOUDFRONT], wait_sleep=0.01)
    on = module_runner("aws_shield", args)
    assert on["changed"] and on["active"], on
    assert SECRET_KEY not in on["_stdout"] + on["_stderr"]
    off = module_runner("aws_shield", dict(args, state="inactive", snapshot=on["snapshot"]))
    assert off["changed"] and CLOUDFRONT not in protections(sandbox)


# -- exact request shapes with botocore's Stubber (moto implements none of these) -------------------------
def stubbed(**params):
    base = dict(endpoint_url="http://127.0.0.1:9/aws", aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                resource_arns=[CLOUDFRONT], retries=0, wait=False)
    base.update(params)
    provider = make_provider(AwsShield, sleep=lambda s: None, **base)
    stub = Stubber(provider.http)
    return provider, stub


def test_stubbed_activation_requests_are_exactly_these():
    provider, stub = stubbed(application_layer_response="count")
    stub.add_response("get_subscription_state", {"SubscriptionState": "ACTIVE"}, {})
    stub.add_response("describe_protection", {"Protection": {"Id": "1" * 36, "ResourceArn": CLOUDFRONT}},
                      {"ResourceArn": CLOUDFRONT})
    stub.add_response("enable_application_layer_automatic_response", {},
                      {"ResourceArn": CLOUDFRONT, "Action": {"Count": {}}})
    with stub:
        result = converge(provider, "active", wait=False)
    stub.assert_no_pending_responses()
    assert result["changed"] and result["snapshot"] == {"protections": {CLOUDFRONT: {"protected": True, "l7": None}}}


def test_stubbed_update_and_disable_requests():
    provider, stub = stubbed(application_layer_response="block")
    enabled_count = {"Protection": {"Id": "1" * 36, "ResourceArn": CLOUDFRONT,
                                    "ApplicationLayerAutomaticResponseConfiguration": {
                                        "Status": "ENABLED", "Action": {"Count": {}}}}}
    stub.add_response("get_subscription_state", {"SubscriptionState": "ACTIVE"}, {})
    stub.add_response("describe_protection", enabled_count, {"ResourceArn": CLOUDFRONT})
    stub.add_response("update_application_layer_automatic_response", {},
                      {"ResourceArn": CLOUDFRONT, "Action": {"Block": {}}})
    with stub:
        on = converge(provider, "active", wait=False)
    provider, stub = stubbed(application_layer_response="block")
    enabled_block = {"Protection": dict(enabled_count["Protection"],
                                        ApplicationLayerAutomaticResponseConfiguration={
                                            "Status": "ENABLED", "Action": {"Block": {}}})}
    stub.add_response("get_subscription_state", {"SubscriptionState": "ACTIVE"}, {})
    stub.add_response("describe_protection", enabled_block, {"ResourceArn": CLOUDFRONT})
    stub.add_response("update_application_layer_automatic_response", {},
                      {"ResourceArn": CLOUDFRONT, "Action": {"Count": {}}})
    with stub:
        converge(provider, "inactive", snapshot=on["snapshot"], wait=False)
    stub.assert_no_pending_responses()


def test_stubbed_disable_when_activation_enabled_it():
    provider, stub = stubbed()
    stub.add_response("get_subscription_state", {"SubscriptionState": "ACTIVE"}, {})
    stub.add_response("describe_protection", {"Protection": {
        "Id": "1" * 36, "ResourceArn": CLOUDFRONT,
        "ApplicationLayerAutomaticResponseConfiguration": {"Status": "ENABLED", "Action": {"Block": {}}}}},
        {"ResourceArn": CLOUDFRONT})
    stub.add_response("disable_application_layer_automatic_response", {}, {"ResourceArn": CLOUDFRONT})
    with stub:
        converge(provider, "inactive", snapshot={"protections": {CLOUDFRONT: {"protected": True, "l7": None}}},
                 wait=False)
    stub.assert_no_pending_responses()


# -- "active" is what activation can do for each resource (issue 10 defect 6) ---------------------------
def test_an_eip_is_active_once_protected_when_l7_is_wanted(sandbox):
    provider = shield(sandbox, resource_arns=[CLOUDFRONT, EIP], application_layer_response="block")
    on = converge(provider, "active")
    assert on["changed"] and on["active"], on
    assert any(EIP in w and "does not support application-layer" in w for w in provider.warnings)
    fresh = shield(sandbox, resource_arns=[CLOUDFRONT, EIP], application_layer_response="block")
    state = fresh.read()
    assert state["protections"][EIP] == {"protected": True, "id": state["protections"][EIP]["id"], "l7": None}
    assert fresh.is_active(state), "an EIP cannot have an L7 response: protected is active"
    report = build_test_report(shield(sandbox, resource_arns=[CLOUDFRONT, EIP], application_layer_response="block"))
    assert report["active"] is True
    again = converge(shield(sandbox, resource_arns=[CLOUDFRONT, EIP], application_layer_response="block"), "active",
                     snapshot=on["snapshot"])
    assert not again["changed"] and again["active"]


def test_a_cloudfront_without_its_l7_response_is_not_active(sandbox):
    converge(shield(sandbox, resource_arns=[CLOUDFRONT]), "active")
    provider = shield(sandbox, resource_arns=[CLOUDFRONT, EIP], application_layer_response="block")
    assert not provider.is_active(provider.read()), "L7 is possible on CloudFront: without it, not active"


# -- identifiers checked before any call (issue 10 defect 4) ----------------------------------------------
@pytest.mark.parametrize("bad", [[""], ["i-0123456789abcdef0"], "arn:aws:s3:::my-bucket", [CLOUDFRONT, "eipalloc-1"], []])
def test_bad_arns_are_refused_by_the_module_before_any_call(sandbox, module_runner, bad):
    args = dict(endpoint_url=sandbox.api_url("aws_shield"), aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY, resource_arns=bad)
    result = module_runner("aws_shield", args)
    assert result["_rc"] != 0
    assert result["msg"].startswith("aws_shield: ") and "resource_arns must be" in result["msg"], result["msg"]
    assert sandbox.requests(provider="aws_shield") == []


def test_every_protectable_arn_kind_passes_the_shape():
    from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import shape_errors

    arns = [CLOUDFRONT, ALB, EIP, PREPROTECTED, "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/classic-web"]
    assert shape_errors(AwsShield, {"resource_arns": arns}) == []


# -- simulator fidelity (sandbox/FIDELITY.md) -------------------------------------------------------------
def test_a_disabled_automatic_response_is_described_as_the_model_requires(sandbox):
    sim = sandbox.simulators["aws_shield"]
    sim.reset(dict(sim.scenario, protections=sim.scenario["protections"] + [
        {"Name": "customer-cdn", "ResourceArn": CLOUDFRONT}]))
    on = converge(shield(sandbox, resource_arns=[CLOUDFRONT], application_layer_response="block"), "active")
    off = converge(shield(sandbox, resource_arns=[CLOUDFRONT], application_layer_response="block"), "inactive",
                   snapshot=on["snapshot"])
    assert off["changed"] and off["after"]["protections"][CLOUDFRONT] == {
        "protected": True, "id": off["after"]["protections"][CLOUDFRONT]["id"], "l7": None}
    config = shield(sandbox).http.describe_protection(ResourceArn=CLOUDFRONT)["Protection"][
        "ApplicationLayerAutomaticResponseConfiguration"]
    assert config == {"Status": "DISABLED", "Action": {"Block": {}}}, "Status and Action are both required"


def test_the_sandbox_refuses_create_subscription(sandbox):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="paid one-year commitment"):
        shield(sandbox).http.create_subscription()


def test_l7_without_a_web_acl_names_the_fix(sandbox):
    sim = sandbox.simulators["aws_shield"]
    sim.reset(dict(sim.scenario, without_web_acl=[CLOUDFRONT]))
    with pytest.raises(ProviderError) as err:
        converge(shield(sandbox, resource_arns=[CLOUDFRONT], application_layer_response="count"), "active")
    assert "InvalidOperationException" in str(err.value) and "WAFv2 web ACL" in str(err.value)
