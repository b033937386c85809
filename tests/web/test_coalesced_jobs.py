"""Agents' packs queued while a run is busy are built together in one run; one bad pack never fails the others."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from generator.batch import building
from generator.batch.coalesce import Coalescer
from generator.batch.lanes import WarmLanes
from generator.documents.proposal import pack_folder
from generator.store import audit
from generator.store.audit import AuditEntry
from generator.store.ledger import Job, PackRecord
from tests.web.conftest import Portal, fresh_portal, portal_site, wait_for_job

pytestmark = pytest.mark.libreoffice
WAIT = 60.0
HOLD = "hold"  # what the test queues first: the lane is busy with it until the test lets go


def pdf_text(path: Path) -> str:
    return "".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60).stdout.split())


def pack_job(portal: Portal, client: str, limit: str = "1億") -> int:
    """A queued pack job as the form leaves it (POST /packs), for the agent of agency A."""
    agent = portal.user("agent")
    raw = {"client": client, "contact": "", "industry": "製造業", "revenue": "4.5億", "limit": limit, "start": "", "renewal": ""}
    with portal.sessions() as s:
        job = Job(kind="pack", state="queued", agency_id=agent.agency_id, user_id=agent.id, params={"request": raw, "today": "2026-11-26"},
                  total=1, result={})
        s.add(job)
        s.commit()
        return job.id


@pytest.fixture(scope="module")
def lane_portal(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A live portal whose coalesced runs go to a warm lane's process (as ``docgen serve`` makes it)."""
    folder = tmp_path_factory.mktemp(f"lanes-{db_kind}")
    lanes = WarmLanes(1)
    try:
        with fresh_portal(db_kind, folder, portal_site(folder), threads=1, build_jobs=1, warm_lanes=lanes) as made:
            try:
                yield made
            finally:
                made.app.state.worker.shutdown(wait=True)  # type: ignore[attr-defined]
    finally:
        lanes.close()


@contextlib.contextmanager
def holding(portal: Portal, name: str) -> Iterator[tuple[threading.Event, Coalescer]]:
    """The portal's coalescer with its one lane busy until the test sets the event (then it builds as the portal does)."""
    worker = portal.app.state.worker  # type: ignore[attr-defined]
    original, release, busy = worker.coalescer, threading.Event(), threading.Event()
    assert original is not None, "the portal coalesces by default"

    def run(items: list) -> None:
        if items == [HOLD]:
            busy.set()
            assert release.wait(WAIT)
            return
        worker._build_together(items)

    worker.coalescer = gated = Coalescer(run, lanes=1, bound=original.bound, name=name)
    gated.submit(HOLD)
    assert busy.wait(WAIT)
    try:
        yield release, gated
    finally:
        release.set()
        gated.close(wait=True)
        worker.coalescer = original


@pytest.fixture
def held(live_portal: Portal) -> Iterator[tuple[threading.Event, Coalescer]]:
    with holding(live_portal, "test-held") as found:
        yield found


def wait_queued(coalescer: Coalescer, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while coalescer.queued() < count:
        assert time.monotonic() < deadline, f"{coalescer.queued()} of {count} packs queued"
        time.sleep(0.05)


def queue_packs(live_portal: Portal, coalescer: Coalescer, clients: list[str]) -> list[int]:
    """A pack job per client, submitted and waited for until each is planned and queued behind the held run."""
    worker = live_portal.app.state.worker  # type: ignore[attr-defined]
    jobs = [pack_job(live_portal, c) for c in clients]
    for job_id in jobs:
        worker.submit(job_id)
    wait_queued(coalescer, len(jobs))  # planned, each in its job's folder, waiting for the busy lane
    return jobs


def test_queued_packs_share_one_run_and_a_bad_one_leaves_the_others_built(live_portal: Portal, held) -> None:  # type: ignore[no-untyped-def]
    release, coalescer = held
    clients = ["株式会社 合同一", "株式会社 合同二", "株式会社 合同三"]
    jobs = queue_packs(live_portal, coalescer, clients)
    # the second pack cannot be installed: its folder already holds files docgen did not make (never replaced)
    squatter = live_portal.site.storage / "tmp" / f"job-{jobs[1]}" / pack_folder(clients[1], "")
    squatter.mkdir(parents=True)
    (squatter / "メモ.txt").write_text("not a pack", encoding="utf-8")
    release.set()

    done = [wait_for_job(live_portal, job_id) for job_id in jobs]
    assert coalescer.runs == [1, 3]  # the held run, then the three queued packs in one run
    assert [j.state for j in done] == ["done", "failed", "done"], [j.reason for j in done]
    assert done[1].reason and "/" not in done[1].reason  # said to the agent without a server path
    root = live_portal.site.storage
    with live_portal.sessions() as s:
        records = {r.job_id: r for r in s.scalars(select(PackRecord).where(PackRecord.job_id.in_(jobs)))}
    assert set(records) == {jobs[0], jobs[2]}  # the failed job has no ledger row
    for job_id, client in ((jobs[0], clients[0]), (jobs[2], clients[2])):
        text = pdf_text(root / records[job_id].storage_key / "pack.pdf")
        assert "".join(f"{client} 御中".split()) in text  # each pack is its own client's, not a neighbour's in the run
        other = next(c for c in clients if c != client)
        assert "".join(other.split()) not in text
    # every job's scratch folder is gone, the failed one's too
    assert not any((root / "tmp" / f"job-{job_id}").exists() for job_id in jobs)


def test_a_pack_refused_at_planning_fails_alone_and_never_reaches_a_run(live_portal: Portal, held) -> None:  # type: ignore[no-untyped-def]
    release, coalescer = held
    worker = live_portal.app.state.worker  # type: ignore[attr-defined]
    good, referred = pack_job(live_portal, "株式会社 合同四"), pack_job(live_portal, "株式会社 合同五", limit="2億")
    worker.submit(referred)
    assert wait_for_job(live_portal, referred).state == "failed"  # 要見積: refused by the planning step, not queued
    worker.submit(good)
    wait_queued(coalescer, 1)
    release.set()
    assert wait_for_job(live_portal, good).state == "done"
    assert coalescer.runs == [1, 1]


def test_a_runs_packs_enter_the_ledger_in_one_commit(live_portal: Portal, held) -> None:  # type: ignore[no-untyped-def]
    release, coalescer = held
    jobs = queue_packs(live_portal, coalescer, ["株式会社 台帳一", "株式会社 台帳二", "株式会社 台帳三"])
    with live_portal.sessions() as s:
        before = s.scalar(select(func.max(AuditEntry.seq))) or 0
    commits: list[Session] = []

    def count(session: Session) -> None:  # after_commit hands over the session
        # a savepoint's release fires after_commit too (the audit log appends under one on PostgreSQL): only the
        # outermost commit is a commit to the database
        if not session.in_nested_transaction():
            commits.append(session)

    event.listen(Session, "after_commit", count)
    try:
        release.set()
        first = [wait_for_job(live_portal, job_id) for job_id in jobs]
    finally:
        event.remove(Session, "after_commit", count)
    assert coalescer.runs == [1, 3] and [j.state for j in first] == ["done"] * 3
    with live_portal.sessions() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.seq > before).order_by(AuditEntry.seq)))
        records = list(s.scalars(select(PackRecord).where(PackRecord.job_id.in_(jobs))))
        assert audit.verify(s) == []  # chained in one transaction, the checkpoint on its newest entry
    assert [e.action for e in entries] == ["pack.built"] * 3 and {r.job_id for r in records} == set(jobs)
    # three packs and their jobs in one commit; with a commit per pack and one per job it took six
    assert len(commits) == 1, commits



def test_a_ledger_entry_that_cannot_be_made_fails_its_job_alone(live_portal: Portal, held) -> None:  # type: ignore[no-untyped-def]
    release, coalescer = held
    worker = live_portal.app.state.worker  # type: ignore[attr-defined]
    jobs = [pack_job(live_portal, c) for c in ("株式会社 台帳四", "株式会社 台帳五", "株式会社 台帳六")]
    for job_id in jobs:
        worker.submit(job_id)
    wait_queued(coalescer, len(jobs))
    with live_portal.sessions() as s:  # the second job is gone by the time its pack is built: the run's one commit fails
        s.delete(s.get(Job, jobs[1]))
        s.commit()
    release.set()
    done = [wait_for_job(live_portal, job_id) for job_id in (jobs[0], jobs[2])]
    assert coalescer.runs == [1, 3]
    assert [j.state for j in done] == ["done", "done"], [j.reason for j in done]
    with live_portal.sessions() as s:
        kept = {r.job_id for r in s.scalars(select(PackRecord).where(PackRecord.job_id.in_(jobs)))}
        keys = {r.storage_key for r in s.scalars(select(PackRecord))}
        assert audit.verify(s) == []  # the rolled-back entries left no gap in the chain
    assert kept == {jobs[0], jobs[2]}
    # the files archived for the failed attempt are gone: every pack folder in storage is a ledger row's, and no archive
    # staged before the failed transaction is left behind
    assert {f"packs/{p.name}" for p in (live_portal.site.storage / "packs").iterdir()} == keys
    assert list((live_portal.site.storage / "tmp").glob("pack-*")) == []


def test_a_run_of_several_packs_is_laid_out_in_a_lane_and_a_lone_pack_here(lane_portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = lane_portal.app.state.worker  # type: ignore[attr-defined]
    lone = pack_job(lane_portal, "株式会社 車線五")
    worker.submit(lone)  # the portal is quiet: a run of one, its documents side by side on this process's converter
    assert wait_for_job(lane_portal, lone).state == "done"
    # from now on nothing is laid out in this process: a run of several packs must go to the lane's own process
    monkeypatch.setattr(building, "typeset_and_merge", lambda *a, **k: pytest.fail("typeset in the server's process"))
    jobs = [pack_job(lane_portal, c) for c in ("株式会社 車線六", "株式会社 車線七")]
    with holding(lane_portal, "test-lanes") as (release, gated):
        for job_id in jobs:
            worker.submit(job_id)
        wait_queued(gated, len(jobs))
        release.set()
        done = [wait_for_job(lane_portal, job_id) for job_id in jobs]
    assert gated.runs == [1, 2] and [j.state for j in done] == ["done", "done"], [j.reason for j in done]
    with lane_portal.sessions() as s:
        records = {r.job_id: r for r in s.scalars(select(PackRecord).where(PackRecord.job_id.in_(jobs)))}
    for job_id, client in zip(jobs, ("株式会社 車線六", "株式会社 車線七"), strict=True):
        assert "".join(f"{client} 御中".split()) in pdf_text(lane_portal.site.storage / records[job_id].storage_key / "pack.pdf")
