"""The credentials the inventory gives are the ones sent: a ~/.netrc on the controller naming the
provider's host must not replace them.

requests looks every request without auth of its own up in ~/.netrc ($NETRC) and, on a match,
sends Basic credentials in place of an ``Authorization: Bearer`` header: every token-based
provider would answer 401 during an incident on a controller that keeps a netrc for its API
hosts (curl users do).
"""

from __future__ import annotations

from conftest import read_ledger, run_playbook

BEARER_INTEGRATIONS = ("cf-magic-transit", "cf-under-attack", "do-web-firewall", "vultr-web-group",
                       "linode-web-firewall")


def test_a_netrc_naming_the_provider_host_does_not_replace_the_token(sandbox, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password netrc-password-not-a-token\n", encoding="utf-8")
    netrc.chmod(0o600)
    ledger = tmp_path / "ledger.json"
    proc = run_playbook("incident", sandbox, ledger, {"incident": {"id": "N1", "status": "started"}},
                        env={"NETRC": str(netrc), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.output[-4000:]
    records = read_ledger(ledger)["integrations"]
    for name in BEARER_INTEGRATIONS:
        assert records[name]["active"], (name, proc.output[-4000:])
    assert "netrc-password-not-a-token" not in proc.output
    assert not [r for r in sandbox.requests() if r.get("status") == 401], "a provider refused the credentials"
