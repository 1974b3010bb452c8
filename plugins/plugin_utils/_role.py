# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE plugin_utils: not a public API, may change without notice.
"""What the controller reads from the collection's role ``ddos.scrubbing.scrubbing``."""

from __future__ import annotations

import functools
import os

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.template import trust_as_template

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "scrubbing")

# The playbook-wide numbers (name, least, unit). The argument spec takes any whole number; these
# must also be in range, or a negative hold-down would withdraw at once and a negative event
# window refuse every event.
NUMBERS = (
    ("scrubbing_hold_down", 0, "seconds"),
    ("scrubbing_deadline", 1, "seconds"),
    ("scrubbing_event_window", 1, "seconds"),
    ("scrubbing_workers", 1, "providers called at once"),
    ("scrubbing_audit_retention", 1, "days"),
)
LOCAL_STATE_HOSTS = ("localhost", "127.0.0.1")
# The inventory groups the role works on: providers' objects, and protected servers (their own
# firewall, local_firewall, over their own connection).
INTEGRATIONS = "scrubbing_integrations"
SERVERS = "scrubbing_servers"


def _load(*path):
    with open(os.path.join(ROLE, *path), encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


@functools.lru_cache(maxsize=None)
def role_argument_spec():
    """The role's meta/argument_specs.yml, entry point main: its options."""
    return _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]


@functools.lru_cache(maxsize=None)
def role_defaults():
    """The role's defaults/main.yml, its templates trusted as Ansible trusts a role's own defaults
    (a string read here is data to Ansible 2.19+ until it is marked so)."""
    return {name: trust_as_template(value) if isinstance(value, str) else value
            for name, value in _load("defaults", "main.yml").items()}


def role_values(task_vars):
    """The role's variables as the play sets them, each unset one at its default (still a template).

    The collection's playbooks run the role's tasks file, not the role (the file's header says why),
    so its defaults are not in the play: an unset variable takes its default here, where a role
    would have put it, below every variable the play or inventory sets.
    """
    defaults = role_defaults()
    return {name: task_vars[name] if name in task_vars else defaults[name]
            for name in role_argument_spec() if name in task_vars or name in defaults}


@functools.lru_cache(maxsize=None)
def role_variables():
    """The role's own variable names, read from the role itself (defaults, argument spec,
    registered results) so that there is one list: playbook-wide ``scrubbing_*`` values set
    under all: vars reach every integration host too, and are not typos there."""
    def registered(tasks):
        for task in tasks or []:
            if task.get("register"):
                yield task["register"]
            for section in ("block", "rescue", "always"):
                yield from registered(task.get(section))

    names = set(role_defaults())
    names.update(role_argument_spec())
    names.update(registered(_load("tasks", "main.yml")))
    return tuple(sorted(names))


# The orchestrate option each role variable sets. The role's task passes none of them as an argument
# (``from_role: true``): the action takes them from the play, checked, because twenty templated task
# arguments cost every run twenty template compiles, about 30 ms of an 8-integration incident. An
# empty value leaves the option at its default, as the task's ``default(omit, true)`` did.
ROLE_OPTIONS = (
    ("scrubbing_operation", "operation"),
    ("scrubbing_selected", "integrations"),
    ("scrubbing_force", "force"),
    ("scrubbing_state_file", "state_file"),
    ("scrubbing_ledger_dsn", "ledger_dsn"),
    ("scrubbing_deadline", "deadline"),
    ("scrubbing_event_window", "event_window"),
    ("scrubbing_hold_down", "hold_down"),
    ("scrubbing_workers", "workers"),
    ("scrubbing_status_live", "live"),
    ("scrubbing_status_format", "status_format"),
    ("scrubbing_status_file", "status_file"),
    ("scrubbing_safelist", "safelist"),
    ("scrubbing_notify", "notify"),
    ("scrubbing_audit_retention", "audit_retention"),
    ("scrubbing_audit_file", "audit_file"),
    ("scrubbing_audit_since", "audit_since"),
    ("scrubbing_audit_integration", "audit_integration"),
    ("scrubbing_audit_incident", "audit_incident"),
)
# Where the ledger's DSN comes from when scrubbing_ledger_dsn is empty (the controller's environment:
# an AWX credential injects it there).
LEDGER_DSN_ENV = "SCRUBBING_LEDGER_DSN"


def play_role_options(templar, task_vars):
    """``role_options`` of the role's variables as this play sets them (``role_values``), rendered:
    what the orchestrate task runs with, and what the verdict records the servers' results with."""
    return role_options(templar.template(role_values(task_vars)), task_vars.get("groups", {}).get("all", ()),
                        os.environ)


def role_options(values, inventory_hosts, environ):
    """The orchestrate options the role's variables set, or why the role cannot run with them.

    Returns ``(refusal, options)``: a message and None, or None and the options. ``values`` are the
    role's variables as the play sets them, templated. What Ansible's own role validation would say
    comes first (its wording), then the state host, then the ranges. Checked by the orchestrate action
    before anything else, in the one task that does the work: as tasks of their own these checks cost
    a third of an 8-integration run (issue 18).
    """
    validation = ArgumentSpecValidator(role_argument_spec()).validate(values, validate_role_argument_spec=True)
    if validation.error_messages:
        return "Validation of the role's variables failed:\n%s" % "\n".join(validation.error_messages), None
    checked = validation.validated_parameters
    state_host = checked.get("scrubbing_state_host") or "localhost"
    if state_host not in inventory_hosts and state_host not in LOCAL_STATE_HOSTS:
        return ("scrubbing_state_host %s matches no host of the inventory: add it to the inventory or set "
                "scrubbing_state_host to one of its hosts (default localhost). Nothing was recorded." % state_host,
                None)
    for name, least, unit in NUMBERS:
        value = checked.get(name)
        if value is not None and value < least:
            return ("%s must be a whole number of %s, at least %d, got %s: set it in the inventory (all: vars) or "
                    "with -e %s=N. Nothing was recorded or called." % (name, unit, least, value, name)), None
    options = {option: checked[var] for var, option in ROLE_OPTIONS if not _empty(checked.get(var))}
    if "ledger_dsn" not in options and environ.get(LEDGER_DSN_ENV):
        options["ledger_dsn"] = environ[LEDGER_DSN_ENV]
    return None, options


def _empty(value):
    return value is None or (isinstance(value, (str, list, dict)) and not value)
