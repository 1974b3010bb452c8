"""A real OpenSSH server for the tests: Debian's /usr/sbin/sshd on 127.0.0.1, started and stopped by us.

Everything it uses lives in one temporary directory: generated host and client keys, its own
config (never /etc/ssh/sshd_config), the pid file, its log, and the HOME and TMPDIR its sessions
get. So a test can look at exactly what a remote run left on the "remote" host's disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from ddos_sandbox import net
from processes import descendants

SSHD = "/usr/sbin/sshd"


def _keygen(path, comment):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True,
                   stdout=subprocess.DEVNULL)


def _wait_listening(address, port, timeout):
    if address == "127.0.0.1":
        return net.wait_port(port, timeout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex((address, port)) == 0:
                return True
        time.sleep(0.05)
    return False


class SshServer:
    """``with SshServer(tmp_dir) as ssh:`` -> ``ssh.port``, ``ssh.client_key``, ``ssh.home``, ``ssh.inventory_vars()``."""

    def __init__(self, directory, address="127.0.0.1", netns=None):
        """``address``/``netns``: listen there instead, inside a network namespace the test made
        (a protected server of the local_firewall tests)."""
        self.address = address
        self.netns = netns
        self.dir = str(directory)
        self.host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        self.client_key = os.path.join(self.dir, "client_ed25519_key")
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        self.config = os.path.join(self.dir, "sshd_config")
        self.pid_file = os.path.join(self.dir, "sshd.pid")
        self.log = os.path.join(self.dir, "sshd.log")
        # ssh's ControlPath is a Unix socket (at most 107 bytes): keep it short, whatever the test's tmp dir
        self.control_dir = tempfile.mkdtemp(prefix="cp-", dir="/tmp")
        # The sessions' HOME and TMPDIR: the state host's disk, as far as a run can write to it.
        self.home = os.path.join(self.dir, "home")
        self.tmp = os.path.join(self.home, "tmp")
        self.port = None
        self.proc = None

    def start(self):
        for path in (self.home, self.tmp, self.control_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        _keygen(self.host_key, "ddos-scrubbing-test-host")
        _keygen(self.client_key, "ddos-scrubbing-test-client")
        with open(self.client_key + ".pub", encoding="utf-8") as pub, \
                open(self.authorized_keys, "w", encoding="utf-8") as out:
            out.write(pub.read())
        self.port = net.free_port()
        with open(self.host_key + ".pub", encoding="utf-8") as pub:
            key_type, key = pub.read().split()[:2]
        with open(self.known_hosts, "w", encoding="utf-8") as out:
            out.write("[%s]:%d %s %s\n" % (self.address, self.port, key_type, key))
        with open(self.config, "w", encoding="utf-8") as out:
            out.write("\n".join([
                "Port %d" % self.port,
                "ListenAddress %s" % self.address,
                "HostKey %s" % self.host_key,
                "PidFile %s" % self.pid_file,
                "AuthorizedKeysFile %s" % self.authorized_keys,
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                # The keys sit under /tmp (world-writable parent): StrictModes would refuse them.
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "SetEnv HOME=%s TMPDIR=%s" % (self.home, self.tmp),
                "LogLevel VERBOSE",
                "",
            ]))
        with open(self.log, "w", encoding="utf-8") as log:
            # -D: stay in the foreground so the pid we hold is sshd's; -e: log to our file.
            prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
            self.proc = subprocess.Popen(prefix + [SSHD, "-D", "-e", "-f", self.config], stdout=log,
                                         stderr=subprocess.STDOUT)
        if not _wait_listening(self.address, self.port, 20):
            self.stop()
            raise AssertionError("sshd did not listen on %s:%d:\n%s" % (self.address, self.port, self.output()))
        return self

    def output(self):
        with open(self.log, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def inventory_vars(self, python):
        """Host vars that make a host reach this server (the state host of the tests)."""
        return {
            "ansible_connection": "ssh",
            "ansible_host": self.address,
            "ansible_port": self.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": self.client_key,
            "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes "
                                       "-o IdentitiesOnly=yes" % self.known_hosts,
            "ansible_control_path_dir": self.control_dir,  # the controller's ssh masters, not ~/.ansible/cp
            "ansible_python_interpreter": python,
            # Ansible expands ~ by the user's passwd entry (/root), not $HOME: keep its files in ours.
            "ansible_remote_tmp": os.path.join(self.home, ".ansible", "tmp"),
        }

    def session_descendants(self):
        """Every process below the listener: the per-connection sshd processes and what they run."""
        return [] if self.proc is None else descendants(self.proc.pid)

    def stop(self):
        if self.proc is None:
            return
        # Sessions outlive the listener: end them first (they are all ours, found by parent pid).
        for pid in self.session_descendants():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.control_dir, ignore_errors=True)
        time.sleep(0.1)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
