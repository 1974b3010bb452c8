"""A real BGP session on loopback: gobgpd (the speaker the collection drives) and BIRD 2 (the
border router), each on free ports, configs and sockets in a temporary directory, stopped by pid.

gobgpd listens on 127.0.0.1, BIRD on 127.0.0.2 (eBGP multihop, AS 65001 -> AS 65002). BIRD maps
the RTBH discard next hops 192.0.2.1 and 100::1 to null with static blackhole routes, exactly as
docs/providers/bgp.md tells a router to, and keeps FlowSpec in the flow4/flow6 tables.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

GOBGPD = shutil.which("gobgpd") or "/usr/bin/gobgpd"
GOBGP = shutil.which("gobgp") or "/usr/bin/gobgp"
BIRD = shutil.which("bird") or "/usr/sbin/bird"
BIRDC = shutil.which("birdc") or "/usr/sbin/birdc"
SPEAKER_AS, ROUTER_AS = 65001, 65002

GOBGPD_CONF = """
[global.config]
  as = {speaker_as}
  router-id = "127.0.0.1"
  port = {speaker_port}
  local-address-list = ["127.0.0.1"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.2"
    peer-as = {router_as}
  [neighbors.transport.config]
    remote-port = {router_port}
    local-address = "127.0.0.1"
  [neighbors.ebgp-multihop.config]
    enabled = true
    multihop-ttl = 2
{families}
"""

FAMILY = """  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{name}"
"""

BIRD_CONF = """
router id 127.0.0.2;
protocol device {{}}
flow4 table flowtab4;
flow6 table flowtab6;
# The router side of RTBH: the discard next hops go to null.
protocol static discard4 {{ ipv4; route 192.0.2.1/32 blackhole; }}
protocol static discard6 {{ ipv6; route 100::/64 blackhole; }}
protocol bgp speaker {{
  local 127.0.0.2 port {router_port} as {router_as};
  neighbor 127.0.0.1 port {speaker_port} as {speaker_as};
  multihop;
  ipv4 {{ import all; export none; gateway recursive; }};
  ipv6 {{ import all; export none; gateway recursive; }};
  flow4 {{ table flowtab4; import all; export none; }};
  flow6 {{ table flowtab6; import all; export none; }};
}}
"""


def missing():
    """The prerequisites this machine lacks (for conftest.require)."""
    return {path: os.path.exists(path) for path in (GOBGPD, GOBGP, BIRD, BIRDC)}


def free_port():
    # Free on both loopback addresses the lab listens on.
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            with socket.socket() as other:
                other.bind(("127.0.0.2", port))
            return port
        except OSError:
            continue


class BgpLab:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ddos-bgp-")
        self.speaker_port = free_port()
        self.router_port = free_port()
        self.api_port = free_port()
        self.socket = os.path.join(self.dir, "bird.ctl")
        self.gobgpd = None
        self.bird_pid = None

    @property
    def speaker_address(self):
        return "127.0.0.1:%d" % self.api_port

    def _fill(self, text):
        return text.format(speaker_as=SPEAKER_AS, router_as=ROUTER_AS, speaker_port=self.speaker_port,
                           router_port=self.router_port,
                           families="".join(FAMILY.format(name=n) for n in
                                            ("ipv4-unicast", "ipv6-unicast", "ipv4-flowspec", "ipv6-flowspec")))

    def start(self):
        with open(os.path.join(self.dir, "bird.conf"), "w", encoding="utf-8") as handle:
            handle.write(self._fill(BIRD_CONF))
        pidfile = os.path.join(self.dir, "bird.pid")
        subprocess.run([BIRD, "-c", os.path.join(self.dir, "bird.conf"), "-s", self.socket, "-P", pidfile],
                       check=True, capture_output=True, timeout=30)
        # BIRD forks into the background and writes its pid file after the fork: wait for the pid.
        self.wait(lambda: os.path.exists(pidfile) and open(pidfile, encoding="utf-8").read().strip().isdigit(),
                  "BIRD's pid file")
        with open(pidfile, encoding="utf-8") as handle:
            self.bird_pid = int(handle.read().strip())
        try:
            self.start_speaker()
        except BaseException:
            self.stop()
            raise
        return self

    def start_speaker(self):
        conf = os.path.join(self.dir, "gobgpd.toml")
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(self._fill(GOBGPD_CONF))
        log = open(os.path.join(self.dir, "gobgpd.log"), "ab")
        self.gobgpd = subprocess.Popen([GOBGPD, "-f", conf, "--api-hosts", self.speaker_address, "-l", "warn"],
                                       stdout=log, stderr=log)
        log.close()
        self.wait(lambda: "Established" in self.birdc("show protocols speaker"), "the BGP session to come up")

    def stop_speaker(self):
        if self.gobgpd is not None:
            self.gobgpd.send_signal(signal.SIGTERM)
            try:
                self.gobgpd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.gobgpd.kill()
                self.gobgpd.wait()
            self.gobgpd = None

    def stop(self):
        self.stop_speaker()
        if self.bird_pid:
            try:
                os.kill(self.bird_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.bird_pid = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait(self, done, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; gobgpd log:\n%s" % (what, self.log()))
            time.sleep(0.05)

    def log(self):
        try:
            with open(os.path.join(self.dir, "gobgpd.log"), encoding="utf-8", errors="replace") as handle:
                return handle.read()[-3000:]
        except OSError:
            return ""

    # -- the router's view -----------------------------------------------------------------------
    def birdc(self, command):
        proc = subprocess.run([BIRDC, "-s", self.socket] + command.split(), capture_output=True, text=True,
                              timeout=30, check=False)
        return proc.stdout

    def routes(self, table):
        """BIRD's routes in ``table`` (master4, master6, flowtab4, flowtab6) received from the speaker:
        {network: {"dest": ..., "attrs": {name: value}}}."""
        text = self.birdc("show route table %s protocol speaker all" % table)
        routes, current = {}, None
        for line in text.splitlines():
            head = re.match(r"^(\S.*?)\s+(unicast|unreachable|blackhole|prohibit|\[)", line)
            if head and not line.startswith(("BIRD", "Table")):
                current = routes.setdefault(head.group(1).strip(), {"dest": head.group(2), "line": line, "attrs": {}})
                continue
            attr = re.match(r"^\s+(BGP\.\w+|Type):\s*(.*)$", line)
            if attr and current is not None:
                current["attrs"][attr.group(1)] = attr.group(2).strip()
        return routes

    def wait_routes(self, table, done, what, timeout=30):
        """Poll BIRD until ``done(routes)``; return the routes."""
        box = {}

        def check():
            box["routes"] = self.routes(table)
            return done(box["routes"])
        self.wait(check, what, timeout)
        return box["routes"]

    def gobgp(self, *args):
        """The gobgp CLI as someone else (an operator, another tool) would use it."""
        return subprocess.run([GOBGP, "-u", "127.0.0.1", "-p", str(self.api_port)] + list(args),
                              capture_output=True, text=True, check=True, timeout=30).stdout


# -- fixtures (test modules import them): one lab per test module, an empty speaker RIB per test ----
FAMILIES = ("ipv4", "ipv6", "ipv4-flowspec", "ipv6-flowspec")


@pytest.fixture(scope="module")
def bgp_lab():
    from conftest import require  # here, so bench/bench_bgp.py can import the lab without pytest's conftest

    # In CI (CI=true, root) a missing daemon FAILS the test (conftest.require), never skips it.
    require(dict(missing(), root=os.geteuid() == 0),
            "scripts/ensure-debian.sh installs gobgpd and bird2; CI runs as root")
    lab = BgpLab().start()
    yield lab
    lab.stop()


@pytest.fixture
def lab(bgp_lab):
    if bgp_lab.gobgpd is None:
        bgp_lab.start_speaker()
    for family in FAMILIES:
        bgp_lab.gobgp("global", "rib", "-a", family, "del", "all")
    for table in ("master4", "master6", "flowtab4", "flowtab6"):
        bgp_lab.wait_routes(table, lambda routes: not routes, "an empty %s" % table)
    return bgp_lab
