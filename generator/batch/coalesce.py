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
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Coalescer(Generic[T]):
    """``lanes`` builder threads; each takes everything queued (at most ``bound`` items) and calls ``run`` with it.

    While every lane is idle, the first item is taken the moment it comes (a quiet queue never waits). While another
    lane is in a run, a free lane starts one only for ``company`` items or more (a run's fixed cost, a LibreOffice
    start-up of the documents, is then shared), or once it has waited ``patience`` seconds (None: until a lane frees up
    or company comes): the callers whose run just ended come back within that time, the others are in the busy run.

    ``run`` settles every item it is given (each item's own success or failure); an exception out of it is a defect,
    logged with the items' count, and the lane goes on with the next run.
    """

    def __init__(self, run: Callable[[list[T]], None], *, lanes: int = 1, bound: int = 16, name: str = "docgen-coalesce",
                 company: int = 1, patience: float | None = None) -> None:
        if lanes < 1 or bound < 1 or not 1 <= company <= bound or (patience is not None and patience < 0):
            raise ValueError("lanes and bound must be at least 1, company from 1 to the bound, patience not negative")
        self.bound, self.company, self.patience = bound, company, patience
        self._busy = 0  # lanes in a run
        self.runs: list[int] = []  # items per run, in the order runs began (for tests and the log)
        self._run = run
        self._queue: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
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
            until = None if self.patience is None else time.monotonic() + self.patience
            while not self._closed and not (self._queue and (self._busy == 0 or len(self._queue) >= self.company)):
                if not self._queue or until is None:
                    self._cond.wait()
                elif not self._cond.wait(until - time.monotonic()):
                    break  # waited long enough for company: what is queued goes now
            if self._closed:
                return None
            self._busy += 1
            items = [self._queue.popleft() for _ in range(min(self.bound, len(self._queue)))]
            self.runs.append(len(items))
            return items

    def _done(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()  # what waited for company may now go to this lane

    def _lane(self) -> None:
        while (items := self._take()) is not None:
            try:
                self._run(items)
            except Exception:  # a defect in run: its items are its to settle; this lane must keep serving the others
                log.exception("a coalesced run of %d item(s) failed", len(items))
            self._done()
