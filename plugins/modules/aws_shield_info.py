#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: aws_shield_info
short_description: Test an AWS Shield Advanced integration (the Test button)
version_added: 0.1.0
description:
  - Checks that the credentials can call Shield, that the Shield Advanced subscription is active, whether each
    resource is protected already and with which automatic response, and warns when automatic response is asked
    for resources that cannot have it. Never writes.
author:
  - ddos.scrubbing team (@ddos-scrubbing)
extends_documentation_fragment:
  - ddos.scrubbing.common.INFO
  - ddos.scrubbing.aws
  - ddos.scrubbing.attributes
  - ddos.scrubbing.attributes.INFO_MODULE
  - ddos.scrubbing.attributes.ACTIONGROUP
attributes:
  action_group:
    membership:
      - ddos.scrubbing.aws
seealso:
  - module: ddos.scrubbing.aws_shield
"""

EXAMPLES = r"""
- name: Test the Shield integration
  ddos.scrubbing.aws_shield_info:
    resource_arns:
      - arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE
"""

RETURN = r"""
ok:
  description: Whether every check passed (warnings allowed).
  returned: always
  type: bool
msg:
  description: One-line summary.
  returned: always
  type: str
findings:
  description: One entry per check, with C(check), C(ok), C(level) and C(detail).
  returned: always
  type: list
  elements: dict
state:
  description: The subscription state and each resource's protection.
  returned: when Shield could be read
  type: dict
active:
  description: Whether every resource is protected now.
  returned: when Shield could be read
  type: bool
"""

from ansible_collections.ddos.scrubbing.plugins.module_utils._module import run_info_module
from ansible_collections.ddos.scrubbing.plugins.module_utils.providers.aws_shield import AwsShield


def main():
    run_info_module(AwsShield)


if __name__ == "__main__":
    main()
