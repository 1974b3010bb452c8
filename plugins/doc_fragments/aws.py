# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # AWS credentials (the amazon.aws names and environment variables) and what aws_shield acts on.
    DOCUMENTATION = r"""
options:
  resource_arns:
    description:
      - ARNs of the resources to protect (CloudFront distribution, Route 53 hosted zone, Global Accelerator,
        Elastic IP allocation, Classic or Application Load Balancer).
    type: list
    elements: str
    required: true
  application_layer_response:
    description:
      - Also turn on application-layer (L7) automatic response with this WAF action, where the resource supports
        it (CloudFront distributions and ALBs with a WAF web ACL). Not set, automatic response is left as it is.
    type: str
    choices: [block, count]
  region:
    description:
      - AWS region. Shield Advanced is global and always called in V(us-east-1); another value only warns.
      - Falls back to E(AWS_REGION), E(AWS_DEFAULT_REGION), E(EC2_REGION).
    type: str
    aliases: [aws_region]
  profile:
    description: AWS profile from the shared credentials files. Falls back to E(AWS_PROFILE), E(AWS_DEFAULT_PROFILE).
    type: str
    aliases: [aws_profile]
  aws_access_key_id:
    description: AWS access key ID. Falls back to E(AWS_ACCESS_KEY_ID), E(AWS_ACCESS_KEY), E(EC2_ACCESS_KEY).
    type: str
    aliases: [access_key, aws_access_key]
  aws_secret_access_key:
    description: AWS secret access key. Falls back to E(AWS_SECRET_ACCESS_KEY), E(AWS_SECRET_KEY), E(EC2_SECRET_KEY).
    type: str
    aliases: [secret_key, aws_secret_key]
  session_token:
    description: AWS session token of temporary (STS) credentials; empty means none. Falls back to E(AWS_SESSION_TOKEN), E(AWS_SECURITY_TOKEN).
    type: str
    aliases: [aws_session_token]
  endpoint_url:
    description:
      - URL of the Shield endpoint, to reach the sandbox (the amazon.aws name; O(api_url) does the same).
      - Falls back to E(AWS_URL), E(EC2_URL).
      - Like O(api_url), C(https://) only, plain C(http://) only for a loopback host.
    type: str
    aliases: [aws_endpoint_url]
requirements:
  - boto3
"""
