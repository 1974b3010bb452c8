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

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "scrubbing")


@functools.lru_cache(maxsize=None)
def role_variables():
    """The role's own variable names, read from the role itself (defaults, argument spec,
    registered results) so that there is one list: playbook-wide ``scrubbing_*`` values set
    under all: vars reach every integration host too, and are not typos there."""
    def load(*path):
        with open(os.path.join(ROLE, *path), encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}

    def registered(tasks):
        for task in tasks or []:
            if task.get("register"):
                yield task["register"]
            for section in ("block", "rescue", "always"):
                yield from registered(task.get(section))

    names = set(load("defaults", "main.yml"))
    names.update(load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"])
    names.update(registered(load("tasks", "main.yml")))
    return tuple(sorted(names))
