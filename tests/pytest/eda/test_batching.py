"""When a workspace's queued incidents go to the rules (the event source's Intake), on a fake clock.

- an idle workspace's first event goes at once;
- while its run probably goes (less than batch_window since its last batch), later events gather;
- once it falls quiet (no new event for QUIET seconds) they go without waiting out batch_window,
  which is what ends a storm quickly (bench/bench_storm.py: 3.4 s -> 2.0-2.2 s after the last POST);
- but not twice in a row early: a detector that pauses between every event costs at most one
  more run per window, not one run per event.
"""

from __future__ import annotations

from eda_helpers import event_source_module

KEY = ("flowtriq", "prod")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def intake_at(clock, batch_window=2.0):
    source = event_source_module()
    return source, source.Intake(queue=None, window=300, batch_window=batch_window, clock=clock)


def arrive(intake, clock, at, name):
    clock.now = at
    intake._enqueue(KEY, {"id": name, "received": at})


def sent(intake, clock, at):
    """The batch that goes at ``at``, or None when it has to wait."""
    clock.now = at
    if KEY not in intake.pending or intake.due(KEY, at) > 0:
        return None
    return [item["id"] for item in intake.take_batch(KEY, at)]


def test_a_quiet_workspace_sends_its_gathered_events_without_waiting_out_the_window():
    clock = Clock()
    source, intake = intake_at(clock)
    arrive(intake, clock, 1000.0, "A")
    assert sent(intake, clock, 1000.0) == ["A"], "an idle workspace's event goes at once"
    arrive(intake, clock, 1000.1, "B")
    arrive(intake, clock, 1000.2, "C")
    assert sent(intake, clock, 1000.3) is None, "events arriving close together gather"
    quiet = 1000.2 + source.QUIET
    assert sent(intake, clock, quiet - 0.01) is None
    assert sent(intake, clock, quiet) == ["B", "C"], "quiet for QUIET seconds: they go, long before the window"


def test_events_keep_gathering_while_they_keep_coming():
    clock = Clock()
    _source, intake = intake_at(clock)
    arrive(intake, clock, 1000.0, "A")
    assert sent(intake, clock, 1000.0) == ["A"]
    for n in range(1, 19):   # one every 0.1 s: never quiet
        arrive(intake, clock, 1000.0 + n * 0.1, "E%d" % n)
        assert sent(intake, clock, 1000.0 + n * 0.1 + 0.05) is None
    assert sent(intake, clock, 1002.0) == ["E%d" % n for n in range(1, 19)], "the window ends the gathering"


def test_a_detector_that_pauses_between_events_costs_one_run_per_window_at_most():
    clock = Clock()
    source, intake = intake_at(clock)
    arrive(intake, clock, 1000.0, "A")
    assert sent(intake, clock, 1000.0) == ["A"]
    arrive(intake, clock, 1000.1, "B")
    early = 1000.1 + source.QUIET
    assert sent(intake, clock, early) == ["B"]        # quiet: early
    arrive(intake, clock, early + 0.1, "C")
    assert sent(intake, clock, early + 0.1 + source.QUIET) is None, "a second early batch in a row"
    assert sent(intake, clock, early + 2.0) == ["C"], "it waits for the window after an early batch"
    arrive(intake, clock, early + 2.1, "D")
    assert sent(intake, clock, early + 2.1 + source.QUIET) == ["D"], "after a full window, early again"
