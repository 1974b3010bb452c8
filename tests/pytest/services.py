"""Real servers the tests start and stop themselves: PostgreSQL (Debian's postgresql package).

The server runs as the ``postgres`` user (initdb and pg_ctl refuse root) with its socket in a
private directory and no TCP listener, on a port nobody else uses; ``stop()`` ends it with
``pg_ctl stop`` (which signals the postmaster by the pid in its own pid file).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile

PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


class PostgresServer:
    """A throwaway PostgreSQL cluster: ``with PostgresServer() as pg: connect(pg.dsn)``."""

    def __init__(self, tcp=False):
        self.tcp = tcp
        self.port = free_port()
        self.base = None
        self.dsn = None

    @staticmethod
    def missing():
        """Why a server cannot be started here, or None."""
        if not os.path.exists(os.path.join(PG_BIN, "postgres")):
            return "PostgreSQL 15 is not installed (Debian package postgresql; scripts/ensure-debian.sh)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "the postgres user does not exist (reinstall the Debian package postgresql)"
        return None

    def start(self):
        reason = self.missing()
        if reason:
            raise RuntimeError(reason)
        self.base = tempfile.mkdtemp(prefix="ddos-pg-")
        os.chmod(self.base, 0o755)
        data, sock = os.path.join(self.base, "data"), os.path.join(self.base, "sock")
        os.makedirs(sock)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.base, sock):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(_as_postgres([os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                                     "--no-sync"]), check=True, capture_output=True)
        listen = "127.0.0.1" if self.tcp else "''"
        options = "-k %s -p %d -c listen_addresses=%s -c fsync=off -c max_connections=200" % (sock, self.port, listen)
        subprocess.run(_as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-o", options, "-w",
                                     "-l", os.path.join(self.base, "log"), "start"]), check=True, capture_output=True)
        self.socket_dir = sock
        self.data = data
        self.dsn = "host=%s port=%d user=postgres dbname=postgres" % (sock, self.port)
        return self

    def stop(self):
        if self.base is None:
            return
        subprocess.run(_as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"]),
                       capture_output=True, check=False)  # already stopped is fine
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def psql(self, sql):
        """Run SQL as the superuser (test set-up: roles, databases)."""
        return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql],
                              check=True, capture_output=True, text=True).stdout

    def psql_value(self, sql, dbname=None):
        """The first column of the first row of a query, as text."""
        dsn = self.dsn if dbname is None else self.dsn.replace("dbname=postgres", "dbname=%s" % dbname)
        return subprocess.run(["psql", "-X", "-At", "-d", dsn, "-c", sql], check=True, capture_output=True,
                              text=True).stdout.strip()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
