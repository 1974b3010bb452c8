"""Helpers shared by the cloud-firewall simulators (DigitalOcean, Vultr, Linode).

Not a simulator itself (the registry skips modules starting with ``_``).

``SshWatch`` is how the lockdown tests prove "SSH is reachable at every step": every
simulator that mixes it in records, after each successful write, whether TCP 22 from
anywhere is accepted by the firewall it changed::

    sim = sandbox.simulators["vultr"]
    ... run the lockdown ...
    assert all(open_ for _n, _fw, open_ in sim.ssh_history)

``ssh_history`` is a list of ``(n, firewall_id, open)`` tuples; ``n`` counts writes in that
simulator from 1 (reset with the scenario). ``sim.ssh_open(firewall_id)`` answers the same
question for the current state. A write that fails (4xx) changes nothing and is not recorded.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone

ANY_V4 = ipaddress.ip_network("0.0.0.0/0")
SSH_PORT = 22


def now_iso(fmt="%Y-%m-%dT%H:%M:%SZ"):
    return datetime.now(timezone.utc).strftime(fmt)


def covers(address, source=ANY_V4):
    """Does a rule address (``1.2.3.4``, ``10.0.0.0/8``, ``0.0.0.0/0``) match every host of
    ``source``? Unparseable entries (tags, prefix-list references) never do."""
    try:
        net = ipaddress.ip_network(str(address), strict=False)
    except ValueError:
        return False
    source = ipaddress.ip_network(source, strict=False) if isinstance(source, str) else source
    return net.version == source.version and source.subnet_of(net)


def port_in(spec, port, range_sep="-"):
    """Is ``port`` inside a port spec: ``"22"``, ``"20-30"`` (Vultr ``"20:30"``), or a comma
    list of those (Linode)."""
    for piece in str(spec).split(","):
        piece = piece.strip()
        if not piece:
            continue
        low, _sep, high = piece.partition(range_sep)
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            continue
    return False


class SshWatch:
    """Mixin: ``ssh_history`` and ``_record_ssh``; the simulator implements ``ssh_open``."""

    def _reset_ssh(self):
        self.ssh_history = []

    def ssh_open(self, firewall_id, source=ANY_V4):  # pragma: no cover - each simulator overrides
        raise NotImplementedError

    def _record_ssh(self, firewall_id):
        self.ssh_history.append((len(self.ssh_history) + 1, firewall_id, self.ssh_open(firewall_id)))


def page_slice(items, page, per_page):
    """Page-number pagination (DigitalOcean, Linode): the items of one page and the page count."""
    pages = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page
    return items[start:start + per_page], pages


def int_arg(request, name, default, low, high):
    """A query integer clamped the way the providers clamp (the spec checker already rejects
    non-integers where the spec declares the parameter)."""
    try:
        value = int(request.arg(name, default))
    except (TypeError, ValueError):
        value = default
    return max(low, min(high, value))
