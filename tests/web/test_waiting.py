"""Changes: a request held on a job is woken from a job thread, and only by its own job."""

from __future__ import annotations

import asyncio
import threading

from generator.web.waiting import Changes, changed


def test_a_change_notified_from_another_thread_wakes_only_the_requests_on_that_job() -> None:
    changes = Changes()

    async def scenario() -> tuple[bool, bool, int]:
        with changes.watch("a") as on_a, changes.watch("b") as on_b:
            assert changes.waiting() == 2
            threading.Thread(target=changes.notify, args=("a",)).start()
            woke_a = await changed(on_a, 10.0)
            woke_b = await changed(on_b, 0.2)  # nobody notified b: it waits its whole time
        return woke_a, woke_b, changes.waiting()

    assert asyncio.run(scenario()) == (True, False, 0)


def test_a_change_before_the_wait_began_is_kept_for_it() -> None:
    changes = Changes()

    async def scenario() -> bool:
        with changes.watch("a") as on_a:
            changes.notify("a")  # between reading the job and waiting
            return await changed(on_a, 0.0)

    assert asyncio.run(scenario()) is True


def test_notifying_a_job_nobody_waits_on_or_whose_loop_has_ended_does_nothing() -> None:
    changes = Changes()
    changes.notify("nobody")

    left = []

    async def leave_one_behind() -> None:
        watching = changes.watch("a")
        watching.__enter__()  # never left: as if the server stopped while the request was held
        left.append(watching)

    asyncio.run(leave_one_behind())
    changes.notify("a")  # its loop is closed: no error for the job thread
    assert changes.waiting() == 1
