"""Background jobs: packs are built on worker threads of the app, never inside a request.

A job row holds everything needed to run it again (the checked raw input or the stored upload), so a server that
restarts mid-job resumes it; a pack reaches the ledger only after its files are in storage (one ``os.replace``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from generator import api
from generator.compliance.clients import find_client
from generator.content.model import Product
from generator.content.request import ClientRequest
from generator.content.revisions import Schedule
from generator.errors import DocgenError
from generator.i18n import N_
from generator.store.accounts import User
from generator.store.audit import record as audit
from generator.store.base import utcnow
from generator.store.clients import Client
from generator.store.ledger import Job, PackRecord, Upload
from generator.web import storage
from generator.web.messages import describe, row_error, t
from generator.web.uploads import check_list

if TYPE_CHECKING:
    from generator.documents.proposal import PackPlan

log = logging.getLogger("docgen.web.jobs")
ISSUED_BY_POLICY = ("agent_name", "agent_contact", "date")
RESUMED = t(N_("Stopped by a server restart and started again from the beginning; no half-written pack was kept."))
INTERNAL = t(N_("Internal error: the pack could not be made. The administrator can see the details in the server log."))


def clauses(provenance: dict[str, str]) -> dict[str, str]:
    """``/DocgenClauses`` ("ID=hash ID=hash") as a mapping.

    >>> clauses({"/DocgenClauses": "EX-01=ab12 EX-02=cd34"})
    {'EX-01': 'ab12', 'EX-02': 'cd34'}
    """
    pairs = (item.partition("=") for item in str(provenance.get("/DocgenClauses", "")).split())
    return {k: v for k, _, v in pairs if k}


def provenance(pack: api.Pack) -> dict[str, str]:
    """The document info the pack's PDF carries (a mapping, or a method reading it from the PDF)."""
    found = pack.provenance
    return dict(found() if callable(found) else found)


def approval(prov: dict[str, str]) -> str | None:
    """The approval number stamped in the PDF, None while the content is unapproved (未取得).

    >>> approval({"/DocgenApprovalNumber": "未取得"}), approval({"/DocgenApprovalNumber": "SJ26-01234"})
    (None, 'SJ26-01234')
    """
    number = str(prov.get("/DocgenApprovalNumber", "")).strip()
    return None if number in ("", "未取得") else number


def request_of(pack: api.Pack, requests: dict[str, ClientRequest]) -> ClientRequest:
    """The client request a built pack answers (its plan's, or the one with the same addressee)."""
    plan: PackPlan | None = getattr(pack, "plan", None)
    if plan is not None:
        return plan.request
    return requests[pack.addressee]


class Worker:
    """A small pool of threads running jobs from the database; ``submit`` returns at once."""

    def __init__(self, site: api.Site, sessions: sessionmaker[Session], product: Callable[[], Product], *, threads: int = 2,
                 build_jobs: int = 1, timeout: float | None = None, converter: api.Converter | None = None):
        self.site, self.sessions, self.product = site, sessions, product
        self.build_jobs, self.timeout = build_jobs, timeout
        self.converter = converter  # the app's warm LibreOffice pool (generator.documents.warm), or None: cold runs
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="docgen-job")
        self._lock = threading.Lock()
        self._active: set[int] = set()

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

    def _run(self, job_id: int) -> None:
        try:
            with self.sessions() as db:
                job = db.get(Job, job_id)
                if job is None or job.state not in ("queued", "running"):
                    return
                job.state, job.updated_at = "running", utcnow()
                db.commit()
                kind, params = job.kind, dict(job.params)
            product = self.product()
            if kind == "pack":
                self._run_pack(job_id, product, params)
            else:
                self._run_list(job_id, product, params)
        except DocgenError as exc:
            log.warning("job %s failed: %s", job_id, exc)  # the detail (files, exit codes) for the administrator
            self._update(job_id, state="failed", reason=describe(exc))
        except Exception:
            log.exception("job %s failed", job_id)
            self._update(job_id, state="failed", reason=INTERNAL)
        finally:
            with self._lock:
                self._active.discard(job_id)

    def _schedule(self) -> Schedule | None:
        """The product's revisions as the portal loaded them (the ProductCache), None for a plain product callable."""
        loader = getattr(self.product, "schedule", None)
        return loader() if loader is not None else None

    def _progress(self, job_id: int) -> Callable[[int, int], None]:
        return lambda done, total: self._update(job_id, done=done, total=total)

    def _policy(self, job_id: int, today: dt.date) -> api.IssuingPolicy:
        """The issuing policy of the agent who asked: their agency and name, dated the day they asked."""
        with self.sessions() as db:
            job = db.get(Job, job_id)
            agent = db.get(User, job.user_id) if job else None
            if job is None or agent is None:
                raise DocgenError("the job or its agent was deleted while it ran")
            return api.issuing_policy(agency=agent.agency.name, agent=agent.name or "", today=today)

    def _run_pack(self, job_id: int, product: Product, params: dict[str, Any]) -> None:
        today = dt.date.fromisoformat(params["today"])
        policy = self._policy(job_id, today)
        # agency, contact and date come from the policy alone (older jobs stored the agency's name beside the client's)
        request = api.client_request(**{k: v for k, v in params["request"].items() if k not in ISSUED_BY_POLICY})
        self._update(job_id, total=1)
        out = storage.staging_dir(self.site.storage, f"job-{job_id}")
        try:
            pack = api.build_pack(self.site, product, request, out=out, today=today, timeout=self.timeout, converter=self.converter,
                                  policy=policy, schedule=self._schedule())
            record_id = self._record(job_id, product, request, pack)
        finally:
            storage.remove(self.site.storage, f"tmp/job-{job_id}")
        self._update(job_id, state="done", done=1, result={"packs": [record_id], "errors": []})

    def _run_list(self, job_id: int, product: Product, params: dict[str, Any]) -> None:
        with self.sessions() as db:
            upload = db.get(Upload, params["upload_id"])
            if upload is None:
                raise DocgenError("the uploaded list is gone")  # shown as the portal's generic sentence
            path, name = self.site.storage / upload.storage_key, upload.filename
            first_errors = list(upload.errors)
        today = dt.date.fromisoformat(params["today"])
        policy = self._policy(job_id, today)
        schedule = self._schedule()  # once per list: each row's revision is then a lookup
        checked = check_list(product, path, policy, name, schedule, today)
        self._update(job_id, total=len(checked.requests))
        out = storage.staging_dir(self.site.storage, f"job-{job_id}")
        try:
            summary = api.build_packs(self.site, product, checked.requests, out=out, today=today, jobs=self.build_jobs,
                                      progress=self._progress(job_id), timeout=self.timeout, converter=self.converter, policy=policy,
                                      schedule=schedule)
            by_addressee = {r.addressee: r for r in checked.requests}
            records = [self._record(job_id, product, request_of(p, by_addressee), p) for p in (*summary.built, *summary.skipped)]
            failed = [row_error(e.row, e.column, e.value, e.reason, e.error) for e in summary.errors]
            errors = first_errors + failed
            self._write_list_files(job_id, records, errors)
        finally:
            storage.remove(self.site.storage, f"tmp/job-{job_id}")
        self._update(job_id, state="done", done=len(checked.requests), result={"packs": records, "errors": errors})

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
        with self.sessions() as db:
            job = db.get(Job, job_id)
            agent = db.get(User, job.user_id) if job else None
            if job is None or agent is None:
                raise DocgenError("the job or its agent was deleted while it ran")
            prov = provenance(pack)
            number = approval(prov)
            record = PackRecord(
                agency_id=job.agency_id, agent_id=agent.id, job_id=job.id, client=request.client, contact=request.contact,
                industry=request.industry, revenue=request.revenue, limit=request.limit, product=product.key,
                content_version=prov.get("/DocgenContentVersion") or product.meta.content_version,
                content_hash=prov.get("/DocgenContentHash") or product.digest(), approval_number=number,
                draft=number is None or prov.get("/DocgenDraft") == "true", quote_number=pack.quote_number,
                premium=int(pack.premium), pdf_sha256=storage.sha256(pack.pdf), clauses=clauses(prov), created_at=utcnow(),
            )
            # the client on file: the one picked on the form, else the agency's record with this name and contact person
            picked = (job.params or {}).get("client_id")
            found = db.get(Client, picked) if picked else find_client(db, job.agency_id, request.client, request.contact)
            record.client_id = found.id if found is not None and found.agency_id == job.agency_id else None
            db.add(record)
            db.flush()
            key = storage.archive_pack(self.site.storage, record.id, pack.pdf, pack.docx)
            record.storage_key = key
            audit(db, agent, "pack.built", f"pack {record.id}", {"client": request.client, "quote_number": pack.quote_number,
                                                                 "content_hash": record.content_hash, "draft": record.draft, "job": job.id})
            try:
                db.commit()
            except BaseException:
                storage.remove(self.site.storage, key)
                raise
            return record.id


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
