"""Which simulators the sandbox runs: every module in ``ddos_sandbox.providers`` that
defines ``SIMULATOR`` (a Simulator subclass). A provider joins by adding its file."""

from __future__ import annotations

import importlib
import pkgutil

import ddos_sandbox.providers


def simulator_classes():
    classes = {}
    for info in sorted(pkgutil.iter_modules(ddos_sandbox.providers.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module("ddos_sandbox.providers." + info.name)
        cls = getattr(module, "SIMULATOR", None)
        if cls is not None:
            classes[cls.name] = cls
    return classes


def build(names=None):
    return [cls() for name, cls in simulator_classes().items() if not names or name in names]
