"""The coalescer alone (no LibreOffice): an idle lane takes the first item at once, a busy one's queue is taken whole."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from generator.batch.coalesce import Coalescer

WAIT = 30.0  # seconds an event may take before the test fails instead of hanging


class Recorder:
    """A run that records its items; a run holding ``hold`` waits until the test releases it."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.finished = threading.Condition()

    def __call__(self, items: list[str]) -> None:
        if "hold" in items:
            self.started.set()
            assert self.release.wait(WAIT)
        if "boom" in items:
            raise RuntimeError("a defect in the run")
        with self.finished:
            self.runs.append(items)
            self.finished.notify_all()

    def wait_for(self, count: int) -> list[list[str]]:
        with self.finished:
            assert self.finished.wait_for(lambda: len(self.runs) >= count, WAIT), self.runs
            return list(self.runs)


@contextlib.contextmanager
def serving(run: Any, **options: Any) -> Iterator[Coalescer]:
    """A coalescer over ``run``, closed (its lanes ended) when the test is done, passed or failed."""
    coalescer = Coalescer(run, **options)
    try:
        yield coalescer
    finally:
        coalescer.close(wait=True)


def test_an_idle_lane_takes_one_item_at_once_without_waiting_for_company() -> None:
    run = Recorder()
    with serving(run, lanes=1, bound=8) as coalescer:
        coalescer.submit("a")
        assert run.wait_for(1) == [["a"]]  # nothing else came: the run did not wait for more


def test_what_queues_while_the_lane_is_busy_is_built_in_one_run_up_to_the_bound() -> None:
    run = Recorder()
    with serving(run, lanes=1, bound=3) as coalescer:
        coalescer.submit("hold")
        assert run.started.wait(WAIT)
        for name in "bcde":
            coalescer.submit(name)
        assert coalescer.queued() == 4
        run.release.set()
        assert run.wait_for(3) == [["hold"], ["b", "c", "d"], ["e"]]  # in the order they came, at most three a run
        assert coalescer.runs == [1, 3, 1]


def test_a_free_lane_serves_while_the_other_is_busy() -> None:
    run = Recorder()
    with serving(run, lanes=2, bound=8) as coalescer:
        coalescer.submit("hold")
        assert run.started.wait(WAIT)
        coalescer.submit("x")
        assert run.wait_for(1) == [["x"]]  # not stuck behind the held run
        run.release.set()
        assert sorted(map(tuple, run.wait_for(2))) == [("hold",), ("x",)]


def test_while_a_lane_is_busy_a_free_one_waits_for_company_and_the_busy_one_takes_fewer_when_it_frees() -> None:
    run = Recorder()
    with serving(run, lanes=2, bound=8, company=3) as coalescer:
        coalescer.submit("hold")  # every lane idle: taken alone, at once
        assert run.started.wait(WAIT)
        coalescer.submit("a")
        coalescer.submit("b")
        time.sleep(0.2)  # room for a wrong lane to take them: two are not company enough beside a busy lane
        assert coalescer.queued() == 2 and run.runs == []
        coalescer.submit("c")
        assert run.wait_for(1) == [["a", "b", "c"]]  # three are: the free lane takes them
        coalescer.submit("d")  # alone again beside the held run: it waits ...
        time.sleep(0.2)
        assert coalescer.queued() == 1
        run.release.set()  # ... until a lane frees up and takes it, company or not
        assert sorted(map(tuple, run.wait_for(3))) == [("a", "b", "c"), ("d",), ("hold",)]


def test_a_run_that_raises_leaves_the_lane_serving() -> None:
    run = Recorder()
    with serving(run, lanes=1, bound=8) as coalescer:
        coalescer.submit("boom")
        deadline = time.monotonic() + WAIT
        while coalescer.runs != [1] and time.monotonic() < deadline:  # taken alone: the lane has it
            time.sleep(0.01)
        coalescer.submit("after")
        assert run.wait_for(1) == [["after"]] and coalescer.runs == [1, 1]


def test_close_hands_back_what_was_queued_and_refuses_more() -> None:
    run = Recorder()
    coalescer = Coalescer(run, lanes=1, bound=8)
    coalescer.submit("hold")
    assert run.started.wait(WAIT)
    coalescer.submit("left")
    assert coalescer.close() == ["left"]
    run.release.set()
    with pytest.raises(RuntimeError, match="closed"):
        coalescer.submit("late")
    coalescer.close(wait=True)
    assert run.runs == [["hold"]]


def test_a_bound_or_lane_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        Coalescer(lambda items: None, lanes=0)
    with pytest.raises(ValueError):
        Coalescer(lambda items: None, bound=0)


def test_with_patience_a_free_lane_waits_that_long_for_company_then_starts_with_what_is_queued() -> None:
    run = Recorder()
    with serving(run, lanes=2, bound=8, company=3, patience=0.5) as coalescer:
        coalescer.submit("hold")  # the other lane busy from here on
        assert run.started.wait(WAIT)
        time.sleep(0.6)  # the free lane has waited its patience already, for nothing
        began = time.monotonic()
        coalescer.submit("a")  # a lane that stood idle that long takes it at once: nobody else is coming soon
        assert run.wait_for(1) == [["a"]] and time.monotonic() - began < 0.4
        coalescer.submit("b")  # the lane is free again: its patience starts now
        coalescer.submit("c")
        time.sleep(0.2)
        assert coalescer.queued() == 2  # two are not company enough, and half a second has not passed
        assert run.wait_for(2)[1] == ["b", "c"]  # then they go, company or not, beside the busy lane
        assert time.monotonic() - began >= 0.5
        run.release.set()


def test_patience_below_zero_is_refused() -> None:
    with pytest.raises(ValueError):
        Coalescer(lambda items: None, patience=-1.0)
