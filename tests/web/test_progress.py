"""The progress fragment: asked at once, held by the server until the job changes, answered the moment it does."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx  # what starlette.testclient uses (plain httpx is deprecated there)
import pytest
from sqlalchemy import select

from generator.store.ledger import Job
from generator.web.routers import agents
from tests.web.conftest import CSRF, served

TRIGGER = re.compile(r'hx-trigger="([^"]*)"')
ASKS = re.compile(r'hx-get="([^"]*)"')
LONG = 30.0  # the hold in the tests that must never reach it: a request not woken shows as a test this slow, then failing


def job(portal, state: str = "running", done: int = 0) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    agent = portal.user("agent")
    with portal.sessions() as s:
        made = Job(kind="pack", state=state, agency_id=agent.agency_id, user_id=agent.id, total=1, done=done, result={},
                   params={"request": {"client": "株式会社 進捗", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}, "today": "2026-12-06"})
        s.add(made)
        s.commit()
        return made.id, made.public_id


def change(portal, job_id: int, public: str, **values) -> None:  # type: ignore[no-untyped-def]
    """Commit a change of the job and wake who waits on it, as the worker's threads do."""
    with portal.sessions() as s:
        found = s.get(Job, job_id)
        for k, v in values.items():
            setattr(found, k, v)
        s.commit()
    portal.app.state.worker.changes.notify(public)


def held(portal, count: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + LONG
    while portal.app.state.worker.changes.waiting() < count:
        assert time.monotonic() < deadline, f"{portal.app.state.worker.changes.waiting()} requests held, {count} expected"
        time.sleep(0.01)


@pytest.fixture
def hold(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(agents, "HOLD", LONG)
    return LONG


@pytest.mark.parametrize("page", ["", "/progress"])
def test_the_page_asks_at_once_saying_what_it_shows_and_again_by_itself_only_after_ten_seconds(portal, page: str) -> None:  # type: ignore[no-untyped-def]
    _, public = job(portal, "running", 0)
    r = portal.client("agent").get(f"/jobs/{public}{page}")  # the job page the form redirects to, and the fragment itself
    assert r.status_code == 200
    assert TRIGGER.search(r.text).group(1) == "load, every 10000ms"
    assert ASKS.search(r.text).group(1) == f"/jobs/{public}/progress?seen=running.0"


def test_a_held_request_is_answered_the_moment_its_job_is_done(portal, hold: float) -> None:  # type: ignore[no-untyped-def]
    job_id, public = job(portal)
    client = portal.client("agent")
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(client.get, f"/jobs/{public}/progress?seen=running.0")
        held(portal, 1)
        time.sleep(0.2)
        assert not asked.done()  # nothing changed: still held
        woken = time.monotonic()
        change(portal, job_id, public, state="done", done=1)
        r = asked.result(timeout=hold)
    assert time.monotonic() - woken < 5.0  # woken, not timed out
    assert r.status_code == 200 and r.headers["hx-redirect"] == f"/jobs/{public}"
    assert "hx-get" not in r.text and "hx-trigger" not in r.text
    assert portal.app.state.worker.changes.waiting() == 0


def test_progress_of_a_list_wakes_the_page_with_each_pack_done(portal, hold: float) -> None:  # type: ignore[no-untyped-def]
    job_id, public = job(portal)
    client = portal.client("agent")
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(client.get, f"/jobs/{public}/progress?seen=running.0")
        held(portal, 1)
        change(portal, job_id, public, done=1, total=3)
        r = asked.result(timeout=hold)
    assert r.status_code == 200 and "hx-redirect" not in r.headers
    assert "1 / 3" in r.text and ASKS.search(r.text).group(1) == f"/jobs/{public}/progress?seen=running.1"


@pytest.mark.parametrize("seen", ["", "queued.0", "running.3"])
def test_a_page_showing_something_else_than_the_job_is_answered_at_once(portal, hold: float, seen: str) -> None:  # type: ignore[no-untyped-def]
    _, public = job(portal, "running", 0)
    began = time.monotonic()
    r = portal.client("agent").get(f"/jobs/{public}/progress", params={"seen": seen} if seen else None)
    assert time.monotonic() - began < 5.0
    assert r.status_code == 200 and "作成中" in r.text and "seen=running.0" in r.text


def test_with_no_change_the_held_request_is_answered_as_it_is_after_the_hold(portal, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(agents, "HOLD", 0.5)
    _, public = job(portal)
    began = time.monotonic()
    r = portal.client("agent").get(f"/jobs/{public}/progress?seen=running.0")
    assert 0.5 <= time.monotonic() - began < 5.0
    assert r.status_code == 200 and "作成中" in r.text and "seen=running.0" in r.text
    assert portal.app.state.worker.changes.waiting() == 0


def test_another_agencys_job_is_not_found_and_never_held(portal, hold: float) -> None:  # type: ignore[no-untyped-def]
    _, public = job(portal)
    began = time.monotonic()
    r = portal.client("other_agent").get(f"/jobs/{public}/progress?seen=running.0")
    assert r.status_code == 404 and time.monotonic() - began < 5.0
    assert public not in r.text


@pytest.mark.parametrize("state", ["done", "failed"])
def test_a_finished_job_stops_asking_and_sends_the_browser_on(portal, hold: float, state: str) -> None:  # type: ignore[no-untyped-def]
    _, public = job(portal, state, 1 if state == "done" else 0)
    r = portal.client("agent").get(f"/jobs/{public}/progress?seen=running.0")
    assert r.status_code == 200 and r.headers["hx-redirect"] == f"/jobs/{public}"
    assert "hx-get" not in r.text and "hx-trigger" not in r.text


def log_in(base: str, portal) -> httpx.Client:  # type: ignore[no-untyped-def]
    client = httpx.Client(base_url=base, timeout=LONG + 10, follow_redirects=False)
    token = CSRF.search(client.get("/login").text).group(1)
    r = client.post("/login", data={"email": portal.emails["agent"], "password": portal.password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303
    return client


def test_held_requests_keep_no_pooled_connection_and_no_thread(portal, hold: float) -> None:  # type: ignore[no-untyped-def]
    """More held requests than the database pool has connections (5 + 10 overflow) and the threadpool threads (40):
    another page is still answered at once, and every held request when its job is done."""
    jobs = [job(portal) for _ in range(45)]
    with served(portal.app, "progress-held") as base, ThreadPoolExecutor(len(jobs)) as pool:
        client = log_in(base, portal)
        asked = [pool.submit(client.get, f"/jobs/{public}/progress?seen=running.0") for _, public in jobs]
        held(portal, len(jobs))
        began = time.monotonic()
        page = client.get(f"/jobs/{jobs[0][1]}")
        assert page.status_code == 200 and time.monotonic() - began < 5.0
        for job_id, public in jobs:
            change(portal, job_id, public, state="done", done=1)
        answers = [a.result(timeout=hold) for a in asked]
        client.close()
    assert all(r.status_code == 200 and r.headers.get("hx-redirect") for r in answers)


def test_a_change_between_reading_the_job_and_waiting_is_not_missed(portal, hold: float, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The job changes right after the request read it, before it began to wait: the request is woken all the same."""
    job_id, public = job(portal)
    read = agents.visible_one
    once = threading.Event()

    def read_then_change(db, model, wanted, user):  # type: ignore[no-untyped-def]
        found = read(db, model, wanted, user)
        if model is Job and not once.is_set():
            once.set()
            change(portal, job_id, public, state="done", done=1)  # committed and notified before the request waits
        return found

    monkeypatch.setattr(agents, "visible_one", read_then_change)
    began = time.monotonic()
    r = portal.client("agent").get(f"/jobs/{public}/progress?seen=running.0")
    assert time.monotonic() - began < 5.0
    assert r.status_code == 200 and r.headers["hx-redirect"] == f"/jobs/{public}"
    with portal.sessions() as s:
        assert s.scalar(select(Job.state).where(Job.id == job_id)) == "done"
