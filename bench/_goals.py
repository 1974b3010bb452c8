# -*- coding: utf-8 -*-
# Copyright (c) ddos.scrubbing contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The goals a benchmark checks, printed as one line each, found by name, never by position.

    goals = Goals("incident", ["8 integrations", "200 integrations"])
    goals.ratio("8 integrations", measured, baseline, 1.25)      # measured <= 1.25 x baseline
    goals.extra("200 integrations", measured, baseline, 1.5)     # measured <= baseline + 1.5 s
    goals.finish()   # prints the summary; exits 2 if an expected goal was never measured

Each line reads ``GOAL <name>: measured ..., goal ...: PASS`` (or ``MISS``), so a script reading
the output greps for its goal's name. A goal that could not be measured is not silently
dropped: ``finish`` names it and the benchmark fails.
"""

from __future__ import annotations

import sys


class Goals:
    def __init__(self, bench, expected):
        self.bench = bench
        self.expected = list(expected)
        self.results = {}

    def _line(self, name, measured, goal, ok):
        if name not in self.expected:
            raise SystemExit("benchmark %s: goal %r is not among the expected goals %s" % (
                self.bench, name, self.expected))
        self.results[name] = ok
        print("GOAL %s: measured %s, goal %s: %s" % (name, measured, goal, "PASS" if ok else "MISS"), flush=True)

    def ratio(self, name, measured, baseline, limit):
        """``measured`` seconds at most ``limit`` times ``baseline`` seconds."""
        self._line(name, "%.3f s = %.2fx %.3f s" % (measured, measured / baseline, baseline),
                   "<= %.2fx" % limit, measured <= limit * baseline)

    def extra(self, name, measured, baseline, limit):
        """``measured`` seconds at most ``limit`` seconds more than ``baseline``."""
        self._line(name, "%.3f s = %+.3f s over %.3f s" % (measured, measured - baseline, baseline),
                   "<= +%.3f s" % limit, measured - baseline <= limit)

    def at_most(self, name, measured, limit):
        self._line(name, "%.3f s" % measured, "<= %.3f s" % limit, measured <= limit)

    def finish(self):
        missing = [n for n in self.expected if n not in self.results]
        missed = [n for n, ok in self.results.items() if not ok]
        print("GOALS %s: %d measured, %d PASS, %d MISS, %d NOT MEASURED" % (
            self.bench, len(self.results), len(self.results) - len(missed), len(missed), len(missing)))
        if missing:
            print("NOT MEASURED (the benchmark is broken): %s" % "; ".join(missing), file=sys.stderr)
            raise SystemExit(2)
