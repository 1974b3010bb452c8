# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guardrails of the per-target mechanisms (BGP blackhole / FlowSpec, one route per attacked
address), on the policy's pure functions: which routes a blackhole holds when one incident is
safelisted, one too small, one too young, and when its time is up. (The playbook tests cover the
per-workspace mechanisms on the sandbox; the routes themselves are tested with gobgpd in bgp/.)"""

from __future__ import annotations

from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import load_integrations
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import decide
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import Book, empty_document

NOW = 1_800_000_000


def blackhole(**policy):
    integrations, errors = load_integrations({"rtbh": dict({
        "scrubbing_provider": "bgp_blackhole",
        "scrubbing_options": {"speaker_address": "127.0.0.1:50051", "owned_prefixes": ["203.0.113.0/24"]}},
        **policy)})
    assert not errors, errors
    return integrations[0]


def ledger(*incidents):
    doc = empty_document()
    ws = Book(doc, None).workspace("default")
    for incident_id, target, started, attack in incidents:
        ws["incidents"][incident_id] = {"status": "active", "target": target, "started_at": started,
                                        "attack": attack}
    return doc


def test_each_route_is_held_only_for_the_incidents_its_guardrails_let_through():
    rtbh = blackhole(scrubbing_min_bps=10 ** 10, scrubbing_escalate_after=300, scrubbing_never=["203.0.113.10"])
    doc = ledger(("big-old", "203.0.113.7", NOW - 600, {"bps": 4 * 10 ** 10}),
                 ("small", "203.0.113.8", NOW - 600, {"bps": 10 ** 9}),
                 ("young", "203.0.113.9", NOW - 10, {"bps": 4 * 10 ** 10}),
                 ("never", "203.0.113.10", NOW - 600, {"bps": 4 * 10 ** 10}),
                 ("safe", "203.0.113.11", NOW - 600, {"bps": 4 * 10 ** 10}),
                 ("unsized", "203.0.113.12", NOW - 600, None))
    decision = decide(doc, rtbh, NOW, 0, safelist=load_safelist("203.0.113.11"))
    assert decision.wanted is True
    assert decision.targets == ["203.0.113.12", "203.0.113.7"], decision.reason
    assert decision.incidents == ["big-old", "unsized"]
    assert decision.warnings == ["rtbh acts for incident unsized, which reports no attack size (attack.bps / "
                                 "attack.pps), although scrubbing_min_bps=10000000000: protection first. Have the "
                                 "detector send the size"]


def test_a_blackhole_on_for_max_active_expires_and_only_a_new_incident_rearms_it():
    rtbh = blackhole(scrubbing_max_active=3600)
    doc = ledger(("A", "203.0.113.7", NOW - 4000, None))
    rec = Book(doc, None).integration("rtbh")
    rec.update(active=True, since=NOW - 3600, targets=["203.0.113.7"], incidents=["A"])
    expired = decide(doc, rtbh, NOW, 0)
    assert (expired.wanted, expired.targets, expired.expired) == (False, [], ["A"]), expired.reason
    assert expired.reason.startswith("expired: on since")
    Book(doc, None).record_success("rtbh", False, None, True, NOW, expired=expired.expired)
    assert decide(doc, rtbh, NOW + 60, 0).wanted is False  # stays withdrawn: A no longer counts
    Book(doc, None).workspace("default")["incidents"]["B"] = {"status": "active", "target": "203.0.113.8",
                                                              "started_at": NOW + 90}
    rearmed = decide(doc, rtbh, NOW + 100, 0)
    assert (rearmed.wanted, rearmed.targets, rearmed.incidents) == (True, ["203.0.113.8"], ["B"])


def load_safelist(*items):
    import ipaddress

    return [ipaddress.ip_network(i) for i in items]
