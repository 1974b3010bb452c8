"""A protected server for the local_firewall tests and bench: a network namespace holding the
server's address, joined to this machine's namespace by a veth. Only addresses the caller gives
(inside 10.214.0.0/16) are used; nothing leaves the machine."""

from __future__ import annotations

import subprocess


def sh(*argv, ns=None, check=True):
    """Run ``argv`` (inside namespace ``ns`` when given); the CompletedProcess, text output."""
    if ns:
        argv = ("ip", "netns", "exec", ns) + argv
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def make_server(ns, link, server, peer):
    """Namespace ``ns`` with ``server``/24 on its end of a veth; ``peer``/24 on ours (``link``)."""
    remove_server(ns, link)
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", link, "type", "veth", "peer", "name", link + "-in", "netns", ns)
    sh("ip", "addr", "add", peer + "/24", "dev", link)
    sh("ip", "link", "set", link, "up")
    sh("ip", "addr", "add", server + "/24", "dev", link + "-in", ns=ns)
    sh("ip", "link", "set", link + "-in", "up", ns=ns)


def remove_server(ns, link):
    sh("ip", "netns", "del", ns, check=False)
    sh("ip", "link", "del", link, check=False)
