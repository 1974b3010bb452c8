#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: aws_shield
short_description: Protect resources with AWS Shield Advanced during an attack, and undo only that afterwards
version_added: 0.1.0
description:
  - O(state=active) verifies that the account has an active Shield Advanced subscription (and fails clearly
    when not; it never creates one, which is a paid one-year commitment), makes sure a Shield protection exists
    for each of O(resource_arns), and with O(application_layer_response) turns on application-layer automatic
    response where the resource supports it.
  - O(state=inactive) with the snapshot undoes only what the activation did; a protection or an automatic
    response that existed before the incident stays.
  - Uses boto3 (standard retry mode for throttling); Shield Advanced is a global service called in us-east-1.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common
  - ddos.scrubbing.aws
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.PROVIDER
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.aws
seealso:
  - module: ddos.scrubbing.aws_shield_info
  - name: Setup guide
    description: docs/providers/aws_shield.md in this collection.
    link: https://docs.aws.amazon.com/waf/latest/developerguide/shield-chapter.html
"""

EXAMPLES = r"""
- name: Protect the CDN and the load balancer, with L7 automatic response
  ddos.scrubbing.aws_shield:
    resource_arns:
      - arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE
      - arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188
    application_layer_response: block
  register: shield

- name: Undo what the activation did
  ddos.scrubbing.aws_shield:
    resource_arns:
      - arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE
      - arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188
    state: inactive
    snapshot: "{{ shield.snapshot }}"
"""

RETURN = r"""
active:
  description: Whether every resource is protected (with the asked automatic response) after the run.
  returned: success
  type: bool
before:
  description: The subscription state and, per resource, whether it is protected and its automatic response.
  returned: success
  type: dict
after:
  description: The same after the run (in check mode, the predicted one).
  returned: success
  type: dict
snapshot:
  description: Per resource, whether it was protected and its automatic response before the activation.
  returned: success
  type: dict
api_calls:
  description: Number of Shield API calls.
  returned: always
  type: int
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.aws_shield import AwsShield


def main():
    run_module(AwsShield)


if __name__ == "__main__":
    main()
