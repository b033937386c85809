"""The progress fragment's polling: every half second, and once sooner when the pack's run should be over before that."""

from __future__ import annotations

import re

import pytest

from generator.store.ledger import Job

TRIGGER = re.compile(r'hx-trigger="([^"]*)"')


def job(portal, state: str = "running") -> tuple[int, str]:  # type: ignore[no-untyped-def]
    agent = portal.user("agent")
    with portal.sessions() as s:
        made = Job(kind="pack", state=state, agency_id=agent.agency_id, user_id=agent.id, total=1, result={},
                   params={"request": {"client": "株式会社 進捗", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}, "today": "2026-12-06"})
        s.add(made)
        s.commit()
        return made.id, made.public_id


def trigger(portal, public: str, page: str = "/progress") -> str | None:  # type: ignore[no-untyped-def]
    r = portal.client("agent").get(f"/jobs/{public}{page}")
    assert r.status_code == 200
    found = TRIGGER.search(r.text)
    return found.group(1) if found else None


def sooner(value: str | None) -> int | None:
    """The one-off delay (ms) before the regular poll, as htmx reads ``load delay:Nms, every 500ms``."""
    assert value is not None and value.endswith("every 500ms"), value  # the regular poll always stays
    found = re.fullmatch(r"load delay:(\d+)ms, every 500ms", value)
    return int(found.group(1)) if found else None


def test_a_job_with_no_estimate_polls_every_half_second(portal) -> None:  # type: ignore[no-untyped-def]
    _, public = job(portal)
    assert trigger(portal, public) == "every 500ms"
    assert trigger(portal, public, "") == "every 500ms"  # the job page the form redirects to polls the same way


@pytest.mark.parametrize("left", [0.25, 0.4])
def test_a_run_ending_before_the_regular_poll_is_polled_just_after_its_expected_end(portal, left: float) -> None:  # type: ignore[no-untyped-def]
    job_id, public = job(portal)
    portal.app.state.worker.expected[job_id] = left
    for page in ("/progress", ""):
        delay = sooner(trigger(portal, public, page))
        assert delay is not None and left * 1000 <= delay < 500  # after the run's expected end, before the regular poll


def test_the_sooner_poll_is_never_more_often_than_five_a_second(portal) -> None:  # type: ignore[no-untyped-def]
    job_id, public = job(portal)
    portal.app.state.worker.expected[job_id] = 0.01
    delay = sooner(trigger(portal, public))
    assert delay is not None and 200 <= delay < 500


@pytest.mark.parametrize("left", [0.0, 0.5, 3.5])
def test_an_overdue_or_distant_run_keeps_the_regular_poll(portal, left: float) -> None:  # type: ignore[no-untyped-def]
    job_id, public = job(portal)
    portal.app.state.worker.expected[job_id] = left  # 0: overdue, its run is slower than expected: no faster polling
    assert sooner(trigger(portal, public)) is None


@pytest.mark.parametrize("state", ["done", "failed"])
def test_a_finished_job_stops_polling_and_sends_the_browser_on(portal, state: str) -> None:  # type: ignore[no-untyped-def]
    job_id, public = job(portal, state)
    portal.app.state.worker.expected[job_id] = 0.4
    r = portal.client("agent").get(f"/jobs/{public}/progress")
    assert r.status_code == 200 and r.headers["hx-redirect"] == f"/jobs/{public}"
    assert "hx-get" not in r.text and "hx-trigger" not in r.text
