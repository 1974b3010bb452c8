"""End to end with a real detector: FastNetMon 1.2.4 (Debian) watches the victim side of a veth
pair whose other end lives in a network namespace this test creates; a bounded UDP flood from
that namespace makes FastNetMon ban, the notify adapter posts to ansible-rulebook, the playbook
advertises the prefix on the sandbox; the flood stops, FastNetMon unbans after its ban time,
and the prefix is withdrawn. Only addresses inside 10.213.0.0/16 on these test interfaces and
127.0.0.1 are used. Everything is torn down whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import require
from ddos_sandbox.providers.cloudflare import ACCOUNT, PREFIX
from eda_helpers import ADAPTER, INTERNAL_TOKEN, rulebook, wait_for  # noqa: F401 pylint: disable=unused-import
from eda_helpers import start_rulebook, stop_rulebook, write_inventory
from bgp.bgp_lab import BgpLab, missing as bgp_missing

FASTNETMON = shutil.which("fastnetmon") or "/usr/sbin/fastnetmon"


@pytest.fixture(autouse=True)
def _prerequisites():
    # In CI (CI=true, root) a missing prerequisite fails the test instead of skipping it.
    require({"root": os.geteuid() == 0, FASTNETMON: os.path.exists(FASTNETMON), "iproute2 (ip)": shutil.which("ip")},
            "scripts/ensure-debian.sh installs FastNetMon and iproute2; CI runs as root")


FLOOD = r"""
import socket, sys, time
# Bounded: at most `seconds` of UDP to one address inside this test's namespaces, paced to ~pps.
target, seconds, pps = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * 64
end = time.time() + seconds
sent = 0
while time.time() < end:
    start = time.time()
    for _ in range(pps // 100):
        s.sendto(payload, (target, 9))
        sent += 1
    time.sleep(max(0, 0.01 - (time.time() - start)))
print(sent)
"""


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=30)


def advertised(sandbox):
    return sandbox.state()["cloudflare"]["accounts"][ACCOUNT][PREFIX]["advertised"]


@pytest.fixture
def namespaces():
    tag = "%04d" % (os.getpid() % 10000)
    ns, victim_if, attacker_if = "ddosatk" + tag, "ddv" + tag, "dda" + tag
    subnet = 10 + os.getpid() % 200
    victim, attacker = "10.213.%d.1" % subnet, "10.213.%d.2" % subnet
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", victim_if, "type", "veth", "peer", "name", attacker_if)
        sh("ip", "link", "set", attacker_if, "netns", ns)
        sh("ip", "addr", "add", victim + "/30", "dev", victim_if)
        sh("ip", "link", "set", victim_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", attacker + "/30", "dev", attacker_if)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", attacker_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield {"ns": ns, "victim_if": victim_if, "victim": victim, "subnet": "10.213.%d.0/30" % subnet}
    finally:
        sh("ip", "link", "del", victim_if, check=False)
        sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def border():
    """A real BGP speaker (gobgpd) and border router (BIRD 2) on loopback, for the RTBH integration."""
    require(bgp_missing(), "scripts/ensure-debian.sh installs gobgpd and bird2")
    lab = BgpLab().start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def rulebook_rtbh(sandbox, border, tmp_path):
    """The rulebook on the sandbox inventory plus an RTBH integration of the same workspace, whose
    owned_prefixes (this test's 10.213.0.0/16) contain the victim."""
    ledger = tmp_path / "ledger.json"
    path = tmp_path / "inventory.json"
    write_inventory(path, sandbox, ledger)
    inventory = json.loads(path.read_text())
    inventory["scrubbing_integrations"]["hosts"]["rtbh"] = {
        "scrubbing_provider": "bgp_blackhole", "scrubbing_workspace": "prod",
        "scrubbing_options": {"speaker_address": border.speaker_address, "owned_prefixes": ["10.213.0.0/16"]}}
    path.write_text(json.dumps(inventory))
    book = start_rulebook(tmp_path, str(path))
    book.ledger = str(ledger)
    try:
        yield book
    finally:
        stop_rulebook(book.proc)


def test_flood_bans_diverts_and_unban_withdraws(sandbox, rulebook_rtbh, border, namespaces, tmp_path):
    # The same flood also blackholes the victim on the border router (rtbh, a real gobgpd + BIRD 2).
    host_route = namespaces["victim"] + "/32"
    # Only the victim: with the attacker inside the monitored networks the flood would count as internal.
    (tmp_path / "networks").write_text(namespaces["victim"] + "/32\n")
    (tmp_path / "whitelist").write_text("")
    notify = tmp_path / "notify.sh"
    notify.write_text("#!/bin/sh\nexport DDOS_SCRUBBING_WEBHOOK_URL=%s DDOS_SCRUBBING_TOKEN=%s "
                      "DDOS_SCRUBBING_WORKSPACE=prod DDOS_SCRUBBING_STATE_DIR=%s DDOS_SCRUBBING_LOG_FILE=%s "
                      "DDOS_SCRUBBING_NOTIFY_CONFIG=/nonexistent\nexec %s %s \"$@\"\n" % (
                          rulebook_rtbh.internal_url, INTERNAL_TOKEN, tmp_path / "state", tmp_path / "notify.log",
                          sys.executable, ADAPTER))
    notify.chmod(0o755)
    config = tmp_path / "fastnetmon.conf"
    config.write_text("\n".join([
        "logging_level = info", "logging_local_syslog_logging = off", "disable_usage_report = on",
        "enable_ban = on", "enable_ban_ipv6 = off", "process_incoming_traffic = on",
        "process_outgoing_traffic = off", "ban_details_records_count = 20", "ban_time = 10",
        "unban_only_if_attack_finished = on", "networks_list_path = %s" % (tmp_path / "networks"),
        "white_list_path = %s" % (tmp_path / "whitelist"), "check_period = 1", "enable_connection_tracking = off",
        "ban_for_pps = on", "ban_for_bandwidth = off", "ban_for_flows = off", "threshold_pps = 1500",
        "mirror_afpacket = on", "mirror_af_packet_fanout_mode = cpu", "interfaces = %s" % namespaces["victim_if"],
        "average_calculation_time = 5", "speed_calculation_delay = 1",
        "notify_script_path = %s" % notify, "monitor_local_ip_addresses = off", "redis_enabled = off",
        "mongodb_enabled = off", "exabgp = off", "gobgp = off", "influxdb = off", "graphite = off",
        "enable_api = off", "prometheus = off", "pid_path = %s" % (tmp_path / "fastnetmon.pid"),
        "cli_stats_file_path = %s" % (tmp_path / "fastnetmon.dat"),
        "cli_stats_ipv6_file_path = %s" % (tmp_path / "fastnetmon6.dat"), ""]))
    log = tmp_path / "fastnetmon.log"
    detector = subprocess.Popen([FASTNETMON, "--configuration_file", str(config), "--log_file", str(log),
                                 "--disable_pid_logic"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    flood = None
    try:
        time.sleep(3)  # FastNetMon opens its capture
        assert detector.poll() is None, log.read_text() if log.exists() else "fastnetmon exited"
        started = time.time()
        flood = subprocess.Popen(["ip", "netns", "exec", namespaces["ns"], sys.executable, "-c", FLOOD,
                                  namespaces["victim"], "25", "6000"], stdout=subprocess.PIPE)
        diverted = wait_for(lambda: advertised(sandbox), timeout=60, step=0.05)
        first_write = time.time() - started
        assert diverted, "no diversion: fastnetmon log:\n%s\nnotify log:\n%s\nrulebook:\n%s" % (
            log.read_text()[-2000:] if log.exists() else "-",
            (tmp_path / "notify.log").read_text() if (tmp_path / "notify.log").exists() else "-",
            rulebook_rtbh.output()[-2000:])
        blackholed = wait_for(lambda: host_route in border.routes("master4"), timeout=60, step=0.05)
        first_route = time.time() - started
        assert blackholed, "no blackhole route on the router:\n%s" % rulebook_rtbh.output()[-3000:]
        assert border.routes("master4")[host_route]["dest"] == "blackhole"
        flood.terminate()
        flood.wait(timeout=10)
        stopped = time.time()
        withdrawn = wait_for(lambda: not advertised(sandbox), timeout=150, step=0.2)
        assert withdrawn, "no withdrawal after the flood stopped:\n%s" % (tmp_path / "notify.log").read_text()
        assert wait_for(lambda: host_route not in border.routes("master4"), timeout=60, step=0.2), (
            "the blackhole route outlived the attack:\n%s" % rulebook_rtbh.output()[-3000:])
        print("flood start -> first provider write: %.2f s; -> blackhole route on the router: %.2f s; "
              "flood stop -> withdrawal: %.1f s" % (first_write, first_route, time.time() - stopped))
        notify_log = (tmp_path / "notify.log").read_text()
        assert "ban %s -> started" % namespaces["victim"] in notify_log
        assert "unban %s -> resolved" % namespaces["victim"] in notify_log
    finally:
        if flood is not None and flood.poll() is None:
            flood.kill()
        detector.terminate()
        try:
            detector.wait(timeout=10)
        except subprocess.TimeoutExpired:
            detector.kill()
