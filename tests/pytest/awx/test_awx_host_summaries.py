"""AWX's job host summaries, as AWX builds them: from the job's ``playbook_on_stats`` event
(ansible-runner transmit | worker | process). Each integration is a host with its own outcome.
"""

from __future__ import annotations

import time

from awx_jobs import Job, Node, injected_env, pg, write_inventory, zones_scenario  # noqa: F401 pylint: disable=unused-import

ZONES = {"ws-a": "%032x" % 0xa0, "ws-b": "%032x" % 0xa1}


def host_summaries(job):
    """{host: {ok, changed, failures, skipped}} from the stats event, as AWX's JobHostSummary."""
    stats = [e for e in job.events() if e.get("event") == "playbook_on_stats"]
    assert stats, job.stdout()
    data = stats[-1]["event_data"]
    hosts = set()
    for key in ("ok", "changed", "failures", "skipped"):
        hosts.update(data.get(key) or {})
    return {h: {k: (data.get(k) or {}).get(h, 0) for k in ("ok", "changed", "failures", "skipped")} for h in hosts}


def test_each_integration_has_its_own_host_summary(sandbox, pg, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    sandbox.reset(zones_scenario(ZONES))
    inventory = write_inventory(ZONES, sandbox.url)
    envvars = dict(injected_env("cloudflare.yml", {"api_token": "sandbox-cf-token-rw"}),
                   **injected_env("ledger.yml", {"dsn": pg.dsn}))
    node = Node(tmp_path / "nodes", "exec-1")
    event = {"incident": {"id": "S1", "status": "started", "workspace": "ws-a", "delivery": "s1",
                          "timestamp": time.time()}}
    job = Job(str(tmp_path / "job1"), "job1", "incident.yml", inventory, envvars, event)
    job.limit = None  # a job template without a limit: every integration is a host of the play
    job = node.run(job)
    assert job.status == "successful", job.stdout()
    summaries = host_summaries(job)
    assert summaries["uam-ws-a"]["changed"] == 1 and summaries["uam-ws-a"]["failures"] == 0, summaries
    assert summaries["uam-ws-b"]["changed"] == 0 and summaries["uam-ws-b"]["skipped"] == 1, summaries
    assert summaries["localhost"]["changed"] == 0, summaries

    # A provider that fails: its host fails, and only its host.
    sandbox.add_fault(provider="cloudflare", status=503, count=-1, path=ZONES["ws-b"])
    event = {"incident": {"id": "S2", "status": "started", "workspace": "ws-b", "delivery": "s2",
                          "timestamp": time.time()}}
    job = Job(str(tmp_path / "job2"), "job2", "incident.yml", inventory, envvars, event)
    job.limit = None
    job = node.run(job)
    assert job.status == "failed", job.stdout()
    summaries = host_summaries(job)
    assert summaries["uam-ws-b"]["failures"] == 1, summaries
    assert summaries["uam-ws-a"]["failures"] == 0 and summaries["localhost"]["failures"] == 0, summaries
