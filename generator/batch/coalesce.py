"""Coalescing: work queued by many callers is taken, up to a bound, by whichever builder frees up first.

The portal's executor over the building step (generator.batch.building): a warm LibreOffice spends ~0.2 s on a
run however few documents it holds and ~10-20 ms per document inside one, so twenty agents' packs queued while a
run was busy are laid out together in the next one. A builder that is idle takes the first item the moment it
comes: an empty queue never waits for company.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
SMOOTHING = 0.3  # weight of the newest run in the expected run time (per item): a few runs follow a change of load, one odd run does not


def _smoothed(before: float | None, newest: float) -> float:
    """
    >>> _smoothed(None, 2.0), round(_smoothed(1.0, 2.0), 2)
    (2.0, 1.3)
    """
    return newest if before is None else SMOOTHING * newest + (1 - SMOOTHING) * before


class Coalescer(Generic[T]):
    """``lanes`` builder threads; each takes everything queued (at most ``bound`` items) and calls ``run`` with it.

    While every lane is idle, the first item is taken the moment it comes (a quiet queue never waits). While another
    lane is in a run, a free lane starts one only for ``company`` items or more: fewer wait for the next lane to free
    up, with whatever came meanwhile (a run's fixed cost, a LibreOffice start-up of the documents, is then shared).

    ``run`` settles every item it is given (each item's own success or failure); an exception out of it is a defect,
    logged with the items' count, and the lane goes on with the next run.

    With a ``key`` (an item's identity, e.g. its job id), :meth:`expected_in` says when an item's run should be over,
    from how long recent runs took per item (runs of one apart): what a waiting page needs to know to ask again when its
    result is there. With one smoothed run time for every size, runs of eight (service bench: 1.3-1.6 s) were expected
    0.4 s early, and a page asking then waited another second for its next poll.
    """

    def __init__(self, run: Callable[[list[T]], None], *, lanes: int = 1, bound: int = 16, name: str = "docgen-coalesce",
                 key: Callable[[T], Hashable] | None = None, clock: Callable[[], float] = time.monotonic, company: int = 1) -> None:
        if lanes < 1 or bound < 1 or not 1 <= company <= bound:
            raise ValueError("lanes and bound must be at least 1, company from 1 to the bound")
        self.bound, self.company = bound, company
        self._busy = 0  # lanes in a run
        self.runs: list[int] = []  # items per run, in the order runs began (for tests and the log)
        self._run = run
        self._queue: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._key, self._clock = key, clock
        # seconds per item of a run of several, and seconds of a run of one (each smoothed over the recent ones; None
        # before the first): a run of eight takes about twice a run of four, and a run of one is another path (the portal
        # builds it in its own process, not in a lane)
        self._per_item: float | None = None
        self._single: float | None = None
        self._ends: dict[Hashable, float] = {}  # key of each item in a run under way -> when that run should be over
        self._threads = [threading.Thread(target=self._lane, name=f"{name}-{i}", daemon=True) for i in range(lanes)]
        for thread in self._threads:
            thread.start()

    def submit(self, item: T) -> None:
        """Queue ``item``; an idle lane takes it at once."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the coalescer is closed")
            self._queue.append(item)
            self._cond.notify_all()  # whether a lane may take the queue depends on the others: each looks again

    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def expected_in(self, key: Hashable) -> float | None:
        """Seconds until the run holding the item ``key`` should be over (0 once that time has passed); None while the
        item is queued or unknown, or before any run has finished (nothing to go by)."""
        with self._cond:
            end = self._ends.get(key)
            return None if end is None else max(0.0, end - self._clock())

    def close(self, wait: bool = False) -> list[T]:
        """Stop taking work; what was still queued is returned (not run). ``wait``: until the runs under way end."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        if wait:
            for thread in self._threads:
                thread.join()
        return left

    def _take(self) -> list[T] | None:
        with self._cond:
            while not self._closed and not (self._queue and (self._busy == 0 or len(self._queue) >= self.company)):
                self._cond.wait()
            if self._closed:
                return None
            self._busy += 1
            items = [self._queue.popleft() for _ in range(min(self.bound, len(self._queue)))]
            self.runs.append(len(items))
            took = self._expected(len(items))
            if self._key is not None and took is not None:
                end = self._clock() + took
                self._ends.update((self._key(item), end) for item in items)
            return items

    def _expected(self, count: int) -> float | None:
        """Seconds a run of ``count`` items should take, from the recent runs (of one, or of several: per item); a kind
        not seen yet is estimated from the other; None before any run has ended."""
        if count == 1 and self._single is not None:
            return self._single
        if self._per_item is not None:
            return self._per_item * count
        return None if self._single is None else self._single * count

    def _done(self, items: list[T], took: float) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()  # what waited for company may now go to this lane
            if len(items) == 1:
                self._single = _smoothed(self._single, took)
            else:
                self._per_item = _smoothed(self._per_item, took / len(items))
            if self._key is not None:
                for item in items:
                    self._ends.pop(self._key(item), None)

    def _lane(self) -> None:
        while (items := self._take()) is not None:
            began = self._clock()
            try:
                self._run(items)
            except Exception:  # a defect in run: its items are its to settle; this lane must keep serving the others
                log.exception("a coalesced run of %d item(s) failed", len(items))
            self._done(items, self._clock() - began)
