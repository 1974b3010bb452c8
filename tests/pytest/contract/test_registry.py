"""A provider's room: everything a provider registered in plugins/module_utils/_registry.py must
come with (docs/dev/adding-a-provider.md lists the same, in the same order).

Each check reads the repository (files, meta/runtime.yml, doc fragments, AWX credential types,
the sandbox's simulators, the contract cases), not the provider's own description of itself,
so a provider that forgets one of them fails here, named with what is missing.
"""

from __future__ import annotations

import ast
import glob
import os

import pytest
import yaml

from conftest import ROOT

from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import PROVIDERS

NAMES = sorted(PROVIDERS)


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
    return sorted(o for o, spec in PROVIDERS[name].options.items() if spec.get("no_log"))


def contract_cases():
    """Every provider's contract case: module -> the sandbox simulator (or lab) it runs against."""
    from contract.test_bgp_contract import BGP_CASES
    from contract.test_every_provider import CASES
    from contract.test_local_firewall_contract import LOCAL_CASES

    cases = {case.module: case.sim for case in CASES}
    cases.update({case.module: "gobgp" for case in BGP_CASES})
    cases.update({case.module: "nftables" for case in LOCAL_CASES})
    return cases


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
        fallback = PROVIDERS[name].options[option].get("fallback")
        assert fallback, "%s: credential %s has no environment fallback for an AWX credential to fill" % (name, option)
        assert injected & set(fallback[1]), "%s: no credential type in extensions/awx/credential_types/ injects %s" % (
            name, " or ".join(fallback[1]))


@pytest.mark.parametrize("name", NAMES)
def test_the_provider_has_a_contract_case_and_a_simulator(name):
    from ddos_sandbox.registry import simulator_classes

    cases = contract_cases()
    assert name in cases, "%s: no case in tests/pytest/contract (CASES or BGP_CASES)" % name
    backend = cases[name]
    if backend == "gobgp":   # the BGP providers run against a real GoBGP speaker and BIRD router
        assert os.path.exists(os.path.join(ROOT, "tests", "pytest", "bgp", "bgp_lab.py"))
    elif backend == "nftables":  # the server's own firewall runs against the kernel, in a test namespace
        assert os.path.exists(os.path.join(ROOT, "tests", "pytest", "providers", "local_firewall",
                                           "test_local_firewall.py"))
    else:
        assert backend in simulator_classes(), "%s: its contract case runs against simulator %r, which the sandbox " \
            "does not have (sandbox/ddos_sandbox/providers/)" % (name, backend)
