"""A provider's room: everything a provider registered in plugins/module_utils/_registry.py must
come with (docs/dev/adding-a-provider.md lists the same, in the same order).

Each check reads the repository (files, meta/runtime.yml, doc fragments, AWX credential types,
the sandbox's simulators, the provider's folder tests/pytest/providers/<name>/ with its contract
case, simulator test and replay test, and the replay manifest of recorded bodies), not the
provider's own description of itself, so a provider that forgets one of them fails here, named
with the file to add.
"""

from __future__ import annotations

import ast
import glob
import json
import os

import pytest
import yaml

from conftest import ROOT
from contract.cases import CASE_FILE, BgpCase, Case, LocalCase, load_case

from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import PROVIDER_NAMES, provider_class

NAMES = sorted(PROVIDER_NAMES)
TESTS = os.path.join(ROOT, "tests", "pytest")
ROOMS = os.path.join(TESTS, "providers")
REPLAY = os.environ.get("DDOS_REPLAY_DIR", "/work/shared/replay")


def in_room(name, filename):
    """A file of the provider's room, as the user adds it (relative to the repository)."""
    return os.path.join("tests", "pytest", "providers", name, filename)


def imported(path):
    """The modules a Python file imports (``from a.b import c`` gives a.b and a.b.c)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update("%s.%s" % (node.module, alias.name) for alias in node.names)
    return names


def fixtures_read(path):
    """The providers a replay file asks the manifest for (its ``fixtures_of("<name>")`` calls)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "fixtures_of" and node.args
            and isinstance(node.args[0], ast.Constant)}


def replayed():
    """The providers the manifest of recorded bodies has fixtures for."""
    with open(os.path.join(REPLAY, "manifest.json"), encoding="utf-8") as handle:
        return {fixture["provider"] for fixture in json.load(handle)["fixtures"]}


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def module_doc(name):
    """The DOCUMENTATION of plugins/modules/<name>.py, or None when the file does not exist."""
    path = os.path.join(ROOT, "plugins", "modules", name + ".py")
    if not os.path.exists(path):
        return None
    for node in ast.parse(open(path, encoding="utf-8").read()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % path)


def fragment_options(fragment):
    """Options a doc fragment ``ddos.scrubbing.<file>[.<VAR>]`` documents."""
    module, _dot, var = fragment[len("ddos.scrubbing."):].partition(".")
    path = os.path.join(ROOT, "plugins", "doc_fragments", module + ".py")
    if not os.path.exists(path):
        return {}
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == (var or "DOCUMENTATION"):
            return (yaml.safe_load(node.value.value) or {}).get("options") or {}
    return {}


def action_group(name):
    groups = load_yaml(os.path.join(ROOT, "meta", "runtime.yml"))["action_groups"]
    found = [g for g, members in groups.items() if name in members and name + "_info" in members]
    return found[0] if found else None


def credentials(name):
    """The provider's credential options: the ones it keeps out of logs (no_log)."""
    return sorted(o for o, spec in provider_class(name).options.items() if spec.get("no_log"))


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_its_modules(name):
    for module in (name, name + "_info"):
        doc = module_doc(module)
        assert doc is not None, "%s: plugins/modules/%s.py is missing" % (name, module)
        assert doc["module"] == module, "%s: plugins/modules/%s.py documents module %s" % (name, module, doc["module"])


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_an_action_group(name):
    group = action_group(name)
    assert group, "%s: meta/runtime.yml has no action group with %s and %s_info" % (name, name, name)
    everything = load_yaml(os.path.join(ROOT, "meta", "runtime.yml"))["action_groups"]["scrubbing"]
    assert group in everything[0]["metadata"]["extend_group"], \
        "%s: meta/runtime.yml's group scrubbing does not extend group %s" % (name, group)


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_a_doc_page(name):
    pages = [os.path.join(ROOT, "docs", "providers", page + ".md") for page in (name, action_group(name) or name)]
    assert any(os.path.exists(p) for p in pages), "%s: no docs/providers/%s.md (or its group's page)" % (name, name)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        assert "`%s`" % name in handle.read(), "%s: the README's table of mechanisms does not list it" % name


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_documents_its_credentials_once(name):
    """Its credentials in one doc fragment that both its modules extend (module_defaults of its
    action group then sets them once for both)."""
    secrets = credentials(name)
    if not secrets:
        return
    for module in (name, name + "_info"):
        doc = module_doc(module) or {}
        inline = set(secrets) & set(doc.get("options") or {})
        assert not inline, "%s: %s documents %s inline, not in a credential fragment" % (name, module, sorted(inline))
        fragments = [f for f in doc.get("extends_documentation_fragment", []) if f.startswith("ddos.scrubbing.")]
        documented = set()
        for fragment in fragments:
            documented.update(fragment_options(fragment))
        missing = set(secrets) - documented
        assert not missing, "%s: %s extends no doc fragment documenting %s" % (name, module, sorted(missing))


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_an_awx_credential_type(name):
    """Each credential with an environment fallback is injected by an AWX credential type, so a
    job needs no secret in its inventory."""
    injected = set()
    for path in glob.glob(os.path.join(ROOT, "extensions", "awx", "credential_types", "*.yml")):
        injected.update(load_yaml(path)["injectors"].get("env", {}))
    for option in credentials(name):
        fallback = provider_class(name).options[option].get("fallback")
        assert fallback, "%s: credential %s has no environment fallback for an AWX credential to fill" % (name, option)
        assert injected & set(fallback[1]), "%s: no credential type in extensions/awx/credential_types/ injects %s" % (
            name, " or ".join(fallback[1]))


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_a_contract_case(name):
    case = load_case(name)
    assert case is not None, "%s: no contract case: add %s declaring CASE (a Case, BgpCase or LocalCase of " \
        "tests/pytest/contract/cases.py)" % (name, in_room(name, CASE_FILE))
    assert case.module == name, "%s: %s declares the case of module %s" % (
        name, in_room(name, CASE_FILE), case.module)
    if isinstance(case, Case):
        from ddos_sandbox.registry import simulator_classes

        assert case.sim in simulator_classes(), "%s: its contract case runs against simulator %r, which the " \
            "sandbox does not have (sandbox/ddos_sandbox/providers/)" % (name, case.sim)


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_a_simulator_test(name):
    """Its own tests against what stands in for its API, as its contract case names it: the
    sandbox's simulator (HTTP providers), the GoBGP speaker and BIRD router lab (BGP), or
    nftables in network namespaces the test makes (local_firewall)."""
    case = load_case(name)
    assert case is not None, "%s: no contract case (%s) to tell what it runs against" % (
        name, in_room(name, CASE_FILE))
    if isinstance(case, BgpCase):
        # The lab is shared by both BGP providers and the BGP incident tests: it lives in tests/pytest/bgp/.
        lab = os.path.join(TESTS, "bgp", "bgp_lab.py")
        test = os.path.join(ROOMS, name, "test_%s.py" % name)
        assert os.path.exists(lab), "%s: the BGP lab tests/pytest/bgp/bgp_lab.py is missing" % name
        assert os.path.exists(test) and "bgp.bgp_lab" in imported(test), \
            "%s: no %s running it against the lab (from bgp.bgp_lab import ...)" % (
                name, in_room(name, "test_%s.py" % name))
    elif isinstance(case, LocalCase):
        test = os.path.join(ROOMS, name, "test_%s.py" % name)
        assert os.path.exists(test), "%s: no %s running it in a network namespace" % (
            name, in_room(name, "test_%s.py" % name))
    else:
        simulator = "ddos_sandbox.providers." + case.sim
        tests = [path for path in glob.glob(os.path.join(ROOMS, name, "test_*.py"))
                 if not path.endswith("_replay.py") and simulator in imported(path)]
        assert tests, "%s: no test in tests/pytest/providers/%s/ runs it against its simulator (none imports " \
            "%s): add %s" % (name, name, simulator, in_room(name, "test_%s.py" % name))


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_a_replay_test(name):
    """Where the recorded bodies (the replay manifest) have fixtures for it, a test reads every
    one of them: its replay file, parametrized over ``fixtures_of("<name>")``."""
    if name not in replayed():
        return  # nothing recorded for it (BGP, local_firewall): nothing to replay
    path = os.path.join(ROOMS, name, "test_%s_replay.py" % name)
    assert os.path.exists(path), "%s: %s has fixtures for it, and no %s reads them" % (
        name, os.path.join(REPLAY, "manifest.json"), in_room(name, "test_%s_replay.py" % name))
    assert name in fixtures_read(path), "%s: %s never calls fixtures_of(%r): the recorded bodies go untested" % (
        name, in_room(name, "test_%s_replay.py" % name), name)


def test_every_provider_with_recorded_bodies_is_registered():
    unknown = sorted(replayed() - set(NAMES))
    assert not unknown, "%s names providers the registry does not have: %s" % (
        os.path.join(REPLAY, "manifest.json"), unknown)
