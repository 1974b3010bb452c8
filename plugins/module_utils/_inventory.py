# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The inventory's integrations, validated before any provider is called."""

from __future__ import annotations

import ipaddress

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import NAME_PATTERN
from ansible_collections.ddos.scrubbing.plugins.module_utils._module import argument_spec
from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import provider_class
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import shape_errors

# Options the playbooks set themselves; an inventory must not.
RESERVED_OPTIONS = ("state", "snapshot", "targets", "target_attacks")


class Integration:
    """One inventory host of the group scrubbing_integrations, validated."""

    def __init__(self, name, provider_cls, options, workspace_name, auto, targets, secrets):
        self.name = name
        self.provider_cls = provider_cls
        self.provider = provider_cls.name
        self.options = options
        self.workspace = workspace_name
        self.auto = auto
        self.targets = targets
        self.secrets = secrets

    @property
    def per_target(self):
        """BGP mechanisms act per attacked address, not per workspace."""
        return bool(getattr(self.provider_cls, "per_target", False))

    def covers(self, target):
        """Does an incident on ``target`` concern this integration?"""
        if not self.targets or not target:
            return True
        try:
            net = ipaddress.ip_network(target, strict=False)
        except ValueError:
            return False
        return any(net.version == t.version and net.subnet_of(t) for t in self.targets)

    def owned_networks(self):
        """The per-target mechanisms' owned_prefixes as networks (a bad one is named by the provider)."""
        nets = []
        for item in self.options.get("owned_prefixes") or []:
            try:
                nets.append(ipaddress.ip_network(str(item), strict=False))
            except ValueError:
                continue
        return nets

    def objects(self):
        """The provider objects it acts on, as comparable keys (see ``Provider.identity``: the
        options that together name one object; a single list option names one object per item)."""
        options = tuple(getattr(self.provider_cls, "identity", ()))
        values = [self.options.get(o) for o in options]
        if len(options) == 1 and isinstance(values[0], list):
            return {(self.provider, options[0], str(item)) for item in values[0] if item not in (None, "")}
        if not any(v not in (None, "") for v in values):
            return set()
        named = ", ".join("%s=%s" % (o, v) for o, v in zip(options, values) if v not in (None, ""))
        return {(self.provider, "", named)}

    def new_provider(self, extra=None):
        params = dict(self.options)
        params.update(extra or {})
        return self.provider_cls(params)


def load_integrations(hosts):
    """Validate every integration's host vars; return (integrations, errors).

    ``hosts`` maps host name -> dict with scrubbing_provider, scrubbing_options,
    scrubbing_workspace, scrubbing_auto, scrubbing_targets. Nothing is called on any provider.
    """
    integrations, errors = [], []
    for name in sorted(hosts):
        integ, error = _load_one(name, hosts[name])
        if error:
            errors.extend([error] if isinstance(error, str) else error)
        else:
            integrations.append(integ)
    errors.extend(conflicts(integrations))
    errors.extend(_overlapping_routes(integrations))
    return integrations, errors


def _load_one(name, hv):
    where = "integration %s" % name
    provider_name = hv.get("scrubbing_provider")
    if not provider_name:
        return None, "%s: scrubbing_provider is not set; set it to one of the provider module names" % where
    try:
        cls = provider_class(provider_name)
    except InputError as exc:
        return None, "%s: scrubbing_provider %r is unknown. %s" % (where, provider_name, exc.hint)
    where = "integration %s (%s)" % (name, provider_name)
    options = hv.get("scrubbing_options") or {}
    if not isinstance(options, dict):
        return None, "%s: scrubbing_options must be a dict of %s options, got %s" % (
            where, provider_name, type(options).__name__)
    reserved = [k for k in RESERVED_OPTIONS if k in options]
    if reserved:
        return None, "%s: scrubbing_options must not set %s; the playbooks set it" % (where, ", ".join(reserved))
    spec = argument_spec(cls)
    for key in RESERVED_OPTIONS:
        spec.pop(key, None)
    result = ArgumentSpecValidator(spec, mutually_exclusive=cls.mutually_exclusive,
                                   required_together=cls.required_together,
                                   required_one_of=cls.required_one_of,
                                   required_if=cls.required_if).validate(dict(options))
    if result.error_messages:
        return None, ["%s: scrubbing_options: %s" % (where, m.replace("argument ", "option "))
                      for m in result.error_messages]
    params = result.validated_parameters
    bad = shape_errors(cls, params)
    if bad:
        return None, ["%s: scrubbing_options: %s" % (where, message) for message in bad]
    params.setdefault("state", "active")
    params.setdefault("snapshot", None)
    ws = hv.get("scrubbing_workspace", "default")
    if not isinstance(ws, str) or not NAME_PATTERN.fullmatch(ws):
        return None, ("%s: scrubbing_workspace must be a name of letters, digits and _.:@- (at most 128), got %r"
                      % (where, ws))
    auto = hv.get("scrubbing_auto", True)
    if not isinstance(auto, bool):
        return None, "%s: scrubbing_auto must be true or false, got %r" % (where, auto)
    targets, bad_target = _parse_targets(hv.get("scrubbing_targets") or [])
    if bad_target:
        return None, "%s: scrubbing_targets: %s" % (where, bad_target)
    secrets = sorted(set(str(v) for v in result._no_log_values if v))
    return Integration(name, cls, params, ws, auto, targets, secrets), None


def conflicts(integrations):
    """Two integrations acting on one provider object would undo each other (workspace A's
    withdrawal restoring a firewall workspace B still needs): refuse the inventory."""
    owner = {}
    errors = []
    for integ in integrations:
        for key in sorted(integ.objects()):
            other = owner.setdefault(key, integ.name)
            if other != integ.name:
                errors.append("integrations %s and %s both act on the same %s object (%s): withdrawing one would "
                              "undo the other. Give each provider object to one integration" % (
                                  other, integ.name, key[0], ("%s=%s" % key[1:]) if key[1] else key[2]))
    return errors


def _overlapping_routes(integrations):
    """Per-target mechanisms on one speaker whose owned_prefixes overlap would announce (and
    withdraw) each other's routes: 10.0.0.0/8 and 10.1.0.0/16 are not equal, yet they meet."""
    errors = []
    per_target = [i for i in integrations if i.per_target]
    for n, first in enumerate(per_target):
        for second in per_target[n + 1:]:
            if (first.provider, first.options.get("speaker_address")) != (
                    second.provider, second.options.get("speaker_address")):
                continue
            shared = [(a, b) for a in first.owned_networks() for b in second.owned_networks()
                      if a.version == b.version and a.overlaps(b)]
            if shared:
                errors.append("integrations %s and %s both announce %s routes for %s and %s through the speaker at "
                              "%s: one's withdrawal would remove the other's. Give each address range to one "
                              "integration" % (first.name, second.name, first.provider, shared[0][0], shared[0][1],
                                               first.options.get("speaker_address")))
    return errors


def _parse_targets(raw):
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return [], "must be a list of IP addresses or CIDRs"
    targets = []
    for item in raw:
        try:
            targets.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            return [], "%r is not an IP address or CIDR (e.g. 203.0.113.7 or 203.0.113.0/24)" % (item,)
    return targets, None
