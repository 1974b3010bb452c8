# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract's cases: each provider declares its own in its room,
``tests/pytest/providers/<name>/contract_case.py`` (``CASE = Case(...)``, ``BgpCase`` or
``LocalCase``), and the contract tests here collect them by walking those folders, never from the
collection's registry: a provider without a case file is then missing here, and
``contract/test_registry.py`` names it.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os

PROVIDERS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "providers")
CASE_FILE = "contract_case.py"


class Case:
    """What the contract needs to know of one HTTP provider: its module, its sandbox simulator, the
    module options for the sandbox's demo object, and how the provider rejects a credential."""

    def __init__(self, module, sim, options, secrets, bad_credential, rejected_status, async_apply=None,
                 throttled=None):
        self.module = module
        self.sim = sim
        self.options = options              # sandbox API URL -> module options
        self.secrets = secrets              # the options holding what the provider's API calls a credential
        self.bad_credential = bad_credential  # (option, a value the provider rejects)
        self.rejected_status = rejected_status
        self.async_apply = async_apply      # how to make a change never show up (default: stale reads)
        self.throttled = throttled          # the provider's 429 body, when its client reads the code

    def __repr__(self):
        return self.module


class BgpCase:
    """A BGP provider: its module, the BIRD table its routes land in, and its own module options
    (the speaker, prefixes and targets are the test's)."""

    def __init__(self, module, table, options):
        self.module, self.table, self.options = module, table, options

    def __repr__(self):
        return self.module


class LocalCase:
    """The server's own firewall: its module and options (run inside a namespace the test makes)."""

    def __init__(self, module, options):
        self.module, self.options = module, options

    def __repr__(self):
        return self.module


def case_file(provider):
    return os.path.join(PROVIDERS_DIR, provider, CASE_FILE)


@functools.lru_cache(maxsize=None)
def load_case(provider):
    """The ``CASE`` that tests/pytest/providers/<provider>/contract_case.py declares, or None
    without that file. Loaded by path under a name of its own (every file is contract_case.py)."""
    path = case_file(provider)
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("contract_case_" + provider, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert hasattr(module, "CASE"), "%s declares no CASE" % path
    return module.CASE


def provider_cases(kind):
    """Every case of class ``kind`` declared in the providers' folders, in folder order."""
    folders = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(case_file("*")))
    return [case for case in map(load_case, folders) if isinstance(case, kind)]
