"""AWX's way of running a job, without AWX: ansible-runner transmit | worker | process.

AWX (through receptor) does exactly this for every job: it writes a private data directory
(project, inventory, ``env/envvars`` rendered from the job's credentials' injectors,
``env/extravars`` with the launch's extra vars), streams it with ``ansible-runner transmit``
to an execution node whose ``ansible-runner worker`` unpacks it into its own directory and
runs ansible-playbook there (in a fresh execution-environment container, so a fresh HOME), and
reads the events back with ``ansible-runner process``. Here an "execution node" is a
directory of its own; the execution environment is this virtualenv with the built collection.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment

from conftest import COLLECTIONS, ROOT, VENV_BIN, ansible_env, require
from processes import descendants
from services import PostgresServer

RUNNER = os.path.join(VENV_BIN, "ansible-runner")
CREDENTIAL_TYPES = os.path.join(ROOT, "extensions", "awx", "credential_types")
# The AWX project: a playbook that runs the collection's incident playbook (a Git project would
# hold the same file and the inventory).
PROJECT = {
    "incident.yml": "---\n- name: DDoS incident event\n  ansible.builtin.import_playbook: ddos.scrubbing.incident\n",
    "status.yml": "---\n- name: DDoS scrubbing status\n  ansible.builtin.import_playbook: ddos.scrubbing.status\n",
    "reconcile.yml": "---\n- name: DDoS scrubbing reconcile\n  ansible.builtin.import_playbook: ddos.scrubbing.reconcile\n",
}


def injected_env(type_file, inputs):
    """What AWX puts in env/envvars for a credential of our type: its injectors' ``env``
    templates rendered (sandboxed Jinja, as AWX does) with the credential's inputs."""
    with open(os.path.join(CREDENTIAL_TYPES, type_file), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    fields = {f["id"] for f in doc["inputs"]["fields"]}
    unknown = set(inputs) - fields
    assert not unknown, "%s has no input %s" % (type_file, unknown)
    missing = set(doc["inputs"].get("required", [])) - set(inputs)
    assert not missing, "%s requires %s" % (type_file, missing)
    jinja = SandboxedEnvironment()
    return {var: jinja.from_string(template).render(**inputs) for var, template in doc["injectors"]["env"].items()}


class Job:
    """One job's private data directory on the controller side (what AWX writes)."""

    def __init__(self, directory, ident, playbook, inventory, envvars, extravars):
        self.dir = str(directory)
        self.ident = ident
        self.playbook = playbook
        self.limit = "localhost"  # the job template's limit (None: no limit)
        for sub in ("project", "inventory", "env"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        for name, text in PROJECT.items():
            with open(os.path.join(self.dir, "project", name), "w", encoding="utf-8") as out:
                out.write(text)
        self._write("inventory/hosts.json", inventory)
        self._write("env/envvars", envvars)
        self._write("env/extravars", extravars)
        self.dispatched_at = self.completed_at = None
        self.node = None
        self.status = None
        self.process_error = None

    def _write(self, name, data):
        with open(os.path.join(self.dir, name), "w", encoding="utf-8") as out:
            json.dump(data, out)

    @property
    def artifacts(self):
        return os.path.join(self.dir, "artifacts", self.ident)

    def events(self):
        found = []
        for path in glob.glob(os.path.join(self.artifacts, "job_events", "*.json")):
            with open(path, encoding="utf-8") as handle:
                found.append(json.load(handle))
        return sorted(found, key=lambda e: e.get("counter", 0))

    def module_result(self):
        """The orchestrate task's result, from the job events (as AWX shows it)."""
        for event in self.events():
            data = event.get("event_data") or {}
            if event.get("event") in ("runner_on_ok", "runner_on_failed") and \
                    data.get("task_action") == "ddos.scrubbing.orchestrate":
                return data.get("res") or {}
        return None

    def stdout(self):
        path = os.path.join(self.artifacts, "stdout")
        return open(path, encoding="utf-8", errors="replace").read() if os.path.exists(path) else ""


class Node:
    """An execution node: its own directory, a fresh HOME per job, ``slots`` jobs at once."""

    def __init__(self, directory, name, slots=1):
        self.dir = os.path.join(str(directory), name)
        self.name = name
        self.slots = slots
        os.makedirs(self.dir, exist_ok=True)
        self.workers = {}  # ident -> worker Popen (its own process group)
        self._lock = threading.Lock()

    def run(self, job, timeout=300):
        """transmit | worker | process; returns when the job is done (or was killed).

        AWX's controller side runs transmit and process in its own processes' threads through
        ansible-runner's API, and only the worker on the execution node: the same here.
        """
        from ansible_runner.interface import run as runner

        job.node = self.name
        home = os.path.join(self.dir, "home-" + job.ident)
        os.makedirs(home)
        node_env = ansible_env({"HOME": home})
        # The callback plugin is ansible-runner's (AWX's event stream), not the tests' default.
        node_env.pop("ANSIBLE_STDOUT_CALLBACK", None)
        node_env["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS  # the execution environment has the collection
        job.dispatched_at = time.time()
        worker = subprocess.Popen([RUNNER, "worker", "--private-data-dir", os.path.join(self.dir, job.ident)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  env=node_env, cwd=home, start_new_session=True)
        with self._lock:
            self.workers[job.ident] = worker

        def transmit():
            try:
                runner(private_data_dir=job.dir, playbook=job.playbook, ident=job.ident, limit=job.limit,
                       streamer="transmit", _output=worker.stdin, cancel_callback=lambda: False)
            except (BrokenPipeError, OSError):
                pass  # the worker was killed while the job was being sent
            finally:
                try:
                    worker.stdin.close()
                except OSError:
                    pass

        sender = threading.Thread(target=transmit, daemon=True)
        sender.start()
        try:
            runner(private_data_dir=job.dir, ident=job.ident, streamer="process", _input=worker.stdout, quiet=True,
                   cancel_callback=lambda: False)
        except Exception as exc:  # a stream cut by a killed worker: the job's status says so
            job.process_error = repr(exc)
        finally:
            worker.stdout.close()
            worker.wait(timeout=timeout)
            sender.join(30)
            with self._lock:
                self.workers.pop(job.ident, None)
        job.completed_at = time.time()
        status_file = os.path.join(job.artifacts, "status")
        job.status = open(status_file, encoding="utf-8").read().strip() if os.path.exists(status_file) else \
            "killed (rc %s)" % worker.returncode
        return job

    def kill(self, ident):
        """kill -9 of the worker's whole process tree (worker, ansible-playbook, its forks).

        ansible-runner starts ansible-playbook on a pty in a session of its own, so the worker's
        process group is not the tree: walk /proc. Everything is stopped first, so nothing forks
        between the listing and the kill. Returns the pids killed."""
        with self._lock:
            worker = self.workers.get(ident)
        assert worker is not None, "%s runs no job %s" % (self.name, ident)
        victims = [worker.pid] + descendants(worker.pid)
        for pid in victims:
            _signal(pid, signal.SIGSTOP)
        victims += [pid for pid in descendants(worker.pid) if pid not in victims]
        for pid in victims:
            _signal(pid, signal.SIGKILL)
        return victims


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _signal(pid, number):
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def read_ledger_doc(dsn):
    """The ledger document as the PostgreSQL backend stores it (one row; read-only here)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT doc FROM ddos_scrubbing_ledger WHERE id = 1").fetchone()
        except psycopg.errors.UndefinedTable:
            return None  # no run has created it yet
    doc = row[0] if row else None
    return json.loads(doc) if isinstance(doc, (str, bytes)) else doc


def write_inventory(zones, sandbox_url, extra_hosts=None):
    """One Cloudflare Under Attack integration per workspace: {workspace: zone_id}."""
    hosts = {}
    for workspace, zone in sorted(zones.items()):
        hosts["uam-" + workspace] = {
            "scrubbing_provider": "cloudflare_under_attack", "scrubbing_workspace": workspace,
            "scrubbing_options": {"api_url": sandbox_url + "/cloudflare/client/v4", "zone_id": zone,
                                  "wait_sleep": 0.05}}
    hosts.update(extra_hosts or {})
    return {"all": {"hosts": {"localhost": {"ansible_connection": "local"}}},
            "scrubbing_integrations": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}


ORIGINAL_LEVEL = "medium"


def zones_scenario(zones):
    """The Cloudflare simulator's scenario with one zone per workspace ({workspace: zone id}),
    at the level a zone has before any incident."""
    from ddos_sandbox.providers.cloudflare import ACCOUNT, DEFAULT_SCENARIO

    scenario = dict(DEFAULT_SCENARIO)
    scenario["zones"] = {zone: {"name": "%s.example.test" % ws, "account_id": ACCOUNT,
                                "security_level": ORIGINAL_LEVEL, "editable": True} for ws, zone in zones.items()}
    return {"cloudflare": scenario}


@pytest.fixture
def pg():
    """A real PostgreSQL for the shared ledger (Debian's postgresql, private socket)."""
    require({"PostgreSQL": PostgresServer.missing() is None},
            "%s; scripts/ensure-debian.sh installs it" % PostgresServer.missing())
    server = PostgresServer().start()
    yield server
    server.stop()
