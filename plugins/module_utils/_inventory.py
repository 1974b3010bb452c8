# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE module_utils: not a public API, may change without notice.
"""The inventory's integrations, validated before any provider is called."""

from __future__ import annotations

import difflib
import ipaddress

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import NAME_PATTERN
from ansible_collections.ddos.scrubbing.plugins.module_utils._module import argument_spec
from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import provider_class
from ansible_collections.ddos.scrubbing.plugins.module_utils._shapes import shape_errors

# Options the playbooks set themselves; an inventory must not.
RESERVED_OPTIONS = ("state", "snapshot", "targets", "target_attacks")

# Host vars that describe an integration (DESIGN.md, "Inventory-driven configuration").
# The guardrails (issue 22): when an integration acts, for which targets never, and for how long.
POLICY_VARS = ("scrubbing_min_bps", "scrubbing_min_pps", "scrubbing_escalate_after", "scrubbing_max_active",
               "scrubbing_never")
INTEGRATION_VARS = ("scrubbing_provider", "scrubbing_options", "scrubbing_workspace", "scrubbing_auto",
                    "scrubbing_targets") + POLICY_VARS
# A protected server (group scrubbing_servers): its local_firewall options and its own addresses.
SERVER_VARS = ("scrubbing_local_firewall", "scrubbing_addresses", "scrubbing_workspace", "scrubbing_auto") + POLICY_VARS
# The key under which the action plugin hands over a server's addresses (its scrubbing_addresses,
# else its ansible_host): only a server's config has it.
ADDRESSES = "scrubbing_addresses"
# Where the action plugin puts an integration host's other scrubbing_* variables, which are
# neither these nor the role's (playbook-wide) ones; see unknown_host_vars.
UNKNOWN_VARS = "unknown_scrubbing_vars"


def unknown_host_vars(names, playbook_vars):
    """The ``scrubbing_*`` names among ``names`` that are neither integration variables nor one of
    ``playbook_vars`` (the role's variables, which reach every host when set under all: vars), as
    ``{name: {closest known name: None}}`` (``{}`` when none is close). A typo must not be ignored:
    ``scrubbing_workpace`` would silently move the integration to the workspace ``default``.

    Names travel as keys only: the module masks every string *value* of its no_log
    integration_configs wherever it appears in its output, the suggestion included."""
    known = list(INTEGRATION_VARS) + list(playbook_vars)
    unknown = {}
    for name in names:
        if name.startswith("scrubbing_") and name not in known:
            closest = _closest(name, known)
            unknown[name] = {closest: None} if closest else {}
    return unknown


def _closest(name, known):
    return (difflib.get_close_matches(name, known, n=1, cutoff=0.6) or [None])[0]


class Integration:
    """One inventory host of the group scrubbing_integrations, validated."""

    def __init__(self, name, provider_cls, options, workspace_name, auto, targets, secrets, addresses=None,
                 policy=None):
        self.name = name
        policy = policy or {}
        self.min_bps = policy.get("scrubbing_min_bps")
        self.min_pps = policy.get("scrubbing_min_pps")
        self.escalate_after = policy.get("scrubbing_escalate_after")
        self.max_active = policy.get("scrubbing_max_active")
        self.never = policy.get("scrubbing_never") or []  # networks
        self.addresses = addresses  # a protected server's own addresses (local_firewall), else None
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
        """Does an incident on ``target`` concern this integration? Without scrubbing_targets every
        incident of the workspace does; with them only an incident whose target falls inside, so an
        incident that names no target leaves it alone (README, "Using it")."""
        if not self.targets:
            return True
        if not target:
            return False
        try:
            net = ipaddress.ip_network(target, strict=False)
        except ValueError:
            return False
        return any(net.version == t.version and net.subnet_of(t) for t in self.targets)

    def left_alone_because(self, target):
        """Why an incident on ``target`` does not concern it (None when it does), for the line the
        run prints about an integration it left alone."""
        if self.covers(target):
            return None
        limits = ", ".join(str(t) for t in self.targets)
        if not target:
            return "the incident names no target and scrubbing_targets limits it to %s" % limits
        return "the incident's target %s is outside its scrubbing_targets (%s)" % (target, limits)

    @property
    def on_server(self):
        """Written over the protected server's own connection (a later task of the play), not from here."""
        return self.addresses is not None

    def owned_networks(self):
        """The per-target mechanisms' owned_prefixes as networks (a bad one is named by the provider);
        a protected server owns exactly its own addresses."""
        if self.addresses is not None:
            return [ipaddress.ip_network(a) for a in self.addresses]
        nets = []
        for item in self.options.get("owned_prefixes") or []:
            try:
                nets.append(ipaddress.ip_network(str(item), strict=False))
            except ValueError:
                continue
        return nets

    def canonical(self, option, value=None):
        """The one spelling of an identity option's value (its shape's canonical form; see _shapes):
        a list option gives the sorted canonical items."""
        value = self.options.get(option) if value is None else value
        shape = getattr(self.provider_cls, "shapes", {}).get(option)
        one = shape.canonical_form if shape is not None else str
        if isinstance(value, list):
            return tuple(sorted({one(item) for item in value}))
        return one(value)

    def objects(self):
        """The provider objects it acts on: {comparable key: how this inventory wrote it}. The
        options of ``Provider.identity`` together name one object (a single list option names one
        object per item); each value is compared in its canonical form, so the same UUID in
        upper and lower case, or one address written two ways, is one object."""
        options = tuple(getattr(self.provider_cls, "identity", ()))
        values = [self.options.get(o) for o in options]
        if len(options) == 1 and isinstance(values[0], list):
            return {(self.provider, options[0], self.canonical(options[0], [item])[0]): "%s=%s" % (options[0], item)
                    for item in values[0] if item not in (None, "")}
        given = [(o, v) for o, v in zip(options, values) if v not in (None, "", [])]
        if not given:
            return {}
        key = (self.provider,) + tuple((o, self.canonical(o, v)) for o, v in given)
        return {key: ", ".join("%s=%s" % (o, v) for o, v in given)}

    def new_provider(self, routes=None):
        """A provider on this integration's options; a per-target one also gets the run's decision
        (``_policy.Routes``) as an argument of its own, never mixed into the options."""
        if routes is None:
            return self.provider_cls(dict(self.options))
        return self.provider_cls(dict(self.options), routes=routes)


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
    unknown = {var: next(iter(closest or {}), None) for var, closest in (hv.get(UNKNOWN_VARS) or {}).items()}
    # the module given integration_configs directly: every key must be an integration variable
    unknown.update({k: _closest(k, INTEGRATION_VARS) for k in hv
                    if k not in INTEGRATION_VARS + (UNKNOWN_VARS, ADDRESSES)})
    if unknown:
        # Checked first: a misspelt scrubbing_provider or scrubbing_options explains what follows
        return None, ["%s: unknown host variable %s%s: rename or remove it. An integration host takes %s; the "
                      "other scrubbing_* variables are the playbook-wide ones (README)" % (
                          where, var, " (did you mean %s?)" % closest if closest else "",
                          ", ".join(INTEGRATION_VARS)) for var, closest in sorted(unknown.items())]
    provider_name = hv.get("scrubbing_provider")
    if not provider_name:
        return None, "%s: scrubbing_provider is not set; set it to one of the provider module names" % where
    try:
        cls = provider_class(provider_name)
    except InputError as exc:
        return None, "%s: scrubbing_provider %r is unknown. %s" % (where, provider_name, exc.hint)
    where = "integration %s (%s)" % (name, provider_name)
    addresses, error = _server_addresses(where, cls, hv)
    if error:
        return None, error
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
    policy, bad_policy = parse_policy(hv)
    if bad_policy:
        return None, ["%s: %s" % (where, message) for message in bad_policy]
    secrets = sorted(set(str(v) for v in result._no_log_values if v))
    return Integration(name, cls, params, ws, auto, targets, secrets, addresses, policy), None


def parse_policy(hv):
    """The guardrail host variables, checked: ({name: value}, [errors])."""
    policy, errors = {}, []
    units = {"scrubbing_min_bps": "bits per second", "scrubbing_min_pps": "packets per second",
             "scrubbing_escalate_after": "seconds", "scrubbing_max_active": "seconds"}
    for var, unit in units.items():
        value = hv.get(var)
        if value in (None, ""):
            continue
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append("%s must be a whole number of %s (0 or more), got %r: fix the host variable" % (
                var, unit, value))
            continue
        policy[var] = value
    never, bad = _parse_targets(hv.get("scrubbing_never") or [])
    if bad:
        errors.append("scrubbing_never: %s" % bad)
    policy["scrubbing_never"] = never
    return policy, errors


def _server_addresses(where, cls, hv):
    """(a protected server's canonical addresses or None, error): local_firewall runs on the server
    it protects, so it is configured on that server's host, never as an integration host."""
    on_server = bool(getattr(cls, "runs_on_server", False))
    if ADDRESSES not in hv:
        if on_server:
            return None, ("%s: local_firewall runs on the protected server itself: make the server a host of the "
                          "group scrubbing_servers with these options in scrubbing_local_firewall" % where)
        return None, None
    if not on_server:
        return None, "%s: scrubbing_addresses belongs to a protected server (group scrubbing_servers)" % where
    raw = hv[ADDRESSES]
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not raw:
        return None, ("%s: the server's addresses are unknown: set scrubbing_addresses (a list of the IP addresses "
                      "its attacks target), or ansible_host to its IP address" % where)
    addresses = []
    for item in raw:
        try:
            address = ipaddress.ip_address(str(item).strip())
        except ValueError:
            return None, ("%s: scrubbing_addresses: %r is not an IP address (without a prefix length); when "
                          "ansible_host is a name, set scrubbing_addresses" % (where, item))
        addresses.append(str(address))
    return sorted(set(addresses), key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a))), None


def conflicts(integrations):
    """Two integrations acting on one provider object would undo each other (workspace A's
    withdrawal restoring a firewall workspace B still needs): refuse the inventory."""
    owner = {}
    errors = []
    for integ in integrations:
        for key, written in sorted(integ.objects().items()):
            first, first_written = owner.setdefault(key, (integ, written))
            if first is integ:
                continue
            spelled = written if written == first_written else "%s in %s, %s in %s" % (
                first_written, first.name, written, integ.name)
            errors.append("integrations %s and %s both act on the same %s object (%s): withdrawing one would "
                          "undo the other. Give each provider object to one integration" % (
                              first.name, integ.name, integ.provider, spelled))
    return errors


def _overlapping_routes(integrations):
    """Per-target mechanisms on one speaker whose owned_prefixes overlap would announce (and
    withdraw) each other's routes: 10.0.0.0/8 and 10.1.0.0/16 are not equal, yet they meet. The
    speaker is compared in its canonical form: 127.0.0.1:50051 and localhost:50051 are one."""
    errors = []
    speakers = {}  # one pass, then pairs only within a speaker: hundreds of BGP integrations stay cheap
    for integ in integrations:
        if integ.per_target and not integ.on_server:  # servers hold their own tables (anycast is fine)
            speakers.setdefault((integ.provider, integ.canonical("speaker_address")), []).append(integ)
    for _speaker, sharing in sorted(speakers.items()):
        owned = [(integ, integ.owned_networks()) for integ in sharing]
        for n, first in enumerate(owned):
            for second in owned[n + 1:]:
                errors.extend(_shared_routes(first, second))
    return errors


def _shared_routes(first_owned, second_owned):
    """The refusal (a list of at most one message) for two per-target integrations on one speaker,
    each given with its owned networks."""
    (first, mine), (second, theirs) = first_owned, second_owned
    shared = [(a, b) for a in mine for b in theirs if a.version == b.version and a.overlaps(b)]
    if not shared:
        return []
    written = [str(i.options.get("speaker_address")) for i in (first, second)]
    speaker = written[0] if written[0] == written[1] else "%s (%s) and %s (%s), one speaker" % (
        written[0], first.name, written[1], second.name)
    return ["integrations %s and %s both announce %s routes for %s and %s through the speaker at %s: one's "
            "withdrawal would remove the other's. Give each address range to one integration" % (
                first.name, second.name, first.provider, shared[0][0], shared[0][1], speaker)]


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
