"""Which simulators the sandbox runs. A provider joins by adding one line here."""

from __future__ import annotations

import importlib

SIMULATORS = {
    # name: "module:Class"
    "cloudflare": "ddos_sandbox.providers.cloudflare:CloudflareSimulator",
}


def build(names=None):
    sims = []
    for name, target in SIMULATORS.items():
        if names and name not in names:
            continue
        module, cls = target.split(":")
        sims.append(getattr(importlib.import_module(module), cls)())
    return sims
