"""Held progress requests: a page waiting on a job asks once and is answered when the job's row changes.

The job threads commit a job's state (generator.web.jobs) and call :meth:`Changes.notify`; a progress request held on
the event loop (generator.web.routers.agents) wakes at once. No database session and no threadpool thread is held
while it waits. Within one server process only: a request served by another process is answered when its wait ends,
as a poll would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


class Changes:
    """Which held requests wait on which job (by its public id), and waking them from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    @contextlib.contextmanager
    def watch(self, job: str) -> Iterator[asyncio.Event]:
        """An event set when ``job`` next changes; to be entered *before* the job is read, so that a change committed
        between the read and the wait still wakes it."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(job, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                left = self._waiting.get(job)
                if left is not None:
                    left.discard(entry)
                    if not left:
                        del self._waiting[job]

    def notify(self, *jobs: str) -> None:
        """Wake every request held on these jobs (called by a job thread once their change is committed)."""
        with self._lock:
            entries = [entry for job in jobs for entry in self._waiting.get(job, ())]
        for loop, event in entries:
            with contextlib.suppress(RuntimeError):  # its loop closed (the server stopping): nobody left to wake
                loop.call_soon_threadsafe(event.set)

    def waiting(self) -> int:
        """Requests held now (for tests and the log)."""
        with self._lock:
            return sum(len(entries) for entries in self._waiting.values())


async def changed(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set (True) or ``seconds`` have passed (False)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()
