"""The decision table of the orchestrator: who must be active, who withdrawn, who left alone."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.ddos.scrubbing.plugins.module_utils._errors import InputError
from ansible_collections.ddos.scrubbing.plugins.module_utils._incident import validate_incident
from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import Integration, load_integrations
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import Book, empty_document
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import decide

ACCOUNT, PREFIX = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "1f2e3d4c5b6a79880716253443526170"


def integration(doc, name):
    return Book(doc, None).integration(name)


def workspace(doc, name):
    return Book(doc, None).workspace(name)


class FakeProvider:
    name = "fake"


def integ(name="edge", ws="default", auto=True, targets=()):
    return Integration(name, FakeProvider, {}, ws, auto, [ipaddress.ip_network(t) for t in targets], [])


def doc_with(incidents=(), ws="default", quiet_since=None):
    doc = empty_document()
    w = workspace(doc, ws)
    for incident_id, target in incidents:
        w["incidents"][incident_id] = {"status": "active", "target": target}
    w["quiet_since"] = quiet_since
    return doc


def test_needed_by_an_incident_on_its_target():
    doc = doc_with([("A", "203.0.113.7")])
    assert decide(doc, integ(targets=["203.0.113.0/24"]), 0, 0).wanted is True
    assert decide(doc, integ(targets=["198.51.100.0/24"]), 0, 0).wanted is None
    assert decide(doc, integ(), 0, 0).wanted is True  # no targets: every incident of the workspace


def test_kept_while_another_incident_of_the_workspace_is_active():
    doc = doc_with([("B", "198.51.100.1")])
    integration(doc, "edge")["active"] = True
    wanted, reason, ids = decide(doc, integ(targets=["203.0.113.0/24"]), 0, 0)
    assert wanted is True and "still active" in reason and ids == ["B"]


def test_hold_down_then_withdraw():
    doc = doc_with([], quiet_since=1000)
    integration(doc, "edge")["active"] = True
    assert decide(doc, integ(), 1010, 60).wanted is True
    assert decide(doc, integ(), 1061, 60).wanted is False


def test_a_crashed_activation_counts_as_on():
    doc = doc_with([], quiet_since=1)
    integration(doc, "edge")["pending"] = {"action": "activate", "snapshot": {"advertised": False}}
    assert decide(doc, integ(), 100, 0).wanted is False


def test_pinned_and_forced_off_and_manual_only():
    doc = doc_with([("A", None)])
    integration(doc, "edge")["pinned"] = True
    assert decide(doc, integ(), 0, 0).wanted is True
    integration(doc, "edge").update(pinned=False, forced_off=True, active=True)
    assert decide(doc, integ(), 0, 0).wanted is False
    assert decide(doc, integ(name="manual", auto=False), 0, 0).wanted is None


def test_other_workspaces_do_not_count():
    doc = doc_with([("A", None)], ws="staging")
    assert decide(doc, integ(ws="default"), 0, 0).wanted is None


@pytest.mark.parametrize("incident, message", [
    ({"status": "started"}, "incident.id is missing"),
    ({"id": "A", "status": "begun"}, "must be 'started', 'updated' or 'resolved'"),
    ({"id": "A", "status": "started", "target": "10.0.0.300"}, "not an IP address"),
    ("A started", "must be a dict"),
])
def test_bad_incidents(incident, message):
    with pytest.raises(InputError, match=message):
        validate_incident(incident)


def test_inventory_validation_names_host_and_option():
    integrations, errors = load_integrations({
        "a": {"scrubbing_provider": "cloudflare_magic_transit",
              "scrubbing_options": {"api_token": "x" * 8, "account_id": ACCOUNT, "prefix_id": PREFIX, "state": "active"}},
        "b": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": "oops"},
        "c": {"scrubbing_provider": "cloudflare_magic_transit",
              "scrubbing_options": {"api_token": "x" * 8, "account_id": ACCOUNT, "prefix_id": PREFIX},
              "scrubbing_targets": ["not-an-ip"]},
        "d": {"scrubbing_provider": "cloudflare_magic_transit",
              "scrubbing_options": {"api_token": "x" * 8, "account_id": ACCOUNT, "prefix_id": PREFIX},
              "scrubbing_auto": "yes"},
        "e": {},
    })
    assert integrations == []
    text = "\n".join(errors)
    assert "integration a (cloudflare_magic_transit): scrubbing_options must not set state" in text
    assert "integration b (cloudflare_magic_transit): scrubbing_options must be a dict" in text
    assert "'not-an-ip' is not an IP address" in text
    assert "scrubbing_auto must be true or false" in text
    assert "integration e: scrubbing_provider is not set" in text


def test_two_integrations_on_one_provider_object_are_refused():
    fw = "bb75e0b8-1a2d-4c39-9f6e-0e3b6b2d7a11"
    do = {"scrubbing_provider": "digitalocean_firewall",
          "scrubbing_options": {"api_token": "dop_v1_" + "a" * 20, "firewall_id": fw}}
    shield = {"scrubbing_provider": "aws_shield", "scrubbing_options": {"resource_arns": [
        "arn:aws:ec2:eu-west-1:123456789012:eip-allocation/eipalloc-0123456789abcdef0"]}}
    integrations, errors = load_integrations({
        "do-a": dict(do, scrubbing_workspace="a"), "do-b": dict(do, scrubbing_workspace="b"),
        "shield-1": shield, "shield-2": dict(shield, scrubbing_workspace="b"),
        "mt-1": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_token": "x" * 8, "account_id": ACCOUNT, "prefix_id": PREFIX}},
        "mt-2": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": {
            "api_token": "x" * 8, "account_id": ACCOUNT, "prefix_id": "f" * 32}},
    })
    text = "\n".join(errors)
    assert "integrations do-a and do-b both act on the same digitalocean_firewall object (firewall_id=%s)" % fw in text
    assert "integrations shield-1 and shield-2 both act on the same aws_shield object" in text
    assert "mt-1" not in text, "two prefixes of one account are two objects"
    assert len(errors) == 2


def test_per_target_integrations_with_overlapping_prefixes_on_one_speaker_are_refused():
    def rtbh(prefixes, marker, speaker="127.0.0.1:50051"):  # each its own marker (one marker, one integration)
        return {"scrubbing_provider": "bgp_blackhole", "scrubbing_options": {
            "speaker_address": speaker, "owned_prefixes": prefixes, "marker": "4200000000:666:%d" % marker}}
    _integrations, errors = load_integrations({
        "wide": rtbh(["10.0.0.0/8"], 1), "narrow": rtbh(["10.1.0.0/16"], 2),
        "elsewhere": rtbh(["10.1.0.0/16"], 3, speaker="127.0.0.1:50052"), "apart": rtbh(["192.0.2.0/24"], 4)})
    assert len(errors) == 1, errors
    assert "integrations narrow and wide both announce bgp_blackhole routes for 10.1.0.0/16 and 10.0.0.0/8" in errors[0]
