"""The contract for the two BGP providers, run as a user runs them (``ansible-playbook``) against a
real GoBGP speaker and BIRD router (tests/pytest/bgp/bgp_lab.py): check mode announces nothing and
outside diff mode no diff is returned; diff mode shows the routes it announces; an unreachable
speaker fails within ``timeout``, naming the speaker. (A GoBGP API has no credentials and answers
no 429, so the HTTP parts of the contract do not apply.)
"""

from __future__ import annotations

import time

import pytest

from bgp.bgp_lab import bgp_lab, free_port, lab  # noqa: F401  # pylint: disable=unused-import
from contract.cases import BgpCase, provider_cases
from contract.test_every_provider import assert_diff_shown, play

OWNED = ["203.0.113.0/24"]
TARGET = "203.0.113.44"


# Declared in tests/pytest/providers/bgp_blackhole/ and bgp_flowspec/ (contract_case.py).
BGP_CASES = provider_cases(BgpCase)


def options(case, speaker):
    return dict(case.options, speaker_address=speaker, owned_prefixes=OWNED, targets=[TARGET], timeout=10)


def announced(lab, case):  # noqa: F811
    return [net for net in lab.routes(case.table) if TARGET in net]


@pytest.mark.parametrize("case", BGP_CASES, ids=repr)
def test_check_mode_announces_nothing_and_diff_mode_shows_the_routes(lab, tmp_path, case):  # noqa: F811
    plain, output = play(tmp_path, case, options(case, lab.speaker_address), check=True)
    assert plain["changed"] and not plain.get("failed"), plain
    assert "diff" not in plain and "--- before" not in output, "no diff outside diff mode"
    checked, output = play(tmp_path, case, options(case, lab.speaker_address), check=True, diff=True)
    assert checked["changed"] and not checked.get("failed"), checked
    assert_diff_shown(checked, output)
    time.sleep(1)   # a route check mode had announced would have reached BIRD by now
    assert announced(lab, case) == [], "check mode announced a route"

    done, output = play(tmp_path, case, options(case, lab.speaker_address), diff=True)
    assert done["changed"] and done["active"] and not done.get("failed"), done.get("msg")
    assert_diff_shown(done, output)
    lab.wait_routes(case.table, lambda routes: any(TARGET in net for net in routes), "the announced route")


@pytest.mark.parametrize("case", BGP_CASES, ids=repr)
def test_an_unreachable_speaker_fails_in_time_naming_it(tmp_path, case):
    speaker = "127.0.0.1:%d" % free_port()   # nothing listens there
    began = time.monotonic()
    result, _output = play(tmp_path, case, dict(options(case, speaker), timeout=3))
    assert result.get("failed") and speaker in result["msg"], result
    assert time.monotonic() - began < 60, "the module did not give up within its timeout"
