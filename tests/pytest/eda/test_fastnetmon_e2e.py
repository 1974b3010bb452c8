"""End to end with a real detector: FastNetMon 1.2.4 (Debian) watches the victim side of a veth
pair whose other end lives in a network namespace this test creates; a bounded UDP flood from
that namespace makes FastNetMon ban, the notify adapter posts to ansible-rulebook, the playbook
advertises the prefix on the sandbox; the flood stops, FastNetMon unbans after its ban time,
and the prefix is withdrawn. Only addresses inside 10.213.0.0/16 on these test interfaces and
127.0.0.1 are used. Everything is torn down whatever happens.

It prints the run's timeline, on one clock (this machine's time.time()): every stage from the
flood's first packet to the blackhole route on BIRD, and from the flood's end to the withdrawal,
from the stamps the product writes anyway (FastNetMon's log, the adapter's log, the event
source's and ansible-rulebook's log, the ledger, the orchestrate result) and what the test sees
(the sandbox's request log, BIRD's table). A stage that cannot be found fails the test, naming
it; bench/bench_fastnetmon.py runs this test N times and prints the medians per stage.
"""

from __future__ import annotations

import calendar
import json
import os
import re
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
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timeline_callback")
# FastNetMon's detection and unban settings for this test; docs/detectors.md (FastNetMon) says
# what each costs. The flood is 6000 pps against a 1500 pps threshold.
DETECTION = {"threshold_pps": 1500, "average_calculation_time": 1, "speed_calculation_delay": 1, "check_period": 1,
             "ban_time": 10, "unban_only_if_attack_finished": "on"}
# bench/bench_fastnetmon.py --fastnetmon KEY=VALUE measures other settings (e.g. FastNetMon's default averaging, 5 s).
DETECTION.update(json.loads(os.environ.get("DDOS_BENCH_FASTNETMON") or "{}"))
# The stages, in order; bench/bench_fastnetmon.py reads them by these names.
PIPELINE = ("adapter called", "adapter POST answered", "event queued (listener)", "event to the rules", "rule matched",
            "run_playbook lock taken", "ansible-playbook started", "playbook loaded", "orchestrate started",
            "ledger recorded", "first provider write sent", "provider received the write",
            "first provider write answered")
ONSET = ("flood start (first packet)", "FastNetMon ban (its log)") + PIPELINE + ("blackhole route on BIRD",)
RESOLUTION = ("flood stop", "FastNetMon unban (its log)") + PIPELINE + ("blackhole route gone from BIRD",)


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
s.sendto(payload, (target, 9))
print(time.time(), flush=True)  # the first packet: the timeline's zero
end = time.time() + seconds
sent = 1
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
    # -vv: ansible-rulebook's own debug lines say when a rule matched and a lock was taken; the
    # test-side callback notes each playbook run's start and the write times it reports.
    book = start_rulebook(tmp_path, str(path), verbosity="-vv", env={
        "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS, "ANSIBLE_CALLBACKS_ENABLED": "ddos_timeline",
        "DDOS_TIMELINE_FILE": str(tmp_path / "timeline.jsonl")})
    book.ledger = str(ledger)
    try:
        yield book
    finally:
        stop_rulebook(book.proc)


def local_log_time(text):
    """FastNetMon's and ansible-rulebook's log stamp (local time, "2026-12-04 06:59:01,783") -> epoch."""
    return time.mktime(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")) + int(text[20:23]) / 1000.0


def utc_stamp(text):
    """The adapter's stamp ("2026-12-04T06:59:01.790Z") -> epoch."""
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + int(text[20:23]) / 1000.0


LOG_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")


def log_times(path, pattern):
    """[(epoch, match)] of the log records whose text after their stamp matches ``pattern``.

    A record's stamp is not always where its line starts: ansible-rulebook prints each event it
    posts (ending with a row of '*' and no newline) to the stream its log records go to, so a
    record logged meanwhile follows that row on the same line.
    """
    found = []
    for line in open(path, encoding="utf-8", errors="replace"):
        match = re.search(pattern, line)
        if not match:
            continue
        stamps = list(LOG_STAMP.finditer(line, 0, match.start()))  # the stamps before the match
        if stamps:
            found.append((local_log_time(line[stamps[-1].start():]), match))
    return found


def test_log_times_finds_a_record_after_an_event_printout(tmp_path):
    # As ansible-rulebook's log had it (CI, 2026-12-05): the event printout's row of '*' and, on the
    # same line, the record of the unban's arrival, whose stamp the timeline missed.
    log = tmp_path / "rulebook.log"
    log.write_text("2026-12-05 10:14:18,581 - x - INFO - ddos.scrubbing: 1 incident event(s) of workspace prod to the "
                   "rules\n" + "*" * 80 + "2026-12-05 10:14:18,582 - x - INFO - ddos.scrubbing: queued incident i1 "
                   "resolved for workspace prod (/fastnetmon/prod, delivery d0784bb9ac1cfbdc)\n" + "*" * 80 + "\n")
    queued = log_times(log, r"queued incident .* delivery d0784bb9ac1cfbdc\)")
    assert [round(t % 60, 3) for t, _match in queued] == [18.582]
    assert len(log_times(log, r"to the rules")) == 1 and log_times(log, r"\*{80}") == []


def first_after(times, since):
    later = [t for t in times if t >= since - 0.02]  # /proc and log stamps are 10 ms and 1 ms coarse
    return min(later) if later else None


class Timeline:
    """One leg of the run (onset or resolution): the stages the product's and the test's stamps show."""

    def __init__(self, stages, zero):
        self.stages, self.zero, self.times = stages, zero, {}

    def add(self, stage, when):
        assert stage in self.stages, stage
        if when is not None:
            self.times[stage] = when

    def missing(self):
        return [stage for stage in self.stages if stage not in self.times]

    def offsets(self):
        return {stage: round(self.times[stage] - self.zero, 3) for stage in self.stages if stage in self.times}

    def table(self, title):
        lines, previous = [title], self.zero
        for stage in self.stages:
            when = self.times.get(stage)
            if when is None:
                lines.append("  %-34s      (not found)" % stage)
                continue
            lines.append("  %-34s %+8.3f s  (%+.3f)" % (stage, when - self.zero, when - previous))
            previous = when
        return "\n".join(lines)


def trace(leg, zero, work, rulebook, delivery, fastnetmon_line, sandbox, write_filter, route_time):
    """The stages of one leg, from each component's own stamps (see the module's docstring)."""
    timeline = Timeline(leg, zero)
    names = iter(leg)
    timeline.add(next(names), zero)
    bans = [t for t, _m in log_times(work / "fastnetmon.log", fastnetmon_line)]
    timeline.add(next(names), first_after(bans, zero))
    adapter = {}
    for line in (work / "notify.log").read_text().splitlines():
        match = re.search(r"\(delivery (\w+), called (\S+), answered after ([0-9.]+) s\)$", line)
        if match and match.group(1) == delivery:
            adapter = {"called": utc_stamp(match.group(2)), "answered": utc_stamp(match.group(2)) +
                       float(match.group(3))}
    timeline.add(next(names), adapter.get("called"))
    timeline.add(next(names), adapter.get("answered"))
    log = rulebook.log
    queued = [t for t, _m in log_times(log, r"queued incident .* delivery %s\)" % delivery[:16])]
    timeline.add(next(names), min(queued) if queued else None)
    since = min(queued) if queued else zero
    to_rules = first_after([t for t, _m in log_times(log, r"incident event\(s\) of workspace prod to the rules")],
                           since)
    timeline.add(next(names), to_rules)
    matched = first_after([t for t, _m in log_times(log, r"Creating action task action::run_playbook::")],
                          to_rules or since)
    timeline.add(next(names), matched)
    locked = first_after([t for t, _m in log_times(log, r"Acquired lock: workspace-prod")], matched or since)
    timeline.add(next(names), locked)
    notes = []

    def run_notes():  # the callback notes the run's result after the task is back: maybe after the test saw the write
        notes[:] = [json.loads(line) for line in (work / "timeline.jsonl").read_text().splitlines()] \
            if (work / "timeline.jsonl").exists() else []
        first = first_after([n["t"] for n in notes if n["event"] == "process"], locked or matched or since)
        pid = next((n["pid"] for n in notes if n["event"] == "process" and n["t"] == first), None)
        return pid if any(n["pid"] == pid and n["event"] == "result" for n in notes) else None
    run = wait_for(run_notes, timeout=30, step=0.2)
    for event in ("process", "playbook", "orchestrate"):
        timeline.add(next(names), next((n["t"] for n in notes if n["pid"] == run and n["event"] == event), None))
    ledger = json.loads(open(rulebook.ledger, encoding="utf-8").read())
    timeline.add(next(names), ledger["workspaces"]["prod"]["deliveries"].get(delivery))
    written = [w for n in notes if n["pid"] == run and n["event"] == "result" for w in n["written"].values()]
    timeline.add(next(names), min((w["sent"] for w in written), default=None))
    received = [r["time"] for r in sandbox.requests(writes_only=True) if r["time"] >= zero and write_filter(r)]
    timeline.add(next(names), min(received, default=None))
    timeline.add(next(names), min((w["answered"] for w in written), default=None))
    timeline.add(next(names), route_time)
    return timeline


def test_flood_bans_diverts_and_unban_withdraws(sandbox, rulebook_rtbh, border, namespaces, tmp_path):
    # The same flood also blackholes the victim on the border router (rtbh, a real gobgpd + BIRD 2).
    host_route = namespaces["victim"] + "/32"
    # Only the victim: with the attacker inside the monitored networks the flood would count as internal.
    (tmp_path / "networks").write_text(namespaces["victim"] + "/32\n")
    (tmp_path / "whitelist").write_text("")
    # FastNetMon runs the adapter itself, by its #! line, with the PATH a systemd service has.
    notify = tmp_path / "notify.sh"
    notify.write_text("#!/bin/sh\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
                      "DDOS_SCRUBBING_WEBHOOK_URL=%s DDOS_SCRUBBING_TOKEN=%s "
                      "DDOS_SCRUBBING_WORKSPACE=prod DDOS_SCRUBBING_STATE_DIR=%s DDOS_SCRUBBING_LOG_FILE=%s "
                      "DDOS_SCRUBBING_NOTIFY_CONFIG=/nonexistent\nexec %s \"$@\"\n" % (
                          rulebook_rtbh.internal_url, INTERNAL_TOKEN, tmp_path / "state", tmp_path / "notify.log",
                          ADAPTER if shutil.which("python3", path="/usr/bin:/bin") else sys.executable + " " + ADAPTER))
    notify.chmod(0o755)
    config = tmp_path / "fastnetmon.conf"
    config.write_text("\n".join([
        "logging_level = info", "logging_local_syslog_logging = off", "disable_usage_report = on",
        "enable_ban = on", "enable_ban_ipv6 = off", "process_incoming_traffic = on",
        "process_outgoing_traffic = off", "ban_details_records_count = 20",
        "networks_list_path = %s" % (tmp_path / "networks"),
        "white_list_path = %s" % (tmp_path / "whitelist"), "enable_connection_tracking = off",
        "ban_for_pps = on", "ban_for_bandwidth = off", "ban_for_flows = off",
        "mirror_afpacket = on", "mirror_af_packet_fanout_mode = cpu", "interfaces = %s" % namespaces["victim_if"],
        "notify_script_path = %s" % notify, "monitor_local_ip_addresses = off", "redis_enabled = off",
        "mongodb_enabled = off", "exabgp = off", "gobgp = off", "influxdb = off", "graphite = off",
        "enable_api = off", "prometheus = off", "pid_path = %s" % (tmp_path / "fastnetmon.pid"),
        "cli_stats_file_path = %s" % (tmp_path / "fastnetmon.dat"),
        "cli_stats_ipv6_file_path = %s" % (tmp_path / "fastnetmon6.dat")] +
        ["%s = %s" % item for item in DETECTION.items()] + [""]))
    log = tmp_path / "fastnetmon.log"
    detector = subprocess.Popen([FASTNETMON, "--configuration_file", str(config), "--log_file", str(log),
                                 "--disable_pid_logic"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    flood = None
    try:
        time.sleep(3)  # FastNetMon opens its capture
        assert detector.poll() is None, log.read_text() if log.exists() else "fastnetmon exited"
        # The event source's first event, through the rules: the operator sees the listeners are up,
        # and the rules engine has matched once before the attack (a cold first match costs 0.1-0.3 s).
        ready = "ddos.scrubbing: ready: Flowtriq on 127.0.0.1:%d, internal on 127.0.0.1:%d" % (
            rulebook_rtbh.webhook_port, rulebook_rtbh.internal_port)
        assert wait_for(lambda: ready in rulebook_rtbh.output(), timeout=30), rulebook_rtbh.output()[-3000:]
        flood = subprocess.Popen(["ip", "netns", "exec", namespaces["ns"], sys.executable, "-c", FLOOD,
                                  namespaces["victim"], "25", "6000"], stdout=subprocess.PIPE, text=True)
        started = float(flood.stdout.readline())
        diverted = wait_for(lambda: advertised(sandbox), timeout=60, step=0.05)
        assert diverted, "no diversion: fastnetmon log:\n%s\nnotify log:\n%s\nrulebook:\n%s" % (
            log.read_text()[-2000:] if log.exists() else "-",
            (tmp_path / "notify.log").read_text() if (tmp_path / "notify.log").exists() else "-",
            rulebook_rtbh.output()[-2000:])
        blackholed = wait_for(lambda: host_route in border.routes("master4"), timeout=60, step=0.02)
        routed = time.time()
        assert blackholed, "no blackhole route on the router:\n%s" % rulebook_rtbh.output()[-3000:]
        assert border.routes("master4")[host_route]["dest"] == "blackhole"
        flood.terminate()
        flood.wait(timeout=10)
        stopped = time.time()
        withdrawn = wait_for(lambda: not advertised(sandbox), timeout=150, step=0.2)
        assert withdrawn, "no withdrawal after the flood stopped:\n%s" % (tmp_path / "notify.log").read_text()
        assert wait_for(lambda: host_route not in border.routes("master4"), timeout=60, step=0.02), (
            "the blackhole route outlived the attack:\n%s" % rulebook_rtbh.output()[-3000:])
        unrouted = time.time()
        notify_log = (tmp_path / "notify.log").read_text()
        assert "ban %s -> started" % namespaces["victim"] in notify_log
        assert "unban %s -> resolved" % namespaces["victim"] in notify_log
        deliveries = {action: re.search(r"^\S+ %s %s .*\(delivery (\w+)," % (action, re.escape(namespaces["victim"])),
                                        notify_log, re.M) for action in ("ban", "unban")}
        assert all(deliveries.values()), "the adapter's log names no delivery:\n" + notify_log

        def cloudflare(entry):
            return entry["provider"] == "cloudflare"
        onset = trace(ONSET, started, tmp_path, rulebook_rtbh, deliveries["ban"].group(1),
                      r"Call script for ban client: %s$" % re.escape(namespaces["victim"]), sandbox, cloudflare, routed)
        resolution = trace(RESOLUTION, stopped, tmp_path, rulebook_rtbh, deliveries["unban"].group(1),
                           r"Call script for unban client: %s$" % re.escape(namespaces["victim"]), sandbox,
                           lambda entry: cloudflare(entry) and entry["time"] >= stopped, unrouted)
        # Kept in the test's output (pytest -s, or -rA): a slow run names its stage.
        print(onset.table("FastNetMon timeline, attack (from the flood's first packet; in brackets: since the "
                          "stage before)"))
        print(resolution.table("FastNetMon timeline, end of attack (from the flood's end; hold-down 0 s; FastNetMon: "
                               "ban_time %s s, unban only once the attack is over)" % DETECTION["ban_time"]))
        print("TIMELINE-JSON " + json.dumps({"onset": onset.offsets(), "resolution": resolution.offsets(),
                                             "detection": DETECTION}))
        assert not onset.missing() and not resolution.missing(), (
            "stages without a stamp (attack: %s; end: %s): a component stopped writing the stamp this "
            "timeline reads" % (onset.missing(), resolution.missing()))
    finally:
        if flood is not None and flood.poll() is None:
            flood.kill()
        detector.terminate()
        try:
            detector.wait(timeout=10)
        except subprocess.TimeoutExpired:
            detector.kill()
