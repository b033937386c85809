"""Warm lanes: worker processes that each own a warm LibreOffice and typeset and merge a coalesced run off the caller.

The portal builds every agent's pack in its one server process. Rendering the Word files (docxtpl) and merging and
stamping the pack PDFs (pikepdf) are Python under the GIL there, beside the HTTP requests and the database: the
server's process used a whole core at ~7 packs/s, and two lanes could not use two cores. With lanes its CPU per pack
went from ~0.12 to ~0.07 s and the lanes' (LibreOffice included) from ~0.09 to ~0.14 (service bench, 20x5). A lane is a
process of its own (spawned: the server's threads are not forked) with a warm LibreOffice of its own, so a run's
render, layout and merge happen there and the server only plans, installs and records.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from generator.batch.assemble import MergeSpec, typeset_and_merge
from generator.batch.building import Batches, Typesetter
from generator.batch.typeset import Converter, Job, Layout, Typeset
from generator.crash import in_worker, quiet_worker

log = logging.getLogger(__name__)
_converter: Converter | None = None  # in a lane's process: its warm LibreOffice


def _start_lane() -> None:
    """Initialiser of a lane's process: quiet signals (generator.crash), one warm LibreOffice started now.

    SIGTERM is ignored: stopping ``docgen serve`` sends it to the server's whole process group, and quiet_worker's
    handler would end the lane at once, past the atexit hook that stops its LibreOffice (which runs in a session of its
    own and outlived the portal). The server closes its lanes as it stops (:meth:`WarmLanes.close`); they end normally.
    """
    from generator.documents.warm import ConverterPool

    global _converter
    quiet_worker()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _converter = ConverterPool(1)  # closed by its atexit hook when the lane's process ends


def _ready() -> bool:
    return _converter is not None


def _typeset_and_merge(jobs: Sequence[Job], folder: Path, layout: Layout, timeout: float | None, specs: dict[int, MergeSpec]) -> list[Typeset]:
    return typeset_and_merge(jobs, folder, layout, timeout, specs, _converter)


class WarmLanes:
    """``count`` lane processes, started now (in the background); :meth:`typesetter` runs a whole run in a free one.

    A lane whose process died (killed, out of memory) is replaced, and the run it had is done in the caller's process
    with ``fallback`` (the caller's own converter): its packs are still built.
    """

    def __init__(self, count: int, fallback: Converter | None = None) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self.count, self.fallback = count, fallback
        self._free: queue.SimpleQueue[ProcessPoolExecutor] = queue.SimpleQueue()
        self._all: list[ProcessPoolExecutor] = []
        self._starting: list[Future[bool]] = []
        for _ in range(count):
            self._free.put(self._start())

    def _start(self) -> ProcessPoolExecutor:
        lane = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_lane)
        self._starting.append(lane.submit(_ready))  # the process and its LibreOffice start now, not with the first pack
        self._all.append(lane)
        return lane

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until every lane started now has its process and LibreOffice up (``docgen serve`` answers only then: a lane
        still starting takes the CPU the first packs are built with)."""
        for started in self._starting:
            try:
                started.result(timeout=timeout)
            except (BrokenProcessPool, TimeoutError) as exc:  # replaced when a run finds it broken; its runs built here meanwhile
                log.warning("a warm lane did not start (%s); the portal opens without it", type(exc).__name__)
        self._starting.clear()

    def typesetter(self, timeout: float | None) -> Typesetter:
        """A building step typesetter (generator.batch.building) that lays out and merges all its jobs in one lane."""

        def run(jobs: list[Job], work: Path, layout: Layout, specs: dict[int, MergeSpec]) -> Batches:
            folder = work / "batch-0"
            yield folder, self.run(jobs, folder, layout, timeout, specs)

        return run

    def run(self, jobs: Sequence[Job], folder: Path, layout: Layout, timeout: float | None, specs: dict[int, MergeSpec]) -> list[Typeset]:
        """Typeset and merge ``jobs`` in ``folder`` in the next free lane (waiting for one)."""
        lane = self._free.get()
        try:
            return lane.submit(in_worker, _typeset_and_merge, list(jobs), folder, layout, timeout, specs).result()
        except BrokenProcessPool:
            log.warning("a lane's process died; its run of %d pack(s) is built in the server's process, the lane restarted", len(jobs))
            self._all.remove(lane)
            lane.shutdown(wait=False, cancel_futures=True)
            lane = self._start()
            return typeset_and_merge(jobs, folder, layout, timeout, specs, self.fallback)
        finally:
            self._free.put(lane)

    def close(self) -> None:
        """Stop every lane's process (its LibreOffice goes with it); runs under way end first."""
        for lane in list(self._all):
            lane.shutdown(wait=True, cancel_futures=True)
        self._all.clear()
