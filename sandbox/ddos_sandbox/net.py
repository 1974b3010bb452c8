"""Small loopback helpers shared by the tests and the benchmarks."""

from __future__ import annotations

import socket
import time


def free_port():
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port, timeout=60.0):
    """Wait until something listens on 127.0.0.1:port; False after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False
