# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measurement only: ansible-core's collection loader, made to keep what it compiles between runs.

bench_incident.py puts this directory on PYTHONPATH for one of its reference runs, and names a
cache directory in DDOS_BENCH_BYTECODE_CACHE. Python imports ``sitecustomize`` at start-up, and
this one wraps the loader's ``get_code``: ansible-core compiles a collection's Python from source
on every run (its loader writes no bytecode), where Python keeps a .pyc for any other package.
The difference between that run and the plain one is what this recompiling costs each run,
which no change to the collection can avoid. Never used by the collection, the suite or the demo.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import runpy
import sys

CACHE = os.environ.get("DDOS_BENCH_BYTECODE_CACHE")


def _cached(get_code):
    # pylint: disable=protected-access
    def get_code_cached(self, fullname):
        source = None if self._compiled_code else self.get_source(fullname)
        if not source:
            return get_code(self, fullname)  # compiled already in this process, or nothing to compile
        if isinstance(source, str):
            source = source.encode("utf-8")
        # the interpreter's tag in the key: a code object is only valid for the Python that made it;
        # the file's path: a code object carries it (tracebacks)
        where = "%s\0%s\0%s" % (sys.implementation.cache_tag, fullname, self.get_filename(fullname))
        key = hashlib.sha256(where.encode("utf-8") + b"\0" + source)
        path = os.path.join(CACHE, key.hexdigest())
        try:
            with open(path, "rb") as handle:
                self._compiled_code = marshal.loads(handle.read())
            return self._compiled_code
        except FileNotFoundError:
            pass
        code = get_code(self, fullname)
        tmp = "%s.%d" % (path, os.getpid())
        with open(tmp, "wb") as handle:
            handle.write(marshal.dumps(code))
        os.replace(tmp, path)  # whole or absent, for a run reading it at the same moment
        return code
    return get_code_cached


def _run_the_one_this_shadows():
    """Put first on PYTHONPATH, this file hides the interpreter's own sitecustomize (Debian's python3
    has one): run that one too, as it would have run."""
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        other = os.path.join(entry or os.getcwd(), "sitecustomize.py")
        if os.path.abspath(entry or os.getcwd()) != here and os.path.isfile(other):
            runpy.run_path(other, run_name="sitecustomize")
            return


_run_the_one_this_shadows()
if CACHE:
    from ansible.utils.collection_loader import _collection_finder  # pylint: disable=import-error

    _LOADER = _collection_finder._AnsibleCollectionPkgLoaderBase  # pylint: disable=protected-access
    _LOADER.get_code = _cached(_LOADER.get_code)
