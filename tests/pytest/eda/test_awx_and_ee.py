"""AWX custom credential types and the execution environment definition."""

from __future__ import annotations

import glob
import os
import subprocess

import yaml

from conftest import COLLECTIONS, ROOT, VENV_BIN, ansible_env

from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import PROVIDER_NAMES, provider_class

TYPES = sorted(glob.glob(os.path.join(ROOT, "extensions", "awx", "credential_types", "*.yml")))


def env_fallbacks():
    """Every environment variable some provider option falls back to."""
    names = set()
    for name in PROVIDER_NAMES:
        for spec in provider_class(name).options.values():
            fallback = spec.get("fallback")
            if fallback:
                names.update(fallback[1])
    return names


# What the ledger credential type injects: the role's DSN variable and libpq's password variable.
LEDGER_ENV = {"SCRUBBING_LEDGER_DSN", "PGPASSWORD"}


def test_credential_types_inject_what_the_modules_read():
    assert len(TYPES) >= 8
    known = env_fallbacks() | LEDGER_ENV
    with open(os.path.join(ROOT, "plugins", "plugin_utils", "_role.py"), encoding="utf-8") as handle:
        assert '"SCRUBBING_LEDGER_DSN"' in handle.read(), "the role no longer reads SCRUBBING_LEDGER_DSN"
    for path in TYPES:
        doc = yaml.safe_load(open(path))
        fields = {f["id"]: f for f in doc["inputs"]["fields"]}
        assert set(doc["inputs"]["required"]) <= set(fields), path
        for var, template in doc["injectors"]["env"].items():
            assert var in known, "%s injects %s, which no module reads" % (path, var)
            field = template.strip("{} '")
            assert field in fields, "%s injects an undefined field %s" % (path, field)
        assert all(f.get("secret") for f in fields.values() if "secret" in f["id"] or "token" in f["id"]
                   or "password" in f["id"] or f["id"] in ("api_key", "consumer_key", "application_key")), path


def test_the_installed_collection_declares_its_python_dependencies():
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-builder"), "introspect", "--sanitize", COLLECTIONS],
                          capture_output=True, text=True, env=ansible_env(), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for package in ("requests", "ovh", "boto3", "psycopg", "libpq"):
        assert package in proc.stdout
