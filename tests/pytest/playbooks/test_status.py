"""The status playbook for people (the table: drift, the whole last error) and for machines (a JSON
document and a node_exporter textfile written to scrubbing_status_file), run as users run it."""

from __future__ import annotations

import json
import os
import re

from conftest import read_ledger, run_module, run_playbook
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from prometheus_client.parser import text_string_to_metric_families

MT = dict(account_id=ACCOUNT, prefix_id=PREFIX)


def inventory(tmp_path, sandbox):
    """Magic Transit with a token that can write; Under Attack with one that can only read (its
    activation fails with Cloudflare's long 403 message)."""
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"scrubbing_integrations": {"vars": {"ansible_connection": "local"}, "hosts": {
        "edge-mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_options": dict(
            MT, api_url=sandbox.api_url("cloudflare"), api_token="sandbox-cf-token-rw", wait_sleep=0.05)},
        "zone-uam": {"scrubbing_provider": "cloudflare_under_attack", "scrubbing_options": {
            "api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-ro",
            "zone_name": "example.test", "wait_sleep": 0.05}}}}}))
    return str(path)


def play(name, sandbox, ledger, inv, extra=None, ok=True):
    proc = run_playbook(name, sandbox, ledger, extra, inventory=inv)
    if ok is not None:
        assert (proc.returncode == 0) == ok, proc.output[-4000:]
    return proc


def by_hand(sandbox, state):
    """What an operator does in the dashboard: advertise or withdraw the prefix outside the collection."""
    result = run_module("cloudflare_magic_transit", dict(MT, api_url=sandbox.api_url("cloudflare"),
                                                         api_token="sandbox-cf-token-rw", state=state, wait=False))
    assert result["_rc"] == 0 and result["changed"], result["_stdout"]


def table(output):
    start = output.find('"msg": [')
    assert start >= 0, output[-3000:]
    return json.loads(output[start + len('"msg": '):output.find("]\n", start) + 1])


def row(lines, name):
    """The table row of ``name`` as {column: value} (columns are split at the header's offsets)."""
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?<=  )\S|^\S", header)]
    names = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    index = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
    cells = {n: lines[index][a:b].strip() for n, a, b in zip(names, starts, starts[1:] + [None])}
    more = []
    for line in lines[index + 1:]:
        if line[:starts[-1]].strip():
            break
        more.append(line[starts[-1]:])
    cells["LAST ERROR"] = " ".join([cells["LAST ERROR"]] + more)
    return cells


def test_table_shows_drift_both_ways_and_the_whole_last_error(sandbox, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    play("incident", sandbox, ledger, inv, {"incident": {"id": "D1", "status": "started"}}, ok=False)
    error = read_ledger(ledger)["integrations"]["zone-uam"]["last_error"]
    assert len(error) > 120 and "token lacks permission" in error, error

    lines = table(play("status", sandbox, ledger, inv).stdout)
    assert row(lines, "edge-mt")["DRIFT"] == "-"
    uam = row(lines, "zone-uam")
    # the failed write left its intent: reconcile would finish it
    assert uam["LAST ERROR"] == error + " [pending activate]", "the last error is shown in full, wrapped"
    assert len([line for line in lines if not line[:40].strip()]) >= 3, "wrapped, not one endless line"

    by_hand(sandbox, "inactive")  # someone withdrew the prefix in the dashboard
    mt = row(table(play("status", sandbox, ledger, inv).stdout), "edge-mt")
    assert mt["ACTIVE"] == "yes" and mt["PROVIDER SAYS"].startswith("inactive") and mt["DRIFT"] == "provider off"

    play("incident", sandbox, ledger, inv, {"incident": {"id": "D1", "status": "resolved"}})
    by_hand(sandbox, "active")  # and later advertised it by hand, with no incident
    mt = row(table(play("status", sandbox, ledger, inv).stdout), "edge-mt")
    assert mt["ACTIVE"] == "no" and mt["PROVIDER SAYS"].startswith("active") and mt["DRIFT"] == "provider on"


def test_json_status_is_written_to_the_status_file(sandbox, tmp_path):
    inv, ledger, out = inventory(tmp_path, sandbox), tmp_path / "ledger.json", tmp_path / "status.json"
    play("incident", sandbox, ledger, inv, {"incident": {"id": "J1", "status": "started", "target": "203.0.113.7"}},
         ok=False)
    by_hand(sandbox, "inactive")
    mark = len(sandbox.requests(writes_only=True))
    proc = play("status", sandbox, ledger, inv, {"scrubbing_status_format": "json",
                                                 "scrubbing_status_file": str(out)})
    assert "json status written to %s" % out in proc.stdout, proc.stdout
    doc = json.loads(out.read_text())
    assert doc["schema"] == "ddos.scrubbing/status/1" and isinstance(doc["generated_at"], float)
    assert doc["ledger"] == {"backend": "file", "where": str(ledger)}
    rows = {r["integration"]: r for r in doc["integrations"]}
    assert sorted(rows) == ["edge-mt", "zone-uam"]
    mt, uam = rows["edge-mt"], rows["zone-uam"]
    assert mt["active"] is True and mt["provider_active"] is False and mt["drift"] == "provider off"
    assert mt["incidents"] == ["J1"] and mt["since"] == read_ledger(ledger)["integrations"]["edge-mt"]["since"]
    assert uam["active"] is False and uam["drift"] is None and "token lacks permission" in uam["last_error"]
    assert isinstance(uam["last_error_at"], float)
    assert doc["workspaces"]["default"]["active_incidents"] == ["J1"]
    assert "sandbox-cf-token" not in out.read_text()
    assert len(sandbox.requests(writes_only=True)) == mark, "status wrote to a provider"


def metrics(path):
    """{(metric, integration or workspace): value}, parsed by Prometheus' own parser."""
    values = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.type == "gauge", family.name
        for sample in family.samples:
            values[(sample.name, sample.labels.get("integration") or sample.labels.get("workspace"))] = sample.value
    return values


def test_prometheus_textfile_for_node_exporter(sandbox, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    collector = tmp_path / "textfile_collector"
    collector.mkdir()
    prom = collector / "ddos_scrubbing.prom"
    extra = {"scrubbing_status_format": "prometheus", "scrubbing_status_file": str(prom)}
    play("incident", sandbox, ledger, inv, {"incident": {"id": "P1", "status": "started"}}, ok=False)
    proc = play("status", sandbox, ledger, inv, extra)
    assert "prometheus status written to %s" % prom in proc.stdout
    since = read_ledger(ledger)["integrations"]["edge-mt"]["since"]
    values = metrics(prom)
    assert values[("ddos_scrubbing_active", "edge-mt")] == 1 and values[("ddos_scrubbing_active", "zone-uam")] == 0
    assert values[("ddos_scrubbing_drift", "edge-mt")] == 0
    assert values[("ddos_scrubbing_active_since_timestamp_seconds", "edge-mt")] == since
    assert values[("ddos_scrubbing_incidents", "edge-mt")] == 1
    assert values[("ddos_scrubbing_last_error", "zone-uam")] == 1
    assert values[("ddos_scrubbing_last_error", "edge-mt")] == 0
    assert values[("ddos_scrubbing_workspace_active_incidents", "default")] == 1
    assert "token lacks permission" not in prom.read_text(), "the error is a flag, never a label"
    assert oct(os.stat(prom).st_mode & 0o777) == "0o644", "node_exporter runs as its own user"
    first = os.stat(prom).st_ino

    by_hand(sandbox, "inactive")
    play("status", sandbox, ledger, inv, extra)
    values = metrics(prom)
    assert values[("ddos_scrubbing_drift", "edge-mt")] == 1
    assert values[("ddos_scrubbing_provider_off_drift", "edge-mt")] == 1
    # Atomic, as the textfile collector requires: a new file renamed over the old one (never the
    # same file rewritten in place, which the collector could read half-written), no temporary left.
    assert os.stat(prom).st_ino != first
    assert os.listdir(collector) == ["ddos_scrubbing.prom"]


def test_prometheus_without_a_file_is_refused_before_any_call(sandbox, tmp_path):
    inv, ledger = inventory(tmp_path, sandbox), tmp_path / "ledger.json"
    proc = play("status", sandbox, ledger, inv, {"scrubbing_status_format": "prometheus"}, ok=False)
    assert "scrubbing_status_format=prometheus writes a node_exporter textfile: set scrubbing_status_file" \
        in proc.output, proc.output[-3000:]
    assert sandbox.requests() == [] and not ledger.exists()
