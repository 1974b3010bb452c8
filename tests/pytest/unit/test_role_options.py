"""The role's task passes no arguments (from_role: true): the orchestrate action takes its options from
the role's variables. The pairs below are written from DESIGN.md's role variables and the orchestrate
module's options, not read from the collection, so a variable the action forgets to pass fails here."""

from __future__ import annotations

from ansible_collections.ddos.scrubbing.plugins.plugin_utils._role import role_options

HOSTS = ("localhost", "mt-1")

# role variable: (a value that is not its default, the option it sets, the value the option gets)
EVERY_VARIABLE = {
    "scrubbing_operation": ("status", "operation", "status"),
    "scrubbing_selected": ("mt-1,mt-2", "integrations", ["mt-1", "mt-2"]),
    "scrubbing_force": ("yes", "force", True),
    "scrubbing_state_file": ("/srv/ledger.json", "state_file", "/srv/ledger.json"),
    "scrubbing_ledger_dsn": ("postgresql://ledger@db/ddos", "ledger_dsn", "postgresql://ledger@db/ddos"),
    "scrubbing_deadline": ("30", "deadline", 30),
    "scrubbing_event_window": (60, "event_window", 60),
    "scrubbing_hold_down": (600, "hold_down", 600),
    "scrubbing_workers": (8, "workers", 8),
    "scrubbing_status_live": (False, "live", False),
    "scrubbing_status_format": ("prometheus", "status_format", "prometheus"),
    "scrubbing_status_file": ("/srv/status.prom", "status_file", "/srv/status.prom"),
    "scrubbing_safelist": (["192.0.2.0/24"], "safelist", ["192.0.2.0/24"]),
    "scrubbing_notify": ([{"url": "http://127.0.0.1:9/hook"}], "notify", [{"url": "http://127.0.0.1:9/hook"}]),
    "scrubbing_audit_retention": (30, "audit_retention", 30),
    "scrubbing_audit_file": ("/srv/trail.jsonl", "audit_file", "/srv/trail.jsonl"),
    "scrubbing_audit_since": ("7d", "audit_since", "7d"),
    "scrubbing_audit_integration": ("mt-1", "audit_integration", "mt-1"),
    "scrubbing_audit_incident": ("A1", "audit_incident", "A1"),
}


def test_every_role_variable_reaches_its_option():
    values = {var: value for var, (value, _option, _expected) in EVERY_VARIABLE.items()}
    refusal, options = role_options(values, HOSTS, {})
    assert refusal is None
    assert options == {option: expected for _value, option, expected in EVERY_VARIABLE.values()}


def test_an_empty_variable_leaves_its_option_at_the_default():
    values = {"scrubbing_operation": "incident", "scrubbing_state_file": "/srv/ledger.json", "scrubbing_selected": [],
              "scrubbing_ledger_dsn": "", "scrubbing_status_file": "", "scrubbing_audit_since": None,
              "scrubbing_force": False, "scrubbing_hold_down": 0}
    refusal, options = role_options(values, HOSTS, {})
    assert refusal is None
    for option in ("integrations", "ledger_dsn", "status_file", "audit_since"):
        assert option not in options
    # false and zero are values, not "unset"
    assert options["force"] is False and options["hold_down"] == 0


def test_the_ledger_dsn_falls_back_to_the_controllers_environment():
    values = {"scrubbing_operation": "incident", "scrubbing_state_file": "/srv/ledger.json"}
    env = {"SCRUBBING_LEDGER_DSN": "postgresql://from-env@db/ddos"}
    assert role_options(values, HOSTS, env)[1]["ledger_dsn"] == "postgresql://from-env@db/ddos"
    values["scrubbing_ledger_dsn"] = "postgresql://from-inventory@db/ddos"
    assert role_options(values, HOSTS, env)[1]["ledger_dsn"] == "postgresql://from-inventory@db/ddos"


def test_a_refused_variable_gives_no_options():
    refusal, options = role_options({"scrubbing_operation": "incident", "scrubbing_workers": 0}, HOSTS, {})
    assert options is None
    assert refusal.startswith("scrubbing_workers must be a whole number of providers called at once, at least 1")
