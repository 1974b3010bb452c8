"""One contract, eight mechanisms: every provider module, run as a user runs it
(``ansible-playbook``), through every failure path the shared layers promise to handle.

- a rejected credential (401, or the provider's equivalent) is never retried and never echoed;
- 429 and 5xx are retried within the ``retries`` budget, attempts counted in the request log;
- a change that never shows up fails after ``wait_timeout`` with the provider's last state;
- check mode writes nothing; diff mode shows the user the diff, and outside diff mode no diff
  is returned;
- the value of every credential option is absent from all output at ``-vvvv``.

Each provider's case (``Case``: its module, simulator, options and credentials) is declared in
its own folder, ``tests/pytest/providers/<name>/contract_case.py``.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import VENV_BIN, ansible_env
from contract.cases import Case, provider_cases


# Each provider declares its case in its own folder (tests/pytest/providers/<name>/contract_case.py).
CASES = provider_cases(Case)
# Cloudflare Under Attack has no wait loop: the PATCH answer is the applied setting.
WAITING = [c for c in CASES if c.module != "cloudflare_under_attack"]


def credentials(case, options):
    """The value of every credential option, as given. The list is written here, per provider,
    from what its API calls a credential (REFERENCE.md), never read from the modules' no_log
    flags: a flag removed by mistake must fail this test, not shorten its list."""
    assert all(options.get(k) for k in case.secrets), (case, case.secrets)
    return [str(options[k]) for k in case.secrets]


def play(tmp_path, case, options, check=False, diff=False, verbosity=0, prefix=()):
    """Run the module in a one-task playbook (``prefix``: a command to run it under, such as
    ``ip netns exec NS``); return (registered result, all output)."""
    saved = tmp_path / "result.json"
    playbook = tmp_path / "contract.yml"
    task = {"name": "contract", "ddos.scrubbing." + case.module: options, "register": "contract_result",
            "ignore_errors": True}
    keep = {"name": "keep the result", "ansible.builtin.copy": {
        "content": "{{ contract_result | to_json }}", "dest": str(saved), "mode": "0600"}, "check_mode": False,
        "diff": False}
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task, keep]}]))
    cmd = list(prefix) + [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    cmd += ["-" + "v" * verbosity] if verbosity else []
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert saved.exists(), output
    return json.loads(saved.read_text()), output


def base_options(case, sandbox, **extra):
    options = dict(case.options(sandbox.api_url(case.sim)), wait_sleep=0.05, retries=3)
    options.update(extra)
    return options


def provider_log(sandbox, case):
    return sandbox.requests(provider=case.sim)


def assert_no_secret(output, secrets):
    for secret in secrets:
        assert secret not in output, "a credential value was printed"


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rejected_credential_is_neither_retried_nor_echoed(sandbox, tmp_path, case):
    option, bad = case.bad_credential
    options = base_options(case, sandbox, **{option: bad})
    result, output = play(tmp_path, case, options, verbosity=4)
    assert result.get("failed"), result
    assert str(case.rejected_status) in result["msg"], result["msg"]
    log = provider_log(sandbox, case)
    rejected = [e for e in log if e["status"] == case.rejected_status]
    assert len(rejected) == 1 and log[-1] is rejected[0], "a rejected credential must not be retried: %s" % [
        (e["method"], e["path"], e["status"]) for e in log]
    assert [e for e in log if e["write"]] == []
    assert_no_secret(output, [bad] + credentials(case, options))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_5xx_is_retried_then_fails_bounded(sandbox, tmp_path, case):
    sandbox.add_fault(provider=case.sim, status=503, count=-1)
    result, _output = play(tmp_path, case, base_options(case, sandbox, retries=2))
    assert result.get("failed")
    assert "503" in result["msg"], result["msg"]
    log = provider_log(sandbox, case)
    assert [e["status"] for e in log] == [503] * 3, [(e["method"], e["path"], e["status"], e["body"]) for e in log]
    assert len({(e["method"], e["path"]) for e in log}) == 1


@pytest.mark.parametrize("case", WAITING, ids=repr)
def test_wait_timeout_fails_with_the_last_state(sandbox, tmp_path, case):
    if case.async_apply:
        case.async_apply(sandbox)
    else:
        sandbox.add_fault(provider=case.sim, stale=True, count=-1)
    result, _output = play(tmp_path, case, base_options(case, sandbox, wait_timeout=1, wait_sleep=0.2))
    assert result.get("failed"), result
    assert "within wait_timeout=1s; last state read: {" in result["msg"], result["msg"]
    log = provider_log(sandbox, case)
    first_write = next(i for i, e in enumerate(log) if e["write"])
    reads_after = [e for e in log[first_write + 1:] if not e["write"]]
    assert len(reads_after) >= 2, "the wait loop must have run more than once"


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_check_mode_diff_mode_and_429_retried(sandbox, tmp_path, case):
    options = base_options(case, sandbox)
    plain, output = play(tmp_path, case, options, check=True)
    assert plain["changed"] and not plain.get("failed"), plain
    assert "diff" not in plain and "--- before" not in output, "no diff outside diff mode"

    checked, output = play(tmp_path, case, options, check=True, diff=True)
    assert checked["changed"] and not checked.get("failed"), checked
    assert [e for e in provider_log(sandbox, case) if e["write"]] == [], "check mode writes nothing"
    assert_diff_shown(checked, output)

    # The real run: its first two calls answered 429, retried within the budget (retries=3).
    mark = len(provider_log(sandbox, case))
    sandbox.add_fault(provider=case.sim, status=429, headers={"Retry-After": "0"}, body=case.throttled, count=2)
    done, output = play(tmp_path, case, options, diff=True, verbosity=4)
    assert done["changed"] and done["active"] and not done.get("failed"), done.get("msg")
    log = provider_log(sandbox, case)[mark:]
    first = [(e["method"], e["path"], e["status"]) for e in log[:3]]
    assert [status for _m, _p, status in first[:2]] == [429, 429] and first[2][2] < 300, first
    assert len({(m, p) for m, p, _s in first}) == 1, "the same call is retried: %s" % first
    assert [e for e in log if e["write"]], "diff mode still writes"
    assert_diff_shown(done, output)
    assert_no_secret(output, credentials(case, options))


def assert_diff_shown(result, output):
    """The printed diff (what the default callback shows with --diff) has - and + lines, and
    names every top-level field whose scalar value differs between before and after."""
    assert result["diff"]["before"] == result["before"] and result["diff"]["after"] == result["after"]
    assert "--- before" in output and "+++ after" in output, output
    hunk = output[output.index("+++ after"):].splitlines()[1:]
    minus = [ln for ln in hunk if ln.startswith("-")]
    plus = [ln for ln in hunk if ln.startswith("+")]
    assert minus or plus, output
    for key in set(result["before"]) | set(result["after"]):
        old, new = result["before"].get(key), result["after"].get(key)
        if old != new and not isinstance(old, (dict, list)) and not isinstance(new, (dict, list)):
            assert any('"%s"' % key in ln for ln in minus + plus), "the diff does not show %s:\n%s" % (key, output)
