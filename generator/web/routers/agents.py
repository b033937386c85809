"""Agents' pages: quote with the premium ladder, build a pack (background job), client lists, history and downloads.

Every object is looked up through ``visible`` (and the session's tenancy filter): another agency's id answers 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from generator import api
from generator.content.revisions import Revision, Schedule
from generator.errors import DocgenError, InputError, QuoteRefused, ReferralRequired
from generator.i18n import N_
from generator.jpformat import MAX_YEN_TEXT, format_yen_units, parse_date, parse_yen
from generator.jptext import fold
from generator.store.accounts import User
from generator.store.audit import record as audit
from generator.store.base import utcnow
from generator.store.clients import Client
from generator.store.ledger import PUBLIC_ID, SEPARATOR, Job, PackRecord, Upload
from generator.web import packview, security, storage
from generator.web.deps import CurrentUser, ScopedDb, require_role, visible, visible_one
from generator.web.messages import describe, t
from generator.web.pages import StoredFile, render
from generator.web.routers.clients import agency_clients
from generator.web.uploads import MAX_BYTES, check_list, policy_for, safe_suffix
from generator.web.waiting import Changes, changed

router = APIRouter(tags=["agents"])
JST = ZoneInfo("Asia/Tokyo")
Builder = Annotated[User, Depends(require_role("agent", "admin"))]  # builds packs for its own agency
Viewer = Annotated[User, Depends(require_role("agent", "compliance", "admin"))]  # reads client data (scoped)
FIELDS = ("client", "contact", "industry", "revenue", "limit")
# what each form field may hold, as the page labels it: checked before anything parses the value
LIMITS = {"client": ("お客様名（会社名）", 200), "contact": ("ご担当者", 200), "industry": ("業種", 100),
          "revenue": ("売上高", MAX_YEN_TEXT), "limit": ("賠償保険金額", MAX_YEN_TEXT), "start": ("保険始期日", 40)}
FIRST_DAY = dt.date(2000, 1, 1)  # history search: no pack is older; later than LAST_DAY is no date anyone means
LAST_DAY = dt.date(2099, 12, 31)
# a waiting page asks for its progress once and the server holds the request until the job changes (HOLD seconds at
# most), then the page asks again at once: an agent learns of a finished pack the moment it is in the ledger. Polled
# every half second, an agent learnt of it 0.25 s late on average, for 3-4 requests a pack. RETRY: the page asks again
# by itself only when a held request came to nothing (the server restarting): never while one is held.
HOLD, RETRY = 5.0, 10.0


def too_long(values: dict[str, str]) -> dict[str, str]:
    """Per field, the sentence shown beside it when it holds more than its limit (in characters).

    >>> too_long({"client": "あ" * 10_000, "revenue": "4.5億"})
    {'client': 'お客様名（会社名）は 200 文字までです（10,000 文字入力されています）'}
    """
    return {name: f"{LIMITS[name][0]}は {LIMITS[name][1]:,} 文字までです（{len(value):,} 文字入力されています）"
            for name, value in values.items() if name in LIMITS and len(value) > LIMITS[name][1]}


def _today() -> dt.date:
    return dt.datetime.now(JST).date()  # the date printed on the letter is the agent's (Japan's) date


@router.get("/")
def home(user: CurrentUser) -> Response:
    return RedirectResponse("/marketing" if user.role == "marketing" else "/quote", status_code=303)


# --- quote -------------------------------------------------------------------------------------


def _revision(request: Request, start: str, renewal: bool) -> tuple[Revision, dict[str, Any]]:
    """The revision in force on the 保険始期日 typed (none: today's); InputError naming 保険始期日 when none prices it."""
    sched: Schedule = request.app.state.products.schedule()
    day = parse_date(start.strip(), field="保険始期日") if start.strip() else None
    rev = api.revision_for(sched, day, renewal=renewal, today=_today())
    last = sched.last_day(rev, renewal)
    return rev, {"name": rev.name, "effective": rev.starts(renewal), "last_day": last, "start": day, "renewal": renewal,
                 "approval": rev.product.meta.approval_number, "several": not sched.single}


def ladder(request: Request, industry: str, revenue: str, limit: str, start: str = "", renewal: bool = False) -> dict[str, Any]:
    """The premium for every published limit, or the sentence the CLI prints when there is none."""
    view: dict[str, Any] = {"rows": [], "message": "", "quote": None, "industry": industry, "revenue": revenue, "limit": limit, "client": None,
                  "start": start, "renewal": renewal, "revision": None}
    long = too_long({"industry": industry, "revenue": revenue, "limit": limit, "start": start})
    if long:
        view["message"] = " ".join(long.values())
        return view
    try:
        rev, view["revision"] = _revision(request, start, renewal)
    except InputError as exc:
        view["message"] = describe(exc)
        return view
    product = rev.product
    if not industry.strip() or not revenue.strip():
        return view
    try:
        revenue_yen = parse_yen(revenue, field="revenue")
        limit_yen = parse_yen(limit, field="limit") if limit.strip() else None
        q = api.quote(product, industry, revenue_yen, limit_yen or product.rates.limits[0])
        view["rows"] = [{"limit": li, "premium": pr, "selected": li == limit_yen} for li, pr in q.ladder]
        view["quote"] = q if limit_yen else None
    except (InputError, QuoteRefused, ReferralRequired) as exc:
        view["message"] = describe(exc)
        if isinstance(exc, ReferralRequired) and exc.field == "limit":  # the table still prices the published limits
            try:
                q = api.quote(product, industry, parse_yen(revenue, field="revenue"), product.rates.limits[0])
                view["rows"] = [{"limit": li, "premium": pr, "selected": False} for li, pr in q.ladder]
            except DocgenError:
                pass  # the first reason is the one shown
    return view


@router.get("/quote")
def quote_page(request: Request, db: ScopedDb, user: Viewer, industry: str = "", revenue: str = "", limit: str = "",
               client_id: str = "", start: str = "", renewal: bool = False) -> Response:
    picked = _picked(db, user, client_id) if user.role in ("agent", "admin") else None
    if picked is not None and not industry.strip() and not revenue.strip():  # a client just picked: quote its figures
        industry, revenue = picked.industry, format_yen_units(picked.revenue) if picked.revenue else ""
    view = ladder(request, industry, revenue, limit, start, renewal)
    view["client"] = picked
    product = request.app.state.products()
    industries = [name for c in product.rates.classes for name in c.industries]
    clients = agency_clients(db, user) if user.role in ("agent", "admin") else []
    return render(request, "quote.html", 200 if not view["message"] else 400, view=view, industries=industries,
                  limits=product.rates.limits, clients=clients)


@router.get("/quote/ladder")
def quote_ladder(request: Request, db: ScopedDb, user: Viewer, industry: str = "", revenue: str = "", limit: str = "",
                 client_id: str = "", start: str = "", renewal: bool = False) -> Response:
    view = ladder(request, industry, revenue, limit, start, renewal)
    view["client"] = _picked(db, user, client_id) if user.role in ("agent", "admin") else None
    return render(request, "_ladder.html", view=view)


# --- one pack ----------------------------------------------------------------------------------


def _picked(db: Session, user: User, client_id: str) -> Client | None:
    """The client picked on a form: one of the user's own agency's (404 otherwise), or None when none was picked."""
    if not client_id.strip():
        return None
    if not PUBLIC_ID.fullmatch(client_id.strip()):
        raise HTTPException(404)
    found = db.scalar(select(Client).where(Client.public_id == client_id.strip(), Client.agency_id == user.agency_id))
    if found is None:
        raise HTTPException(404)
    return found


@router.get("/packs/new")
def pack_form(request: Request, db: ScopedDb, user: Builder, industry: str = "", revenue: str = "", limit: str = "",
              client_id: str = "", start: str = "", renewal: bool = False) -> Response:
    picked = _picked(db, user, client_id)
    values = {"client": "", "contact": "", "industry": industry, "revenue": revenue, "limit": limit, "client_id": "", "start": start,
              "renewal": renewal}
    if picked is not None:  # prefilled from the record; what the quote link carried wins over the record's figures
        values.update(client=picked.name, contact=picked.contact, client_id=picked.public_id, industry=industry or picked.industry,
                      revenue=revenue or (format_yen_units(picked.revenue) if picked.revenue else ""))
    return render(request, "pack_new.html", values=values, clients=agency_clients(db, user))


# The body-size limit (app.MAX_BODY) bounds what reaches here; the per-field limits are checked below, so that a long
# value keeps the form, the values typed and the limit beside the field (not a bare error page).
@router.post("/packs")
def pack_create(request: Request, db: ScopedDb, user: Builder, client: Annotated[str, Form()] = "",
                contact: Annotated[str, Form()] = "", industry: Annotated[str, Form()] = "",
                revenue: Annotated[str, Form()] = "", limit: Annotated[str, Form()] = "",
                client_id: Annotated[str, Form(max_length=40)] = "", start: Annotated[str, Form()] = "",
                renewal: Annotated[str, Form(max_length=10)] = "") -> Response:
    picked = _picked(db, user, client_id)
    values = {"client": client, "contact": contact, "industry": industry, "revenue": revenue, "limit": limit, "start": start}
    shown = {**values, "client_id": client_id, "renewal": bool(renewal)}
    errors = too_long(values)
    if errors:
        # above the form, each long field as every other input error is worded (the catalog's sentence, the value cut)
        said = " ".join(describe(InputError(name, values[name], N_("is {length} characters long; at most {limit} fit the documents"),
                                            params={"length": len(values[name]), "limit": LIMITS[name][1]})) for name in errors)
        return render(request, "pack_new.html", 400, values=shown, errors=errors, message=said,
                      clients=agency_clients(db, user))
    today = _today()
    raw = {**values, "renewal": "更新" if renewal else ""}
    try:
        request_, refused = policy_for(user, today).apply(api.client_request(**raw))
        if request_ is None:
            raise refused[0].as_error()
        rev, _ = _revision(request, start, bool(renewal))  # a 保険始期日 no revision prices: no job, the dates there are
        api.quote_request(rev.product, request_)  # 要見積 / 引受不可: no job, the reason on the form
    except DocgenError as exc:
        field = getattr(exc, "field", "")
        said = describe(exc)
        return render(request, "pack_new.html", 400, values=shown, errors={field: said} if field in values else {},
                      message=said, clients=agency_clients(db, user))
    params = {"request": raw, "today": today.isoformat(), **({"client_id": picked.id} if picked else {})}
    job = Job(kind="pack", state="queued", agency_id=user.agency_id, user_id=user.id, params=params, total=1, result={})
    db.add(job)
    db.commit()
    request.app.state.worker.submit(job.id)
    return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)


@router.get("/packs/{pack_id}")
def pack_page(request: Request, pack_id: str, db: ScopedDb, user: Viewer) -> Response:
    return packview.pack_page(request, db, visible_one(db, PackRecord, pack_id, user))


@router.post("/packs/{pack_id}/sent")
def pack_sent(request: Request, pack_id: str, db: ScopedDb, user: Builder) -> Response:
    """The agent records that this pack went to the client; never a draft (no valid approval: not for clients)."""
    record = visible_one(db, PackRecord, pack_id, user)
    if record.draft or not record.approval_number:
        raise HTTPException(400, N_("This pack is an unapproved draft: it can never be sent to a client."))
    audit(db, user, "pack.sent", f"pack {record.id}", {"client": record.client, "quote_number": record.quote_number,
                                                       "approval": record.approval_number})
    db.commit()
    return RedirectResponse(f"/packs/{record.public_id}", status_code=303)


def _pack_file(request: Request, record: PackRecord, name: str) -> Path:
    path: Path = request.app.state.site.storage / record.storage_key / name
    if not record.storage_key or not path.is_file():
        raise HTTPException(404)
    return path


@router.get("/packs/{pack_id}/pdf")
def pack_pdf(request: Request, pack_id: str, db: ScopedDb, user: Viewer, download: bool = False) -> Response:
    record = visible_one(db, PackRecord, pack_id, user)
    path = _pack_file(request, record, storage.PACK_PDF)
    if download:
        audit(db, user, "pack.downloaded", f"pack {record.id}", {"client": record.client, "quote_number": record.quote_number, "file": "pdf"})
        db.commit()
    return StoredFile(path, media_type="application/pdf",
                        filename=f"{record.quote_number}_ご提案書.pdf", content_disposition_type="attachment" if download else "inline",
                        headers={"Content-Security-Policy": security.CSP_FRAMEABLE, "X-Frame-Options": "SAMEORIGIN"})


@router.get("/packs/{pack_id}/zip")
def pack_zip(request: Request, pack_id: str, db: ScopedDb, user: Viewer) -> Response:
    record = visible_one(db, PackRecord, pack_id, user)
    path = _pack_file(request, record, storage.PACK_ZIP)
    audit(db, user, "pack.downloaded", f"pack {record.id}", {"client": record.client, "quote_number": record.quote_number, "file": "zip"})
    db.commit()
    return StoredFile(path, media_type="application/zip", filename=f"{record.quote_number}_ご提案書.zip")


# --- jobs --------------------------------------------------------------------------------------


def _job_packs(db: Session, job: Job, user: User) -> list[PackRecord]:
    stmt = visible(select(PackRecord).where(PackRecord.job_id == job.id).order_by(PackRecord.id), PackRecord, user)
    return list(db.scalars(stmt))


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, db: ScopedDb, user: Viewer) -> Response:
    job = visible_one(db, Job, job_id, user)
    packs = _job_packs(db, job, user) if job.state == "done" else []
    if job.kind == "pack" and job.state == "done" and packs:
        return RedirectResponse(f"/packs/{packs[0].public_id}", status_code=303)
    return render(request, "job.html", packs=packs, errors=(job.result or {}).get("errors", []), **progress(job))


def shown(job: Job) -> str:
    """What a progress fragment shows of a job, as its next request says it saw it (``seen``): state and packs done."""
    return f"{job.state}.{job.done}"


def progress(job: Job) -> dict[str, Any]:
    """What _progress.html needs, on the job page and in the fragment alike: the job, what it shows, the retry (ms)."""
    return {"job": job, "seen": shown(job), "retry": round(RETRY * 1000)}


@router.get("/jobs/{job_id}/progress")
async def job_progress(request: Request, job_id: str, db: ScopedDb, user: Viewer, seen: str = "") -> Response:
    """The progress fragment; asked with ``seen`` (what the page shows), held until the job differs from it, at most
    HOLD seconds (generator.web.waiting). The queries run in the threadpool; the request holds neither a thread nor a
    pooled connection while it waits."""
    changes: Changes = request.app.state.worker.changes
    with changes.watch(job_id) as change:  # before the job is read: a change committed after the read still wakes it
        job = await run_in_threadpool(visible_one, db, Job, job_id, user)
        if job.state in ("queued", "running") and seen == shown(job):
            await run_in_threadpool(db.close)  # the job stays as read; the connection goes back to the pool
            if await changed(change, HOLD):
                job = await run_in_threadpool(visible_one, db, Job, job_id, user)
    headers = {"HX-Redirect": f"/jobs/{job.public_id}"} if job.state in ("done", "failed") else None
    return render(request, "_progress.html", headers=headers, **progress(job))


def _job_file(request: Request, job: Job, name: str) -> Path:
    path: Path = request.app.state.site.storage / f"jobs/{job.id}" / name
    if job.kind != "list" or job.state != "done" or not path.is_file():
        raise HTTPException(404)
    return path


@router.get("/jobs/{job_id}/zip")
def job_zip(request: Request, job_id: str, db: ScopedDb, user: Viewer) -> Response:
    job = visible_one(db, Job, job_id, user)
    return StoredFile(_job_file(request, job, "packs.zip"), media_type="application/zip", filename=f"packs_{job.public_id[:12]}.zip")


@router.get("/jobs/{job_id}/errors.csv")
def job_errors(request: Request, job_id: str, db: ScopedDb, user: Viewer) -> Response:
    job = visible_one(db, Job, job_id, user)
    return StoredFile(_job_file(request, job, "errors.csv"), media_type="text/csv; charset=utf-8", filename=f"errors_{job.public_id[:12]}.csv")


# --- client lists ------------------------------------------------------------------------------


@router.get("/uploads/new")
def upload_form(request: Request, user: Builder) -> Response:
    return render(request, "upload_new.html")


@router.post("/uploads")
def upload_create(request: Request, db: ScopedDb, user: Builder, file: UploadFile) -> Response:
    # a plain def (threadpool): the list check and the queries below block, the event loop must not
    # the file as the agent named it, for messages (a long name shortened); never used as a path
    full = Path(file.filename or "").name
    name = full if len(full) <= 100 else f"{full[:60]}…{full[-20:]}"
    try:
        suffix = safe_suffix(full, shown=name)
        data = file.file.read(MAX_BYTES + 1)  # already spooled by the form parser
        if len(data) > MAX_BYTES:
            raise InputError("file", name, N_("is larger than {limit} MB"), params={"limit": MAX_BYTES // (1024 * 1024)})
        if not data:
            raise InputError("file", name, N_("is empty"))
    except InputError as exc:
        return render(request, "upload_new.html", 400, message=describe(exc))
    upload = Upload(agency_id=user.agency_id, user_id=user.id, filename=name, suffix=suffix,
                    sha256=hashlib.sha256(data).hexdigest(), storage_key="", rows=0, errors=[], created_at=utcnow())
    db.add(upload)
    db.flush()
    upload.storage_key = f"uploads/{upload.id}{suffix}"
    path = storage.write_bytes(request.app.state.site.storage, upload.storage_key, data)
    try:
        checked = check_list(request.app.state.products(), path, policy_for(user, _today()), name, request.app.state.products.schedule(), _today())
    except DocgenError as exc:  # not a readable list at all (format, missing columns): nothing kept
        db.rollback()
        path.unlink(missing_ok=True)
        return render(request, "upload_new.html", 400, message=describe(exc, filename=name))
    upload.rows, upload.errors = len(checked.requests), checked.bad
    db.commit()
    return RedirectResponse(f"/uploads/{upload.public_id}", status_code=303)


@router.get("/uploads/{upload_id}")
def upload_page(request: Request, upload_id: str, db: ScopedDb, user: Viewer) -> Response:
    upload = visible_one(db, Upload, upload_id, user)
    return render(request, "upload.html", upload=upload)


@router.get("/uploads/{upload_id}/errors.csv")
def upload_errors(request: Request, upload_id: str, db: ScopedDb, user: Viewer) -> Response:
    from generator.web.jobs import errors_csv

    upload = visible_one(db, Upload, upload_id, user)
    return Response(errors_csv(upload.errors), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="errors_upload_{upload.public_id[:12]}.csv"'})


@router.post("/uploads/{upload_id}/build")
def upload_build(request: Request, upload_id: str, db: ScopedDb, user: Builder) -> Response:
    upload = visible_one(db, Upload, upload_id, user)
    if upload.rows == 0:
        return render(request, "upload.html", 400, upload=upload, message=t(N_("No row of this list can be built.")))
    job = Job(kind="list", state="queued", agency_id=upload.agency_id, user_id=user.id, upload_id=upload.id,
              params={"upload_id": upload.id, "today": _today().isoformat()}, total=upload.rows, result={})
    db.add(job)
    db.commit()
    request.app.state.worker.submit(job.id)
    return RedirectResponse(f"/jobs/{job.public_id}", status_code=303)


# --- history -----------------------------------------------------------------------------------


@router.get("/history")
def history(request: Request, db: ScopedDb, user: Viewer, q: str = "", date: str = "") -> Response:
    stmt = visible(select(PackRecord), PackRecord, user)
    message = ""
    # the folded key (jptext.fold: NFKC, no spaces, 異体字) stored with each pack: 高崎 finds 髙﨑 on any database,
    # and the query stays an indexed-table LIKE scoped to the agency rather than every row read into Python
    # LIKE's wildcards and PostgreSQL's default escape character are dropped: the words are matched as typed
    words = fold(q[:200]).replace("%", "").replace("_", "").replace("\\", "").replace(SEPARATOR, "")
    if words:
        stmt = stmt.where(PackRecord.search_key.like(f"%{words}%"))
    if date.strip():
        try:
            day = dt.date.fromisoformat(date.strip()[:10])
        except ValueError:
            day = None
        if day is None or not FIRST_DAY <= day <= LAST_DAY:
            reason = N_("not a date") if day is None else N_("outside the dates that can be searched")
            message = describe(InputError("created_on", date, reason, allowed=N_("a date from {first} to {last}, written YYYY-MM-DD"),
                                          params={"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}))
        else:
            start = dt.datetime.combine(day, dt.time(), JST)
            stmt = stmt.where(PackRecord.created_at >= start, PackRecord.created_at < start + dt.timedelta(days=1))
    packs = list(db.scalars(stmt.order_by(PackRecord.created_at.desc(), PackRecord.id.desc()).limit(500)))
    # jobs still running or that failed, so that an agent who left the progress page finds them again
    open_jobs = visible(select(Job).where(Job.state.in_(("queued", "running", "failed"))), Job, user)
    jobs = list(db.scalars(open_jobs.order_by(Job.id.desc()).limit(20)))
    return render(request, "history.html", 400 if message else 200, packs=packs, jobs=jobs, q=q, date=date, message=message, JST=JST)
