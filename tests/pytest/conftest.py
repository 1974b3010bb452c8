"""Shared fixtures: the collection as built from its tarball, and the provider sandbox.

Every test runs against ``build/collections`` (what ``ansible-galaxy collection build``
ships), never the source tree, so a packaging mistake fails the suite. Every provider call
goes to the in-process sandbox on 127.0.0.1; a test whose requests break the providers' API
specs fails at teardown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(os.environ.get("DDOS_BUILD_DIR") or os.path.join(ROOT, "build"), "collections")
VENV_BIN = os.path.dirname(sys.executable)


def _build_collection():
    if os.environ.get("DDOS_SKIP_BUILD") and os.path.isdir(COLLECTIONS):
        return
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-collection.sh")], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"]))


_build_collection()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# The sandbox of this checkout, whatever checkout the virtualenv's editable install points at (and
# for the processes the tests start too).
SANDBOX_SRC = os.path.join(ROOT, "sandbox")
sys.path.insert(0, SANDBOX_SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SANDBOX_SRC, os.environ.get("PYTHONPATH")) if p)


def in_ci():
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def require(prerequisites, how_to_fix):
    """``prerequisites``: {what: truthy when present}. Skip the test when one is missing on a
    developer machine; FAIL it in CI (CI=true), where a test that passes by skipping hides a
    broken setup."""
    missing = [what for what, present in prerequisites.items() if not present]
    if not missing:
        return
    message = "missing %s (%s)" % (", ".join(missing), how_to_fix)
    if in_ci():
        pytest.fail("CI=true: " + message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _sandbox_server():
    from ddos_sandbox.core import Sandbox
    from ddos_sandbox.registry import build

    sandbox = Sandbox(build()).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(_sandbox_server):
    """The sandbox, reset to its bundled scenario; fails the test on any spec violation."""
    _sandbox_server.reset()
    yield _sandbox_server
    violations = _sandbox_server.spec_violations()
    assert not violations, "requests that break the provider API spec:\n" + "\n".join(
        "%s %s %s: %s" % (v["provider"], v["method"], v["path"], v["spec_errors"]) for v in violations)


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
    })
    # Credentials must come from the tests, never from the caller's environment.
    for key in list(env):
        if key.startswith(("CLOUDFLARE_", "CF_API", "OVH_", "HETZNER_", "ROBOT_", "AWS_", "DIGITALOCEAN_",
                           "DO_API", "VULTR_", "LINODE_")):
            del env[key]
    env.update(extra or {})
    return env


def run_module(module, args, check=False, diff=False, env=None):
    """Run one collection module through ``ansible`` (the real module path) and return its result."""
    cmd = [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "ddos.scrubbing." + module,
           "-a", json.dumps(args), "-o"]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(env), timeout=300, check=False)
    out = proc.stdout
    marker = out.find("=>")
    if marker < 0:
        raise AssertionError("no module result in output:\n%s\n%s" % (out, proc.stderr))
    result = json.loads(out[marker + 2:].strip())
    result["_stdout"] = out
    result["_stderr"] = proc.stderr
    result["_rc"] = proc.returncode
    return result


@pytest.fixture
def module_runner():
    return run_module


def make_provider(cls, sleep=None, **params):
    """A provider instance with its argument spec's defaults filled in, as a module would."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.ddos.scrubbing.plugins.module_utils._module import argument_spec

    result = ArgumentSpecValidator(argument_spec(cls)).validate(params)
    if result.error_messages:
        raise AssertionError(result.error_messages)
    kwargs = {"sleep": sleep} if sleep is not None else {}
    return cls(result.validated_parameters, **kwargs)


def converge(provider, state, snapshot=None, check_mode=False, wait=True, wait_timeout=30):
    """What a module run does, in-process: plan, write unless check mode, return the result."""
    from ansible_collections.ddos.scrubbing.plugins.module_utils._contract import execute, plan_change

    plan = plan_change(provider, state, snapshot)
    after = None
    if plan.changed and not check_mode:
        after = execute(plan, wait=wait, wait_timeout=wait_timeout, wait_sleep=0.01)
    return plan.result(after, check_mode=check_mode)


DEMO_INVENTORY = os.path.join(ROOT, "demo", "inventory")


def run_playbook(name, sandbox, ledger, extra=None, limit=None, check=False, inventory=DEMO_INVENTORY,
                 env=None, timeout=300):
    """Run ``ansible-playbook ddos.scrubbing.<name>`` on the demo inventory against ``sandbox``."""
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "ddos.scrubbing." + name, "-i", inventory,
           "-e", "scrubbing_state_file=%s" % ledger]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    if limit:
        cmd += ["--limit", limit]
    if check:
        cmd.append("--check")
    run_env = {"DDOS_SANDBOX_URL": sandbox.url if sandbox is not None else "http://127.0.0.1:9"}
    run_env.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(run_env), timeout=timeout, check=False)
    proc.output = proc.stdout + proc.stderr
    return proc


def read_ledger(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def hold_down_for(run_seconds, runs=3):
    """A hold-down (seconds) that outlasts ``runs`` more playbook runs on this machine as it is now,
    given how long one run just took: long enough that the test's checks happen before it passes
    (each such test also asserts that), short enough not to wait half a minute on a quiet machine."""
    return int(max(10.0, 2.5 * (runs + 1) * run_seconds))
