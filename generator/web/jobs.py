"""Background jobs: packs are built on worker threads of the app, never inside a request.

A job row holds everything needed to run it again (the checked raw input or the stored upload), so a server that
restarts mid-job resumes it; a pack reaches the ledger only after its files are in storage (one ``os.replace``).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from generator import api
from generator.batch.coalesce import Coalescer
from generator.content.model import Product
from generator.content.request import ClientRequest, RowError
from generator.content.revisions import Schedule
from generator.documents.convert import given_timeout
from generator.documents.proposal import PackPlan
from generator.errors import DocgenError
from generator.i18n import N_
from generator.store.accounts import User
from generator.store.base import utcnow
from generator.store.ledger import Job, PackRecord, Upload
from generator.web import ledger, storage
from generator.web.messages import describe, row_error, t
from generator.web.uploads import list_rows
from generator.web.waiting import Changes

if TYPE_CHECKING:  # the lanes module loads the pack pipeline: the portal imports it when `docgen serve` starts lanes
    from generator.batch.lanes import WarmLanes

log = logging.getLogger("docgen.web.jobs")
ISSUED_BY_POLICY = ("agent_name", "agent_contact", "date")
RESUMED = t(N_("Stopped by a server restart and started again from the beginning; no half-written pack was kept."))
COALESCE = 12  # packs at most in one coalesced run (the bench's 20 agents: two lanes, about ten packs each)
COMPANY = 8  # packs a lane waits for while another is in a run: small runs each pay LibreOffice's per-run start (service bench: 4, 6, 8 tried)
# seconds a free lane waits for that company at most: the agents whose packs it just built are back within it (their
# pages are answered at once, generator.web.waiting); the others wait in the busy lane's run. Without it, the last
# packs of a busy spell waited for a whole run of the other lane while this one stood idle (service bench, three
# alternated pairs, 2026-12-07: the two cores were used 85-88 % of the load test's clock without it, 91 % with it)
PATIENCE = 0.3
INTERNAL = t(N_("Internal error: the pack could not be made. The administrator can see the details in the server log."))


@dataclass
class _PackJob:
    """One agent's pack, planned and waiting for a run: its job, the plan and the folder its pack goes to."""

    job_id: int
    product: Product
    schedule: Schedule | None
    approvals: api.Approvals | None
    plan: PackPlan
    out: Path


class Worker:
    """A small pool of threads running jobs from the database; ``submit`` returns at once.

    A pack job is planned on a job thread and queued for the coalescer (generator.batch.coalesce): whenever one of its
    ``lanes`` (default: one per warm LibreOffice) is free, it builds everything queued, at most ``coalesce`` packs, in
    one run of the building step, and each job is settled the moment its own pack is installed or has failed.
    ``coalesce`` 1 builds each pack in a run of its own (the bench's baseline). A list job builds on its job thread.
    ``warm_lanes``: coalesced runs of several packs are laid out and merged in those worker processes
    (generator.batch.lanes), not under this process's GIL beside the HTTP requests; the caller closes them. A run of one
    pack (a quiet portal) stays here, its documents side by side on the app's warm pool.
    """

    def __init__(self, site: api.Site, sessions: sessionmaker[Session], product: Callable[[], Product], *, threads: int = 2,
                 build_jobs: int = 1, timeout: float | None = None, converter: api.Converter | None = None, coalesce: int = COALESCE,
                 lanes: int | None = None, warm_lanes: WarmLanes | None = None):
        self.site, self.sessions, self.product = site, sessions, product
        self.build_jobs, self.timeout = build_jobs, timeout
        self.converter = converter  # the app's warm LibreOffice pool (generator.documents.warm), or None: cold runs
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="docgen-job")
        self._lock = threading.Lock()
        self._active: set[int] = set()
        self.changes = Changes()  # wakes the progress requests held on a job once its change is committed
        lanes = lanes or (warm_lanes.count if warm_lanes else None) or getattr(converter, "size", None) or threads
        self.typesetter = warm_lanes.typesetter(given_timeout(timeout)) if warm_lanes else None
        self.coalescer: Coalescer[_PackJob] | None = None
        if coalesce > 1:
            self.coalescer = Coalescer(self._build_together, lanes=lanes, bound=coalesce, name="docgen-packs", company=min(COMPANY, coalesce),
                                       patience=PATIENCE)

    # --- queue -------------------------------------------------------------------------------

    def submit(self, job_id: int) -> None:
        with self._lock:
            if job_id in self._active:
                return
            self._active.add(job_id)
        self.pool.submit(self._run, job_id)

    def recover(self) -> list[int]:
        """On start: jobs a previous server left queued or running are queued again (and say so)."""
        with self.sessions() as db:
            stale = list(db.scalars(select(Job).where(Job.state.in_(("queued", "running"))).order_by(Job.id)))
            for job in stale:
                if job.state == "running":
                    job.reason = RESUMED
                job.state, job.done = "queued", 0
            db.commit()
            ids = [job.id for job in stale]
        for job_id in ids:
            self.submit(job_id)
        return ids

    def shutdown(self, wait: bool = False) -> None:
        # packs still queued stay "running" in the database: the next server's recover() builds them
        if self.coalescer is not None:
            self.coalescer.close(wait=wait)
        self.pool.shutdown(wait=wait, cancel_futures=True)

    # --- running -----------------------------------------------------------------------------

    def _update(self, job_id: int, **values: Any) -> None:
        with self.sessions() as db:
            job = db.get(Job, job_id)
            if job is not None:
                for k, v in values.items():
                    setattr(job, k, v)
                job.updated_at = utcnow()
                db.commit()
                self.changes.notify(job.public_id)

    def _run(self, job_id: int) -> None:
        queued = False  # a pack handed to the coalescer is settled (and leaves _active) when its run reaches it
        try:
            with self.sessions() as db:  # one transaction: the job marked running, and who asked (their issuing policy)
                job = db.get(Job, job_id)
                if job is None or job.state not in ("queued", "running"):
                    return
                agent = db.get(User, job.user_id)
                if agent is None:
                    raise DocgenError("the job or its agent was deleted while it ran")
                job.state, job.updated_at = "running", utcnow()
                kind, params, asker = job.kind, dict(job.params), (agent.agency.name, agent.name or "")
                db.commit()
                self.changes.notify(job.public_id)
            product = self.product()
            if kind == "pack":
                queued = self._run_pack(job_id, product, params, asker)
            else:
                self._run_list(job_id, product, params, asker)
        except DocgenError as exc:
            self._fail(job_id, exc)
        except Exception:
            log.exception("job %s failed", job_id)
            self._update(job_id, state="failed", reason=INTERNAL)
        finally:
            if not queued:
                self._release(job_id)

    def _release(self, job_id: int) -> None:
        storage.remove(self.site.storage, f"tmp/job-{job_id}")
        with self._lock:
            self._active.discard(job_id)

    def _fail(self, job_id: int, exc: DocgenError) -> None:
        log.warning("job %s failed: %s", job_id, exc)  # the detail (files, exit codes) for the administrator
        self._update(job_id, state="failed", reason=describe(exc))

    def _decided(self) -> tuple[Schedule | None, api.Approvals | None]:
        """The product's revisions and the approvals in force, as the portal decided them at its last reload (the
        ProductCache, generator.web.app); (None, None) for a plain product callable (a test's): its product as it is."""
        loader: Callable[[], tuple[Schedule, api.Approvals]] | None = getattr(self.product, "decided", None)
        return loader() if loader is not None else (None, None)

    def _progress(self, job_id: int) -> Callable[[int, int], None]:
        return lambda done, total: self._update(job_id, done=done, total=total)

    @staticmethod
    def _policy(asker: tuple[str, str], today: dt.date) -> api.IssuingPolicy:
        """The issuing policy of the agent who asked (their agency's and their own name), dated the day they asked."""
        return api.issuing_policy(agency=asker[0], agent=asker[1], today=today)

    def _run_pack(self, job_id: int, product: Product, params: dict[str, Any], asker: tuple[str, str]) -> bool:
        """Plan the pack (its job has total 1 from the start); queue it for a coalesced run (True), or build it in a run
        of its own here (False)."""
        today = dt.date.fromisoformat(params["today"])
        policy = self._policy(asker, today)
        # agency, contact and date come from the policy alone (older jobs stored the agency's name beside the client's)
        request = api.client_request(**{k: v for k, v in params["request"].items() if k not in ISSUED_BY_POLICY})
        schedule, approvals = self._decided()
        planner = api.planner(self.site, product, today=today, policy=policy, schedule=schedule, approvals=approvals)
        plans, refused = planner.plan_rows([(None, request)])
        if refused:
            raise refused[0].as_error()
        item = _PackJob(job_id, product, schedule, approvals, plans[0], storage.staging_dir(self.site.storage, f"job-{job_id}"))
        if self.coalescer is None:
            self._build_together([item])
            return False
        self.coalescer.submit(item)
        return True

    def _build_together(self, items: list[_PackJob]) -> None:
        """One run of the building step per product (revisions apart) for every queued pack; each job settled on its own.

        The run's packs enter the ledger together, in one transaction (one commit, one audit checkpoint): per pack, a
        commit of its own cost the portal's single process more than the pack's share of LibreOffice did.
        """
        groups: dict[tuple[int, int, int], list[_PackJob]] = {}
        for item in items:
            groups.setdefault((id(item.product), id(item.schedule), id(item.approvals)), []).append(item)
        for group in groups.values():
            waiting = {id(item.plan): item for item in group}
            built: list[tuple[_PackJob, api.Pack]] = []
            settle = functools.partial(self._settle, waiting, built)
            began = time.monotonic()
            failure = self._internal_failure
            try:
                api.build_planned(self.site, group[0].product, [i.plan for i in group], outs=[i.out for i in group],
                                  work=self.site.storage / "tmp", schedule=group[0].schedule, timeout=self.timeout, converter=self.converter,
                                  on_done=settle, approvals=group[0].approvals, typesetter=self.typesetter if len(group) > 1 else None)
            except DocgenError as exc:  # the run as a whole (the brochure, the signing key): every pack not yet settled
                failure = functools.partial(self._failure, exc)
            except Exception:
                log.exception("a run of %d pack(s) failed", len(group))
            self._record_run(waiting, built)  # packs installed before a failure are kept
            for item in list(waiting.values()):  # none, unless the run as a whole failed
                self._finish(waiting, item, failure(item))
            log.info("built %d pack(s) in one run in %.2f s", len(group), time.monotonic() - began)

    def _failure(self, exc: DocgenError, item: _PackJob) -> Callable[[], None]:
        return functools.partial(self._fail, item.job_id, exc)

    def _internal_failure(self, item: _PackJob) -> Callable[[], None]:
        return functools.partial(self._update, item.job_id, state="failed", reason=INTERNAL)

    def _settle(self, waiting: dict[int, _PackJob], built: list[tuple[_PackJob, api.Pack]], plan: PackPlan,
                outcome: api.Pack | RowError) -> None:
        """A pack of a run failed (its job is done at once, whatever the others do) or is installed (kept for the ledger)."""
        item = waiting[id(plan)]
        if isinstance(outcome, RowError):
            self._finish(waiting, item, functools.partial(self._fail, item.job_id, outcome.as_error()))
        else:
            built.append((item, outcome))

    def _record_run(self, waiting: dict[int, _PackJob], built: list[tuple[_PackJob, api.Pack]]) -> None:
        """Every built pack of a run into the ledger and its job done, in one transaction; if that fails (an agent
        deleted meanwhile, a full disk), each pack is entered on its own, so that only the one at fault fails."""
        if not built:
            return
        keys: list[str] = []
        ready: list[tuple[_PackJob, ledger.Ready]] = []
        try:
            for item, pack in built:  # before the transaction (generator.web.ledger.Ready)
                ready.append((item, ledger.ready(self.site.storage, pack)))
            with self.sessions() as db:
                jobs = []
                for item, made in ready:
                    record = ledger.enter(db, self.site.storage, item.job_id, item.product, item.plan.request, made)
                    keys.append(record.storage_key)
                    jobs.append(self._done(db, item.job_id, record.id))
                db.commit()
                self.changes.notify(*jobs)
        except Exception:
            for key in keys:
                storage.remove(self.site.storage, key)
            for _item, made in ready:
                storage.discard(made.staging)
            log.warning("the ledger entries of a run of %d pack(s) failed together; entering them one by one", len(built), exc_info=True)
            for item, pack in built:
                self._finish(waiting, item, functools.partial(self._record_one, item, pack))
            return
        for item, _pack in built:
            waiting.pop(id(item.plan), None)
            self._release(item.job_id)

    def _record_one(self, item: _PackJob, pack: api.Pack) -> None:
        record_id = self._record(item.job_id, item.product, item.plan.request, pack)
        self._update(item.job_id, state="done", done=1, result={"packs": [record_id], "errors": []})

    @staticmethod
    def _done(db: Session, job_id: int, record_id: int) -> str:
        """The job done with its pack, in ``db``'s transaction; its public id (to notify once committed)."""
        job = db.get(Job, job_id)
        assert job is not None  # ledger.enter found it in this transaction
        job.state, job.done, job.result, job.updated_at = "done", 1, {"packs": [record_id], "errors": []}, utcnow()
        return job.public_id

    def _finish(self, waiting: dict[int, _PackJob], item: _PackJob, step: Callable[[], None]) -> None:
        waiting.pop(id(item.plan), None)
        try:
            step()
        except DocgenError as exc:
            self._fail(item.job_id, exc)
        except Exception:  # this job's ledger entry failed: it alone fails, the run's other packs go on
            log.exception("job %s failed", item.job_id)
            self._update(item.job_id, state="failed", reason=INTERNAL)
        finally:
            self._release(item.job_id)

    def _run_list(self, job_id: int, product: Product, params: dict[str, Any], asker: tuple[str, str]) -> None:
        with self.sessions() as db:
            upload = db.get(Upload, params["upload_id"])
            if upload is None:
                raise DocgenError("the uploaded list is gone")  # shown as the portal's generic sentence
            path, name = self.site.storage / upload.storage_key, upload.filename
        today = dt.date.fromisoformat(params["today"])
        schedule, approvals = self._decided()  # once per list: each row's revision is then a lookup
        planner = api.planner(self.site, product, today=today, policy=self._policy(asker, today), schedule=schedule, approvals=approvals)
        plans, refused = planner.plan_rows(list_rows(path, name))
        self._update(job_id, total=len(plans))
        out = storage.staging_dir(self.site.storage, f"job-{job_id}")
        built, failed = api.build_planned(self.site, product, plans, outs=[out] * len(plans), work=out, schedule=schedule, jobs=self.build_jobs,
                                          timeout=self.timeout, converter=self.converter, progress=self._progress(job_id), approvals=approvals)
        records = [self._record(job_id, product, p.plan.request, p) for p in built]
        errors = [row_error(e.row, e.column, e.value, e.reason, e.error) for e in sorted([*refused, *(e for _, e in failed)],
                                                                                           key=lambda e: (e.row or 0, e.column))]
        self._write_list_files(job_id, records, errors)
        self._update(job_id, state="done", done=len(plans), result={"packs": records, "errors": errors})

    def _write_list_files(self, job_id: int, records: list[int], errors: list[dict[str, Any]]) -> None:
        root = self.site.storage
        with self.sessions() as db:
            rows = list(db.scalars(select(PackRecord).where(PackRecord.id.in_(records)).order_by(PackRecord.id)))
        # one folder per pack holding its files (the PDF and the Word files of its pack.zip), not a zip in the zip
        folders = storage.member_names([rec.client + (f" {rec.contact}" if rec.contact else "") for rec in rows])
        packs = [(folder, root / rec.storage_key / storage.PACK_ZIP) for folder, rec in zip(folders, rows, strict=True)]
        storage.write_packs_zip(root / f"jobs/{job_id}/packs.zip", packs)
        storage.write_bytes(root, f"jobs/{job_id}/errors.csv", errors_csv(errors))

    def _record(self, job_id: int, product: Product, request: ClientRequest, pack: api.Pack) -> int:
        """Archive a built pack and enter it in the ledger; the files exist before the row does."""
        made = ledger.ready(self.site.storage, pack)
        try:
            with self.sessions() as db:
                record = ledger.enter(db, self.site.storage, job_id, product, request, made)
                try:
                    db.commit()
                except BaseException:
                    storage.remove(self.site.storage, record.storage_key)
                    raise
                return record.id
        finally:
            storage.discard(made.staging)  # left only when the entry failed before its archive was installed


def errors_csv(errors: list[dict[str, Any]]) -> bytes:
    """errors.csv as the CLI writes it: row, column, value, reason (the portal's Japanese sentence where the row has one);
    UTF-8 with BOM, formulas neutralised (Excel opens it).

    >>> errors_csv([{"row": 3, "column": "limit", "value": "2億", "reason": "x"}]).decode("utf-8-sig").splitlines()
    ['row,column,value,reason', '3,limit,2億,x']
    >>> errors_csv([{"row": 2, "column": "client", "value": "=1+1", "reason": "x"}]).decode("utf-8-sig").splitlines()[1]
    "2,client,'=1+1,x"
    """
    from generator.batch.report import csv_report

    rows = [[e.get("row") or "", e.get("column", ""), e.get("value", ""), e.get("message") or e.get("reason", "")] for e in errors]
    return csv_report(["row", "column", "value", "reason"], rows)


def list_path(site: api.Site, upload: Upload) -> Path:
    return site.storage / upload.storage_key
