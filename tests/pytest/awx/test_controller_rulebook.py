"""The EDA-controller rulebook (ddos.scrubbing.incident_controller) launches the AWX job template.

ansible-rulebook runs it as an activation does (``--controller-url``, ``--controller-token``)
against a stand-in for the controller's API on loopback: the three calls run_job_template makes
(find the template, launch it, poll the job). What it must send is what docs/awx.md and the
configuration as code (extensions/awx/controller/) promise: the template ``ddos.scrubbing
incident`` of the organization ``Default``, the checked incidents as the ``incidents`` extra
variable and nothing of the request besides; a refused request launches nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import VENV_BIN, ansible_env
from eda.eda_helpers import FLOWTRIQ_SECRET, INTERNAL_TOKEN, flowtriq, free_port, post, stop_rulebook, wait_for, \
    wait_port

TEMPLATE, ORGANIZATION, TOKEN = "ddos.scrubbing incident", "Default", "sandbox-awx-token"


class Controller(ThreadingHTTPServer):
    """The AWX API as run_job_template sees it: one job template (id 7), jobs that succeed."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.launches, self.unauthorized = [], 0
        self.lock = threading.Lock()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        if self.headers.get("Authorization") == "Bearer " + TOKEN:
            return True
        with self.server.lock:
            self.server.unauthorized += 1
        self.answer(401, {"detail": "Authentication credentials were not provided."})
        return False

    def do_GET(self):  # noqa: N802 pylint: disable=invalid-name
        if not self.authorized():
            return
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/api/v2/config/":
            self.answer(200, {"version": "24.6.1"})
        elif url.path == "/api/v2/unified_job_templates/":
            template = {"id": 7, "type": "job_template", "name": TEMPLATE,
                        "summary_fields": {"organization": {"name": ORGANIZATION}},
                        "related": {"launch": "/api/v2/job_templates/7/launch/"},
                        "ask_limit_on_launch": False, "ask_labels_on_launch": False,
                        "ask_inventory_on_launch": False, "ask_variables_on_launch": True}
            found = [template] if query.get("name") == [TEMPLATE] else []
            self.answer(200, {"count": len(found), "next": None, "results": found})
        elif url.path == "/api/v2/jobs/":
            ids = query.get("id__in", [""])[0].split(",")
            self.answer(200, {"count": len(ids), "next": None,
                              "results": [{"id": int(i), "status": "successful"} for i in ids if i]})
        else:
            self.answer(404, {"detail": "Not found."})

    def do_POST(self):  # noqa: N802 pylint: disable=invalid-name
        if not self.authorized():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path != "/api/v2/job_templates/7/launch/":
            self.answer(404, {"detail": "Not found."})
            return
        with self.server.lock:
            self.server.launches.append(body)
            job = 100 + len(self.server.launches)
        self.answer(201, {"id": job, "job": job, "url": "/api/v2/jobs/%d/" % job, "status": "pending"})


@pytest.fixture
def controller():
    server = Controller()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def activation(controller, tmp_path):
    """ansible-rulebook with the controller rulebook, as an EDA controller activation runs it."""
    webhook_port, internal_port = free_port(), free_port()
    variables = tmp_path / "vars.json"
    # What the incident-webhook EDA credential type injects, plus the listeners' ports.
    variables.write_text(json.dumps({"flowtriq_secret": FLOWTRIQ_SECRET, "internal_token": INTERNAL_TOKEN,
                                     "webhook_host": "127.0.0.1", "webhook_port": webhook_port,
                                     "internal_port": internal_port}))
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {"ansible_connection": "local"}}}}))
    log = tmp_path / "activation.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([os.path.join(VENV_BIN, "ansible-rulebook"), "-r", "ddos.scrubbing.incident_controller",
                                 "-i", str(inventory), "--vars", str(variables), "-v",
                                 "--controller-url", controller.url, "--controller-token", TOKEN],
                                stdout=out, stderr=subprocess.STDOUT, env=ansible_env(), start_new_session=True)
    try:
        try:
            wait_port(webhook_port)
            wait_port(internal_port)
        except AssertionError as exc:
            raise AssertionError("%s\n%s" % (exc, log.read_text(encoding="utf-8", errors="replace")[-3000:])) from None
        yield {"flowtriq": "http://127.0.0.1:%d/flowtriq" % webhook_port,
               "internal": "http://127.0.0.1:%d" % internal_port,
               "log": lambda: log.read_text(encoding="utf-8", errors="replace")}
    finally:
        stop_rulebook(proc)


def test_an_incident_launches_the_job_template_with_the_incidents_only(controller, activation):
    body, signature = flowtriq("attack_start", 8101, ip="203.0.113.9")
    assert post(activation["flowtriq"] + "/prod", body, {"X-Flowtriq-Signature": signature}) == 202
    generic = {"incident": {"id": "G-81", "status": "started", "workspace": "edge", "target": "198.51.100.4"}}
    assert post(activation["internal"] + "/incident", generic, {"Authorization": "Bearer " + INTERNAL_TOKEN}) == 202

    assert wait_for(lambda: len(controller.launches) >= 2, timeout=90), activation["log"]()[-3000:]
    by_workspace = {}
    for launch in controller.launches:
        # Only the incidents: no ansible_eda copy of the request (include_events: false). ansible-rulebook
        # adds the rulebook's hosts as the limit, which the template ignores (ask_limit_on_launch false).
        assert set(launch) - {"limit"} == {"extra_vars"} and set(launch["extra_vars"]) == {"incidents"}, launch
        for incident in launch["extra_vars"]["incidents"]:
            by_workspace.setdefault(incident["workspace"], []).append(incident)
    assert [(i["id"], i["status"], i["target"]) for i in by_workspace["prod"]] == [
        ("flowtriq-8101", "started", "203.0.113.9")], by_workspace
    assert [(i["id"], i["status"], i["target"]) for i in by_workspace["edge"]] == [
        ("G-81", "started", "198.51.100.4")], by_workspace
    assert controller.unauthorized == 0


def test_a_refused_request_launches_nothing(controller, activation):
    body, _signature = flowtriq("attack_start", 8102)
    forged = "sha256=" + "0" * 64
    assert post(activation["flowtriq"] + "/prod", body, {"X-Flowtriq-Signature": forged}) == 401
    stale, signature = flowtriq("attack_start", 8103, timestamp="2020-01-01T00:00:00Z")
    assert post(activation["flowtriq"] + "/prod", stale, {"X-Flowtriq-Signature": signature}) == 422
    assert wait_for(lambda: "refused event" in activation["log"](), timeout=30), activation["log"]()[-3000:]
    # a valid event afterwards is launched: the activation was listening all along
    good, signature = flowtriq("attack_start", 8104)
    assert post(activation["flowtriq"] + "/prod", good, {"X-Flowtriq-Signature": signature}) == 202
    assert wait_for(lambda: controller.launches, timeout=90), activation["log"]()[-3000:]
    ids = [i["id"] for launch in controller.launches for i in launch["extra_vars"]["incidents"]]
    assert ids == ["flowtriq-8104"], ids
