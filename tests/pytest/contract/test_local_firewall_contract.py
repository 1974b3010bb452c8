"""The contract for local_firewall, run as a user runs it (``ansible-playbook``) inside a network
namespace this test creates, against the kernel's nftables: check mode writes nothing and outside
diff mode no diff is returned; diff mode shows the rules it writes; a server without nft fails
naming the fix. (No API, no credentials, no 429: the HTTP parts of the contract do not apply.)
"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import require
from contract.cases import LocalCase, provider_cases
from contract.test_every_provider import assert_diff_shown, play

NS = "ddos-contract-lfw"


# Declared in tests/pytest/providers/local_firewall/contract_case.py.
LOCAL_CASES = provider_cases(LocalCase)
IN_NS = ("ip", "netns", "exec", NS)


def ruleset():
    return subprocess.run(IN_NS + ("nft", "list", "ruleset"), capture_output=True, text=True, check=True).stdout


@pytest.fixture
def namespace():
    require({"root": os.geteuid() == 0, "nft": os.path.exists("/usr/sbin/nft")},
            "run as root with nftables: scripts/ensure-debian.sh")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    yield
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)


@pytest.mark.parametrize("case", LOCAL_CASES, ids=repr)
def test_check_mode_writes_nothing_and_diff_mode_shows_the_rules(namespace, tmp_path, case):
    plain, output = play(tmp_path, case, case.options, check=True, prefix=IN_NS)
    assert plain["changed"] and not plain.get("failed"), plain
    assert "diff" not in plain and "--- before" not in output, "no diff outside diff mode"
    checked, output = play(tmp_path, case, case.options, check=True, diff=True, prefix=IN_NS)
    assert checked["changed"] and not checked.get("failed"), checked
    assert_diff_shown(checked, output)
    assert ruleset() == "", "check mode wrote"

    done, output = play(tmp_path, case, case.options, diff=True, prefix=IN_NS)
    assert done["changed"] and done["active"] and not done.get("failed"), done.get("msg")
    assert_diff_shown(done, output)
    assert "ddos_scrubbing" in ruleset()


@pytest.mark.parametrize("case", LOCAL_CASES, ids=repr)
def test_a_server_without_nft_fails_naming_the_fix(namespace, tmp_path, case):
    result, _output = play(tmp_path, case, dict(case.options, nft_path="/nonexistent/nft"), prefix=IN_NS)
    assert result.get("failed") and "apt-get install nftables" in result["msg"], result
