"""One provider object written two ways is still one object (issue 16, item 2), and the inventory's
other configuration-time refusals (item 6) at the level of the validation itself. The playbook
runs of tests/pytest/playbooks/test_config_errors.py show the same through the real entry point."""

from __future__ import annotations

import pytest

from ansible_collections.ddos.scrubbing.plugins.module_utils._inventory import UNKNOWN_VARS, load_integrations
from ansible_collections.ddos.scrubbing.plugins.module_utils.ledger.document import Book, empty_document
from ansible_collections.ddos.scrubbing.plugins.module_utils._policy import decide

ACCOUNT, PREFIX = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "1f2e3d4c5b6a79880716253443526170"
DO_TOKEN, VULTR_KEY, CF_TOKEN = "dop_v1_" + "a" * 20, "vultr-key-0123456789", "cf-token-0123456789"
ROBOT = {"robot_user": "#ws+robot", "robot_password": "robot-password"}


def host(provider, workspace="default", **options):
    return {"scrubbing_provider": provider, "scrubbing_workspace": workspace, "scrubbing_options": options}


def errors_of(hosts):
    _integrations, errors = load_integrations(hosts)
    return errors


# Each case: the provider, the identity option, two spellings of one object (written here by hand).
SAME_OBJECT = [
    ("digitalocean_firewall", {"api_token": DO_TOKEN}, "firewall_id",
     "6F3C2A4E-1B7D-4E59-9A0C-2D8E4F6A1B3C", "6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c"),
    ("vultr_firewall", {"api_key": VULTR_KEY}, "firewall_group_id",
     "cb676a46-66fd-4dfb-b839-443f2e6c0b60", "CB676A46-66FD-4DFB-B839-443F2E6C0B60"),
    ("cloudflare_under_attack", {"api_token": CF_TOKEN}, "zone_name", "example.com", "Example.COM."),
    ("hetzner_firewall", ROBOT, "server_ip", "2001:db8::1", "2001:DB8:0::1"),
    ("hetzner_firewall", ROBOT, "server_ip", "203.0.113.5", "::ffff:203.0.113.5"),
    ("ovh_mitigation", {"application_key": "k", "application_secret": "s", "consumer_key": "c"}, "ip",
     "2001:0db8:0000::10", "2001:db8::10"),
]


@pytest.mark.parametrize("provider, credentials, option, first, second", SAME_OBJECT,
                         ids=["%s-%s" % (c[0], c[3]) for c in SAME_OBJECT])
def test_one_object_in_two_spellings_is_refused_naming_both(provider, credentials, option, first, second):
    errors = errors_of({
        "first": host(provider, "a", **dict(credentials, **{option: first})),
        "second": host(provider, "b", **dict(credentials, **{option: second})),
    })
    assert len(errors) == 1, errors
    assert errors[0].startswith("integrations first and second both act on the same %s object" % provider), errors
    # the operator sees both spellings, to find them in the inventory
    assert "%s=%s in first" % (option, first) in errors[0] and "%s=%s in second" % (option, second) in errors[0]


@pytest.mark.parametrize("provider, credentials, option, first, second", [
    ("digitalocean_firewall", {"api_token": DO_TOKEN}, "firewall_id",
     "6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c", "6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3d"),
    ("cloudflare_under_attack", {"api_token": CF_TOKEN}, "zone_name", "example.com", "example.com.au"),
    ("hetzner_firewall", ROBOT, "server_ip", "2001:db8::1", "2001:db8::1:0"),
])
def test_different_objects_stay_apart(provider, credentials, option, first, second):
    assert errors_of({"first": host(provider, "a", **dict(credentials, **{option: first})),
                      "second": host(provider, "b", **dict(credentials, **{option: second}))}) == []


def test_every_identity_option_has_a_shape_that_knows_its_canonical_form():
    """A guard for the next provider: an identity option without a shape is compared as written."""
    from ansible_collections.ddos.scrubbing.plugins.module_utils._registry import PROVIDER_NAMES, provider_class

    classes = [provider_class(name) for name in PROVIDER_NAMES]
    missing = ["%s.%s" % (cls.name, option) for cls in classes
               for option in getattr(cls, "identity", ()) if option not in getattr(cls, "shapes", {})]
    assert missing == [], "give these identity options a shape in the provider's shapes: %s" % missing


def rtbh(speaker, prefixes, provider="bgp_blackhole"):
    return host(provider, speaker_address=speaker, owned_prefixes=prefixes)


@pytest.mark.parametrize("first, second", [
    ("127.0.0.1:50051", "localhost:50051"),
    ("127.0.0.1:50051", "[::1]:50051"),
    ("127.0.1.1:50051", "0.0.0.0:50051"),
    ("bgp.example.net:50051", "BGP.Example.NET.:50051"),
    ("[2001:db8::5]:50051", "[2001:DB8:0::5]:50051"),
])
def test_one_speaker_in_two_spellings_with_overlapping_prefixes_is_refused(first, second):
    errors = errors_of({"a": rtbh(first, ["198.51.100.0/24"]), "b": rtbh(second, ["198.51.100.0/25"])})
    # One speaker and one marker is one object (each withdraws routes with the marker it does not hold),
    # and the overlap is named as well: every message names both integrations.
    assert errors and all("integrations a and b" in e for e in errors), errors
    assert any(e.startswith("integrations a and b both announce bgp_blackhole routes for 198.51.100.0/24 and "
                            "198.51.100.0/25 through the speaker at %s (a) and %s (b), one speaker"
                            % (first, second)) for e in errors), errors


def test_other_speakers_and_other_mechanisms_stay_apart():
    assert errors_of({"a": rtbh("127.0.0.1:50051", ["198.51.100.0/24"]),
                      "b": rtbh("localhost:50052", ["198.51.100.0/25"]),
                      "c": rtbh("192.0.2.7:50051", ["198.51.100.0/25"]),
                      "d": rtbh("localhost:50051", ["198.51.100.0/25"], provider="bgp_flowspec")}) == []


def test_same_prefixes_in_another_order_and_spelling_are_one_object():
    errors = errors_of({"a": rtbh("127.0.0.1:50051", ["198.51.100.0/24", "2001:db8::/48"]),
                        "b": rtbh("localhost:50051", ["2001:DB8:0::/48", "198.51.100.0/24"])})
    assert any("both act on the same bgp_blackhole object" in e for e in errors), errors


# -- item 6 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider, options, empty", [
    ("hetzner_firewall", {"robot_user": "#ws+robot", "server_number": 321}, "robot_password"),
    ("hetzner_firewall", {"robot_password": "robot-password", "server_number": 321}, "robot_user"),
    ("cloudflare_magic_transit", {"account_id": ACCOUNT, "prefix_id": PREFIX}, "api_token"),
    ("digitalocean_firewall", {"firewall_id": "6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c"}, "api_token"),
    ("vultr_firewall", {"firewall_group_id": "cb676a46-66fd-4dfb-b839-443f2e6c0b60"}, "api_key"),
    ("linode_firewall", {"firewall_id": 10101}, "api_token"),
    ("ovh_mitigation", {"application_key": "k", "application_secret": "s", "ip": "203.0.113.10"}, "consumer_key"),
    ("aws_shield", {"aws_access_key_id": "AKIDEXAMPLE", "resource_arns": [
        "arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE"]}, "aws_secret_access_key"),
])
@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_credential_is_refused(provider, options, empty, blank):
    errors = errors_of({"it": host(provider, **dict(options, **{empty: blank}))})
    assert len(errors) == 1, errors
    assert errors[0].startswith("integration it (%s): scrubbing_options: option %s is empty: set it" % (
        provider, empty)), errors


@pytest.mark.parametrize("sources", [[], ""])
def test_an_allow_entry_without_sources_is_refused_and_anywhere_explained(sources):
    errors = errors_of({"fw": host("digitalocean_firewall", api_token=DO_TOKEN,
                                   firewall_id="6f3c2a4e-1b7d-4e59-9a0c-2d8e4f6a1b3c",
                                   allow=[{"protocol": "tcp", "ports": "22", "sources": ["198.51.100.0/24"]},
                                          {"protocol": "tcp", "ports": "443", "sources": sources}])})
    assert len(errors) == 1, errors
    assert "integration fw (digitalocean_firewall): scrubbing_options: option allow must be" in errors[0]
    if sources == []:
        assert "sources is empty; to allow from anywhere write sources: ['0.0.0.0/0', '::/0']" in errors[0], errors
    else:
        assert "source '' is not an IP address or CIDR" in errors[0], errors


def test_an_allow_entry_with_empty_ports_is_refused():
    errors = errors_of({"fw": host("vultr_firewall", api_key=VULTR_KEY,
                                   firewall_group_id="cb676a46-66fd-4dfb-b839-443f2e6c0b60",
                                   allow=[{"protocol": "tcp", "ports": ""}])})
    assert len(errors) == 1 and "ports is empty" in errors[0] and "leave ports out for all ports" in errors[0], errors


def test_unknown_host_variables_are_refused_with_the_closest_name():
    base = host("cloudflare_magic_transit", api_token=CF_TOKEN, account_id=ACCOUNT, prefix_id=PREFIX)
    errors = errors_of({
        # what the action plugin passes: the names it found on the host, with the closest known one
        "a": dict(base, **{UNKNOWN_VARS: {"scrubbing_workpace": {"scrubbing_workspace": None}, "scrubbing_zzz": {}}}),
        # the module given integration_configs directly: any other key is unknown
        "b": dict(base, scrubbing_target=["203.0.113.0/24"]),
    })
    takes = ("An integration host takes scrubbing_provider, scrubbing_options, scrubbing_workspace, scrubbing_auto, "
             "scrubbing_targets, scrubbing_min_bps, scrubbing_min_pps, scrubbing_escalate_after, scrubbing_max_active, "
             "scrubbing_never; the other scrubbing_* variables are the playbook-wide ones (README)")
    assert errors == [
        "integration a: unknown host variable scrubbing_workpace (did you mean scrubbing_workspace?): rename or "
        "remove it. " + takes,
        "integration a: unknown host variable scrubbing_zzz: rename or remove it. " + takes,
        "integration b: unknown host variable scrubbing_target (did you mean scrubbing_targets?): rename or "
        "remove it. " + takes,
    ]


def test_an_incident_without_a_target_leaves_target_scoped_integrations_alone():
    integrations, errors = load_integrations({
        "scoped": dict(host("cloudflare_magic_transit", api_token=CF_TOKEN, account_id=ACCOUNT, prefix_id=PREFIX),
                       scrubbing_targets=["203.0.113.0/24"]),
        "everything": host("cloudflare_magic_transit", api_token=CF_TOKEN, account_id=ACCOUNT, prefix_id="f" * 32)})
    assert errors == []
    doc = empty_document()
    Book(doc, None).workspace("default")["incidents"]["N"] = {"status": "active", "target": None}
    wanted = {i.name: decide(doc, i, 0, 0).wanted for i in integrations}
    assert wanted == {"scoped": None, "everything": True}


def test_why_a_target_scoped_integration_was_left_alone():
    integrations, _errors = load_integrations({"scoped": dict(
        host("cloudflare_magic_transit", api_token=CF_TOKEN, account_id=ACCOUNT, prefix_id=PREFIX),
        scrubbing_targets=["203.0.113.0/24", "2001:db8::/48"])})
    scoped = integrations[0]
    assert scoped.left_alone_because(None) == (
        "the incident names no target and scrubbing_targets limits it to 203.0.113.0/24, 2001:db8::/48")
    assert scoped.left_alone_because("198.51.100.7") == (
        "the incident's target 198.51.100.7 is outside its scrubbing_targets (203.0.113.0/24, 2001:db8::/48)")
    assert scoped.left_alone_because("203.0.113.7") is None
