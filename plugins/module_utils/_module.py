# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""Glue between AnsibleModule and the provider contract, shared by all 16 modules."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import (
    COMMON_OPTIONS, INFO_OPTIONS, execute, plan_change)
from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import ProviderError
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import shape_errors
from ansible_collections.ddos.scrubbing.plugins.module_utils.engine.report import build_test_report


def argument_spec(provider_cls, info=False):
    spec = dict(INFO_OPTIONS if info else COMMON_OPTIONS)
    spec.update(provider_cls.options)
    return spec


def _new_module(provider_cls, info):
    module = AnsibleModule(
        argument_spec=argument_spec(provider_cls, info),
        required_one_of=provider_cls.required_one_of,
        mutually_exclusive=provider_cls.mutually_exclusive,
        required_together=provider_cls.required_together,
        required_if=provider_cls.required_if,
        supports_check_mode=True,
    )
    bad = shape_errors(provider_cls, module.params)
    if bad:  # before any call: a malformed identifier never reaches a request
        module.fail_json(msg="%s: %s" % (provider_cls.name, "; ".join(bad)))
    return module


def run_module(provider_cls):
    """Entry point of a provider module: converge to ``state``."""
    module = _new_module(provider_cls, info=False)
    provider = provider_cls(module.params)
    p = module.params
    try:
        plan = plan_change(provider, p["state"], p["snapshot"])
        after = None
        if plan.changed and not module.check_mode:
            after = execute(plan, wait=p["wait"], wait_timeout=p["wait_timeout"], wait_sleep=p["wait_sleep"])
        result = plan.result(after, check_mode=module.check_mode)
        result["api_calls"] = len(provider.api_calls())
        for warning in provider.warnings:
            module.warn(warning)
        if not module._diff:
            result.pop("diff")
        module.exit_json(**result)
    except ProviderError as exc:
        module.fail_json(msg=str(exc), error=exc.as_dict(), api_calls=len(provider.api_calls()))
    finally:
        provider.close()


def run_info_module(provider_cls):
    """Entry point of a ``*_info`` module: the Test button. Never writes."""
    module = _new_module(provider_cls, info=True)
    provider = provider_cls(module.params)
    try:
        report = build_test_report(provider, check_mode=module.check_mode)
    finally:
        provider.close()
    for warning in provider.warnings:
        module.warn(warning)
    if not report["ok"]:
        # The report carries ``msg`` (the provider's reason): passing it twice was a TypeError
        # exactly when a Test failed.
        module.fail_json(changed=False, **report)
    module.exit_json(changed=False, **report)
