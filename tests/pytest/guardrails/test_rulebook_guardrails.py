# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guardrails through the rulebook: Flowtriq's peak_bps drives the size tier (an attack_update
raises it), and the rulebook's own tick escalates the slow tier with no detector event at all;
the receiver gets every change, signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time

from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "eda"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eda_helpers import flowtriq, post, start_rulebook, stop_rulebook, wait_for, write_inventory  # noqa: E402
from receivers import Receiver  # noqa: E402

SECRET = "rulebook-hmac-secret-42"
ZONE = "5e6f708192a3b4c5d6e7f8091a2b3c4d"


def test_flowtriq_sizes_and_the_tick_drive_the_tiers(sandbox, tmp_path):
    receiver = Receiver().start()
    cf = {"api_url": sandbox.api_url("cloudflare"), "api_token": "sandbox-cf-token-rw", "wait_sleep": 0.05}
    hosts = {
        "scrub-mt": {"scrubbing_provider": "cloudflare_magic_transit", "scrubbing_min_bps": 1000000000,
                     "scrubbing_options": dict(cf, account_id=ACCOUNT, prefix_id=PREFIX)},
        "zone-uam": {"scrubbing_provider": "cloudflare_under_attack", "scrubbing_escalate_after": 8,
                     "scrubbing_options": dict(cf, zone_name="example.test")},
    }
    ledger = tmp_path / "ledger.json"
    inventory = write_inventory(tmp_path / "inventory.json", sandbox, ledger, hosts, variables={
        "scrubbing_notify": [{"url": receiver.url, "format": "generic", "secret": SECRET}]})
    book = start_rulebook(tmp_path, inventory, extra_vars={"tick": 3})
    try:
        def state():
            cloudflare = sandbox.state()["cloudflare"]
            return (cloudflare["accounts"][ACCOUNT][PREFIX]["advertised"] is True,
                    cloudflare["zones"][ZONE]["security_level"] == "under_attack")

        body, signature = flowtriq("attack_start", 51, incident={"peak_bps": 300000000, "peak_pps": 50000})
        started = time.time()
        assert post(book.flowtriq_url + "/default", body, {"X-Flowtriq-Signature": signature}) == 202
        assert wait_for(lambda: os.path.exists(ledger) and "flowtriq-51" in ledger.read_text()), book.output()[-3000:]
        # the incident is below Magic Transit's size and younger than the zone's escalation
        time.sleep(1)
        assert state() == (False, False), book.output()[-3000:]
        body, signature = flowtriq("attack_update", 51, incident={"peak_bps": 4000000000})
        assert post(book.flowtriq_url + "/default", body, {"X-Flowtriq-Signature": signature}) == 202
        assert wait_for(lambda: state()[0], timeout=60), book.output()[-3000:]
        assert time.time() < started + 8 or state()[1], "escalated before its time"
        # no detector event from here: the tick's reconcile escalates the zone
        assert wait_for(lambda: state() == (True, True), timeout=60), book.output()[-3000:]
        assert time.time() >= started + 8
        assert "Scrubbing: reconcile" in book.output(), book.output()[-3000:]

        def delivered():
            events = []
            for req in list(receiver.got):
                assert req["headers"]["X-Scrubbing-Signature"] == "sha256=" + hmac.new(
                    SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
                events += [(e["event"], e["integration"]) for e in json.loads(req["body"])["events"]]
            return events

        # the run notifies after it has recorded its outcomes, so after the provider's state changed
        wait_for(lambda: len(delivered()) >= 2, timeout=30)
        assert delivered() == [("activated", "scrub-mt"), ("activated", "zone-uam")], book.output()[-3000:]
    finally:
        stop_rulebook(book.proc)
        receiver.stop()
