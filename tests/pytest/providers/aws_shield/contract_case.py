# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS Shield in the contract (tests/pytest/contract/test_every_provider.py)."""

from __future__ import annotations

from contract.cases import Case

CASE = Case("aws_shield", "aws_shield", lambda url: dict(
    endpoint_url=url, aws_access_key_id="AKIDSANDBOXSHIELD01", aws_secret_access_key="sandbox-aws-secret-key",
    session_token="sandbox-aws-SECRET-session-token",
    resource_arns=["arn:aws:cloudfront::123456789012:distribution/E2SANDBOX1"]),
    ["aws_access_key_id", "aws_secret_access_key", "session_token"], ("aws_access_key_id", "AKIDSECRETREJECTED08"),
    400,
    # botocore retries a 429 by its error code (REFERENCE.md: Shield throttles with ThrottlingException)
    throttled={"__type": "ThrottlingException", "message": "Rate exceeded"})
