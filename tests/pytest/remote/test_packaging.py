"""What Ansible's module packer (AnsiballZ) ships to a remote state host for ddos.scrubbing.orchestrate.

The module runs there without the collection installed: whatever module_util the packer does not
see is missing at run time. So the test builds the payload exactly as ansible-playbook does
(module_common.modify_module), lists the zip, and imports every provider from the zip alone.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import zipfile

from conftest import COLLECTIONS, ansible_env

PACKAGE = "ansible_collections/ddos/scrubbing/plugins/module_utils/"


# Run in a fresh interpreter: the collection loader cannot be configured twice in one process.
BUILD = """
import base64, sys
from ansible.executor.module_common import modify_module
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, module_loader
from ansible.template import Templar

init_plugin_loader()
context = module_loader.find_plugin_with_context("ddos.scrubbing.orchestrate")
assert context.resolved, "ddos.scrubbing.orchestrate not found"
print(context.plugin_resolved_path)
built = modify_module(module_name="ddos.scrubbing.orchestrate", module_path=context.plugin_resolved_path,
                      module_args={}, templar=Templar(loader=DataLoader()),
                      task_vars={"ansible_python_interpreter": sys.executable})
print(built.b_module_data.decode("utf-8"))
"""


def build_payload():
    """The zip inside the AnsiballZ wrapper of ddos.scrubbing.orchestrate, built as ansible-playbook does."""
    proc = subprocess.run([sys.executable, "-c", BUILD], capture_output=True, text=True, timeout=120,
                          env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    resolved, wrapper = proc.stdout.split("\n", 1)
    assert resolved.startswith(COLLECTIONS), resolved
    match = re.search(r"zip_data='([A-Za-z0-9+/=]+)'", wrapper)
    assert match, "no zip_data in the AnsiballZ wrapper (has its format changed?)"
    return base64.b64decode(match.group(1))


def referenced_module_utils(source):
    """The collection's module_utils that a file names in an import (a plain text scan, not the packer's)."""
    found = set()
    # "import (a,\n b)" may span lines; "import a, b" ends with its line.
    for match in re.finditer(r"ansible_collections\.ddos\.scrubbing\.plugins\.module_utils((?:\.\w+)*)"
                             r"(?:[ \t]+import[ \t]+(?:\(([\w\s,]+)\)|([\w \t,]+)))?", source):
        dotted = [p for p in match.group(1).split(".") if p]
        candidates = ["/".join(dotted)] if dotted else []
        for name in re.split(r"[\s,]+", match.group(2) or match.group(3) or ""):
            if name:
                candidates.append("/".join(dotted + [name]))
        found.update(candidates)
    return found


def test_the_packed_module_carries_every_provider_and_module_util_it_imports():
    archive = zipfile.ZipFile(io.BytesIO(build_payload()))
    names = set(archive.namelist())
    providers_dir = os.path.join(COLLECTIONS, PACKAGE, "providers")
    providers = sorted(n for n in os.listdir(providers_dir) if n.endswith(".py") and n != "__init__.py")
    assert len(providers) >= 8, providers
    missing = [n for n in providers if PACKAGE + "providers/" + n not in names]
    assert missing == [], "provider code not shipped to a remote state host"
    # Whatever a shipped file imports from the collection is shipped too (a module or a package).
    for name in sorted(names):
        if not name.startswith("ansible_collections/ddos/") or not name.endswith(".py"):
            continue
        for ref in referenced_module_utils(archive.read(name).decode("utf-8")):
            as_module = PACKAGE + ref + ".py"
            as_package = PACKAGE + ref + "/__init__.py"
            parent = PACKAGE + ref.rsplit("/", 1)[0] + ".py" if "/" in ref else None
            # "from pkg.mod import Name": Name is an attribute of the shipped module pkg/mod.py.
            assert as_module in names or as_package in names or (parent and parent in names), (
                "%s imports module_utils %s, which is not in the payload" % (name, ref))


def test_the_packed_module_imports_every_provider_without_the_collection(tmp_path):
    (tmp_path / "payload.zip").write_bytes(build_payload())
    # A fresh interpreter whose only source of the collection is the zip (as on the state host).
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, %r)\n"
        "from ansible_collections.ddos.scrubbing.plugins.module_utils import _registry\n"
        "import ansible_collections.ddos.scrubbing.plugins.modules.orchestrate\n"
        "out = {n: (_registry.provider_class(n).__module__, _registry.provider_class(n).__module__ in sys.modules)"
        " for n in _registry.PROVIDER_NAMES}\n"
        "out['_from'] = _registry.__file__\n"
        "print(json.dumps(out))\n" % str(tmp_path / "payload.zip"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=str(tmp_path),
                          env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out.pop("_from").startswith(str(tmp_path / "payload.zip")), "imported from somewhere else"
    assert len(out) >= 8
    for name, (module, loaded) in out.items():
        assert module.startswith("ansible_collections.ddos.scrubbing.plugins.module_utils.providers."), name
        assert loaded, name
    # boto3 is imported only when aws_shield connects, never by merely loading the registry.
    cost = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); "
                           "from ansible_collections.ddos.scrubbing.plugins.module_utils import _registry; "
                           "print('boto3' in sys.modules, 'ovh' in sys.modules)" % str(tmp_path / "payload.zip")],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert cost.stdout.split() == ["False", "False"], cost.stdout + cost.stderr


def test_a_run_imports_only_the_providers_its_inventory_names():
    """The controller compiles what it imports on every run (Ansible's collection loader keeps no
    bytecode): loading the registry imports no provider, and asking for one imports that one."""
    providers_dir = os.path.join(COLLECTIONS, PACKAGE, "providers")
    on_disk = sorted(n[:-3] for n in os.listdir(providers_dir) if n.endswith(".py") and not n.startswith("_"))
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, %r)\n"
        "from ansible_collections.ddos.scrubbing.plugins.module_utils import _registry\n"
        "from ansible_collections.ddos.scrubbing.plugins.module_utils.engine import operations\n"
        "def loaded():\n"
        "    return sorted(m.rsplit('.', 1)[1] for m in sys.modules if '.module_utils.providers.' in m)\n"
        "out = {'at_start': loaded()}\n"
        "cls = _registry.provider_class('cloudflare_magic_transit')\n"
        "out['after_one'] = loaded()\n"
        "out['found'] = [cls.name, cls.__module__]\n"
        "out['each'] = {n: _registry.provider_class(n).name for n in %r}\n"
        "print(json.dumps(out))\n" % (COLLECTIONS, on_disk))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["at_start"] == [], "importing the engine imported providers no inventory named"
    assert out["after_one"] == ["_cloudflare", "cloudflare_magic_transit"]
    assert out["found"] == ["cloudflare_magic_transit",
                            "ansible_collections.ddos.scrubbing.plugins.module_utils.providers.cloudflare_magic_transit"]
    # every provider file is reachable by its name, and its class answers to that name
    assert out["each"] == {name: name for name in on_disk}


def test_a_run_that_sends_no_request_does_not_import_the_http_library(tmp_path):
    """urllib3 costs about 25 ms of CPU to import (requests, which the clients no longer go through,
    43 ms), on every run: the controller loads the action plugin and runs an event for a workspace
    without integrations (a storm's other workspaces, the rulebook's floor) without either; the first
    client a run builds imports urllib3, and still not requests."""
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, %r)\n"
        "from ansible.module_utils.common.arg_spec import ArgumentSpecValidator\n"
        "from ansible_collections.ddos.scrubbing.plugins.action import orchestrate\n"
        "from ansible_collections.ddos.scrubbing.plugins.module_utils.engine import operations\n"
        "loaded = lambda: sorted(m for m in ('urllib3', 'requests') if m in sys.modules)\n"
        "out = {'plugin_loaded': loaded()}\n"
        "edge = {'scrubbing_provider': 'cloudflare_magic_transit', 'scrubbing_workspace': 'elsewhere',\n"
        "        'scrubbing_options': {'api_url': 'http://127.0.0.1:9/client/v4', 'api_token': 'sandbox-cf-token-rw',\n"
        "                              'account_id': '0a1b2c3d4e5f60718293a4b5c6d7e8f9',\n"
        "                              'prefix_id': '1f2e3d4c5b6a79880716253443526170'}}\n"
        "params = ArgumentSpecValidator(operations.ARGUMENT_SPEC).validate({\n"
        "    'operation': 'incident', 'integration_configs': {'edge': edge}, 'state_file': %r,\n"
        "    'incident': {'id': 'A', 'status': 'started', 'workspace': 'quiet', 'target': '203.0.113.7'}})\n"
        "assert not params.error_messages, params.error_messages\n"
        "report = operations.run_operation(params.validated_parameters)\n"
        "out['run'] = [report.get('failed', False), sorted(report.get('integrations') or {})]\n"
        "out['run_loaded'] = loaded()\n"
        "from ansible_collections.ddos.scrubbing.plugins.module_utils._http import HttpClient\n"
        "HttpClient('cloudflare', 'http://127.0.0.1:9')\n"
        "out['client_loaded'] = loaded()\n"
        "print(json.dumps(out))\n" % (COLLECTIONS, str(tmp_path / "ledger.json")))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["run"] == [False, []], "the event for a workspace without integrations was not recorded"
    assert "quiet" in json.loads((tmp_path / "ledger.json").read_text())["workspaces"]
    assert out["plugin_loaded"] == [], "loading the action plugin imported %s" % out["plugin_loaded"]
    assert out["run_loaded"] == [], "a run that sent no request imported %s" % out["run_loaded"]
    assert out["client_loaded"] == ["urllib3"]
