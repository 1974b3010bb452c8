# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hold-down for BGP routes, seen on the border router (BIRD): a targeted incident resolved
with ``scrubbing_hold_down`` keeps its blackhole route until the hold-down has passed (an attack
often comes back in waves), then ``reconcile`` withdraws that route, and only that one."""

from __future__ import annotations

import time

# The lab fixtures, used by name.
from bgp_lab import bgp_lab, lab  # noqa: F401  # pylint: disable=unused-import
from conftest import hold_down_for
from test_bgp_incident import incident, inventory, play

FIRST, SECOND = "203.0.113.10/32", "203.0.113.20/32"


def test_route_is_kept_for_the_hold_down_then_reconcile_withdraws_it(lab, tmp_path):
    inv, ledger = inventory(tmp_path, lab), tmp_path / "ledger.json"
    began = time.time()
    play("incident", inv, ledger, incident("A", "started", target="203.0.113.10"))
    hold_down = hold_down_for(time.time() - began, runs=2)  # the resolution and a reconcile
    hold = {"scrubbing_hold_down": hold_down}
    play("incident", inv, ledger, dict(incident("B", "started", target="203.0.113.20"), **hold))
    lab.wait_routes("master4", lambda routes: FIRST in routes and SECOND in routes, "the routes of A and B")

    # The run records the resolution at some moment between these two.
    before_resolution = time.time()
    play("incident", inv, ledger, dict(incident("A", "resolved", target="203.0.113.10"), **hold))
    after_resolution = time.time()
    play("reconcile", inv, ledger, hold)
    routes = lab.routes("master4")
    assert time.time() < before_resolution + hold_down, "the runs outlasted the hold-down: the test proves nothing"
    assert FIRST in routes and routes[FIRST]["dest"] == "blackhole", \
        "incident A was resolved with a %ss hold-down: its route must stay until then" % hold_down
    assert SECOND in routes

    time.sleep(max(0.0, after_resolution + hold_down + 1 - time.time()))
    play("reconcile", inv, ledger, hold)
    routes = lab.wait_routes("master4", lambda routes: FIRST not in routes, "the route of A withdrawn after the "
                             "hold-down")
    assert SECOND in routes, "incident B is still active: its route stays"
