"""The sandbox takes a burst of connections as a provider's API does: a run's 64 pipelines connect at
once. With socketserver's backlog of 5 the kernel dropped the surplus and TCP retried each one a
second later, which made some benchmark runs half a second slower for no reason of the client's."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler

from ddos_sandbox.core import Listener


def test_sixty_four_connections_at_once_are_all_taken_before_any_is_accepted():
    listener = Listener(("127.0.0.1", 0), BaseHTTPRequestHandler)  # listening, nothing accepting yet
    sockets = []
    try:
        refused = 0
        for _n in range(64):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.settimeout(0.5)
            sockets.append(client)
            try:
                client.connect(listener.server_address)
            except OSError:  # a dropped SYN: the timeout
                refused += 1
        assert refused == 0, "%d of 64 connections were dropped by a full listen backlog" % refused
    finally:
        for client in sockets:
            client.close()
        listener.server_close()
