# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS Shield against responses recorded from, or published for, the real API
(``/work/shared/replay``; none was written here), handed to botocore's own parser in place of the
HTTP answer: ``read()``, ``is_active()``, ``snapshot()``, the Test and an activation must read them
right. Then property-based: answers generated from the botocore Shield shapes, every optional
member absent in turn, never break the client.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conftest import make_provider
from ddos_sandbox.providers import aws_shield as aws_sim
from ddos_sandbox.spec import load_spec
from providers.replay_support import (EXAMPLE, AwsReplay, Cloud, cloud_replay_tests, fixtures_of, survives)

from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.aws_shield import AwsShield

CREDENTIALS = dict(aws_access_key_id=aws_sim.ACCESS_KEY, aws_secret_access_key=aws_sim.SECRET_KEY)
CLOUD = Cloud(AwsShield, CREDENTIALS, "aws_shield")
FIXTURES = fixtures_of("aws_shield")

# What each fixture must read as: (fields of read()'s state, is_active, the writes an activation sends).
EXPECTED = {
    "aws-eip-protected": (dict(subscription="ACTIVE", protections={
        "arn:aws:ec2:us-west-2:123456789012:eip-allocation/eipalloc-0ac1537af40742a6d": {
            "protected": True, "id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", "l7": None}}), True, []),
    # Issue 10 defect 6: an EIP cannot have an L7 response; protected is all activation can do.
    "aws-eip-protected-l7-wanted": (dict(subscription="ACTIVE", protections={
        "arn:aws:ec2:us-west-2:123456789012:eip-allocation/eipalloc-0ac1537af40742a6d": {
            "protected": True, "id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", "l7": None}}), True, []),
}


(test_every_fixture_has_an_expectation, test_client_reads_the_fixture_right,
 test_activation_over_the_fixture) = cloud_replay_tests(CLOUD, FIXTURES, EXPECTED)


# botocore's shapes. Every member not in "required" may be absent.
AWS_SHAPES = load_spec("aws-shield.json")["shapes"]


def aws_value(shape_name, depth=0):
    shape = AWS_SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = {k: aws_value(m["shape"], depth + 1) for k, m in shape["members"].items()}
        required = set(shape.get("required", []))
        return st.fixed_dictionaries({k: v for k, v in members.items() if k in required},
                                     optional={k: v for k, v in members.items() if k not in required})
    if kind == "list":
        return st.lists(aws_value(shape["member"]["shape"], depth + 1), max_size=2)
    if "enum" in shape:
        return st.sampled_from(shape["enum"])
    if kind == "string":
        if shape_name == "ResourceArn":
            return st.just(aws_sim.EIP) | st.just(aws_sim.CLOUDFRONT)
        size = max(shape.get("min", 1), 1)
        if shape.get("min") == shape.get("max"):
            return st.just("a" * size)
        return st.text("abc-1", min_size=size, max_size=size + 8)
    return st.just(0) if kind in ("integer", "long") else st.booleans()


@EXAMPLE
@given(aws_value("DescribeProtectionResponse"), aws_value("GetSubscriptionStateResponse"),
       st.sampled_from([None, "block", "count"]))
def test_aws_shield_survives_every_protection_the_model_allows(sandbox, described, subscription, wanted_l7):
    arn = ((described.get("Protection") or {}).get("ResourceArn")) or aws_sim.CLOUDFRONT
    replay = AwsReplay([{"path": "GetSubscriptionState", "status": 200, "body": subscription},
                        {"path": "DescribeProtection", "status": 200, "body": described}])
    params = dict(CREDENTIALS, endpoint_url=sandbox.api_url("aws_shield"), resource_arns=[arn], retries=0)
    if wanted_l7:
        params["application_layer_response"] = wanted_l7
    provider = replay.attach(make_provider(AwsShield, sleep=lambda s: None, **params))
    state = survives(provider.read)
    assert state is not None
    protection = described.get("Protection")
    assert state["protections"][arn]["protected"] is (protection is not None)
    config = (protection or {}).get("ApplicationLayerAutomaticResponseConfiguration") or {}
    if config.get("Status") != "ENABLED":
        assert state["protections"][arn]["l7"] is None
    provider.is_active(state)
    if state["subscription"] == "ACTIVE":
        provider.matches(state, provider.activation(state, provider.snapshot(state)))
