"""``docgen serve`` with every thread profiled (cProfile on each thread's CPU clock); the stats go to $DOCGEN_BENCH_PROFILE on exit.

The service bench's ``--profile FILE`` starts the server through this module: py-spy is not in the lock, and cProfile
alone sees the main thread only, where uvicorn's event loop waits; the packs are built on job and lane threads.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import sys
import threading
import time

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start(*_args: object) -> None:
    profile = cProfile.Profile(time.thread_time)  # CPU of this thread: waiting on LibreOffice or a lock costs nothing
    with _lock:
        _profiles.append(profile)
    profile.enable()


def _dump() -> None:
    target = os.environ.get("DOCGEN_BENCH_PROFILE")
    with _lock:
        found = list(_profiles)
    if not target or not found:
        return
    for profile in found:
        profile.disable()  # only the calling thread's stops; the others' counts so far are kept in their objects
        profile.create_stats()
    stats = pstats.Stats(found[0])
    for profile in found[1:]:
        stats.add(profile)
    stats.dump_stats(target)


def main() -> int:
    from generator.cli import main as docgen

    threading.setprofile(_start)  # every thread started from now on profiles itself
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    _start()
    try:
        return docgen(sys.argv[1:]) or 0
    except KeyboardInterrupt:
        return 0
    finally:
        _dump()


if __name__ == "__main__":
    sys.exit(main())
