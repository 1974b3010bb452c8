"""docs/sandbox.md, run as written: its commands against a real `ddos-sandbox serve`, the fault it
tells how to clear really cleared, its scenario example loaded, its credentials accepted."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from conftest import ROOT, VENV_BIN

from ddos_sandbox.net import free_port

DOC = os.path.join(ROOT, "docs", "sandbox.md")


def blocks(language):
    with open(DOC, encoding="utf-8") as handle:
        return re.findall(r"```%s\n(.*?)```" % language, handle.read(), re.S)


def commands():
    """The documented commands that drive a running sandbox, in the order the page gives them."""
    lines = [line.split("  #")[0].strip() for block in blocks("sh") for line in block.splitlines()]
    return [line for line in lines if line.startswith(("curl", ".venv/bin/ddos-sandbox"))
            and " serve" not in line]


@pytest.fixture
def served(tmp_path):
    port = free_port()
    pid_file, ready = tmp_path / "sandbox.pid", tmp_path / "ready.json"
    proc = subprocess.Popen([os.path.join(VENV_BIN, "ddos-sandbox"), "serve", "--port", str(port), "--pid-file",
                             str(pid_file), "--ready-file", str(ready)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "ddos-sandbox serve did not start"
        time.sleep(0.1)
    yield "http://127.0.0.1:%d" % port
    os.kill(int(pid_file.read_text()), signal.SIGTERM)
    proc.wait(timeout=30)


def robot(url, user="#ws+sandbox", password="sandbox-robot-password"):
    """GET /firewall/321 on the simulated Robot with the credentials the page lists: the HTTP status."""
    auth = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    request = urllib.request.Request(url + "/hetzner/firewall/321", headers={"Authorization": "Basic " + auth})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_documented_commands_work_and_clearing_a_fault_clears_it(served):
    env = dict(os.environ, DDOS_SANDBOX_URL=served)
    steps = commands()
    clear = next(i for i, line in enumerate(steps) if "DELETE" in line and "/_sandbox/faults" in line)
    assert any("--count -1" in line for line in steps[:clear]), "the page shows a fault that lasts until cleared"
    for number, line in enumerate(steps):
        if number == clear:
            assert robot(served) == 503, "the documented lasting fault is in place before the clear"
        proc = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                              check=False)
        assert proc.returncode == 0, "%s\n%s%s" % (line, proc.stdout, proc.stderr)
        if number == clear:
            assert robot(served) == 200, "the documented clear left the fault in place"
    assert robot(served, password="wrong") == 401


def test_the_documented_scenario_shape_loads(served):
    scenario = json.loads(blocks("json")[0])
    request = urllib.request.Request(served + "/_sandbox/reset", data=json.dumps({"scenario": scenario}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        state = json.load(answer)
    assert state["hetzner"]["321"]["status"] == "disabled" and state["vultr"]
    assert robot(served, "#ws+me", "my-password") == 200
    assert robot(served) == 401, "the scenario replaced the bundled Robot users"
