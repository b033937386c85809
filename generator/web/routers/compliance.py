"""Compliance's area: content versions and their approval state, compare two versions, approve, impact, audit log.

Versions are the git history of the product's content folder plus the working tree; a compared version must be one
listed (a spec from the page, never a path a user typed). Approval applies to the working tree: it is what builds.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from generator import api
from generator.compliance import approval as ap
from generator.compliance.diff import ContentDiff, comparable, segments
from generator.compliance.impact import affected_packs, reissue
from generator.compliance.in_force import is_draft
from generator.compliance.versions import WORKING, Version, content_versions
from generator.content.disclosures import missing_items
from generator.content.model import Product
from generator.errors import ApprovalError, ContentError, DocgenError, InputError
from generator.i18n import N_
from generator.site import Site
from generator.store.accounts import User
from generator.store.audit import AuditEntry, verify
from generator.store.ledger import Job
from generator.web.deps import Db, FormFields, require_role
from generator.web.messages import cell_change, describe, missing_item
from generator.web.pages import render

router = APIRouter(prefix="/compliance", tags=["compliance"])
log = logging.getLogger("docgen.web.compliance")
Officer = Annotated[User, Depends(require_role("compliance", "admin"))]
Submitter = Annotated[User, Depends(require_role("marketing", "compliance", "admin"))]
AUDIT_PAGE = 200


def _product(request: Request) -> Product:
    product: Product = request.app.state.products()
    return product


def _versions(request: Request) -> list[Version]:
    """The versions the page lists: only those that can be compared (see diff.comparable)."""
    return _listed(request)[0]


def _listed(request: Request) -> tuple[list[Version], int]:
    product = _product(request)
    site = request.app.state.site
    return comparable(site, product.key, content_versions(site.content, product.key))


def _spec(request: Request, versions: list[Version], spec: str) -> str:
    """The diff spec of a listed version (a commit id, or the content folder for the working tree); 400 otherwise."""
    if spec not in {v.spec for v in versions}:
        raise HTTPException(400, (N_("Version “{version}” is not one of the listed content versions. Choose one on the versions page."),
                                  {"version": spec[:40]}))
    return str(request.app.state.site.content) if spec == WORKING else spec


def refused(request: Request, exc: DocgenError) -> HTTPException:
    """A refused decision as the error page shows it: the rule in Japanese and, for missing disclosures, each item."""
    message = describe(exc)
    if isinstance(exc, ApprovalError) and exc.lines:
        message += "\n" + "\n".join("・" + missing_item(m) for m in missing_items(_product(request)))
    return HTTPException(400, message)


def refresh_products(request: Request) -> None:
    """After an approval: the app's and the worker's loaded product pick up the new approval number."""
    for cache in (request.app.state.products, getattr(request.app.state.worker, "product", None)):
        invalidate = getattr(cache, "invalidate", None)
        if invalidate:
            invalidate()


@router.get("")
def versions_page(request: Request, db: Db, user: Officer) -> Response:
    product = _product(request)
    today = dt.date.today()
    versions, hidden = _listed(request)
    rows = [{"v": v, "state": ap.version_state(db, product.key, v.digest, today)} for v in versions]
    current = rows[0]["state"]
    return render(request, "compliance.html", product=product, rows=rows, hidden=hidden, current=current,
                  missing=[missing_item(m) for m in missing_items(product)],
                  today=today.isoformat(), default_number=ap.next_number(db, product, product.meta.effective_date),
                  revisions=_revision_rows(request, db, today))


def _revision_rows(request: Request, db: Session, today: dt.date) -> list[dict[str, Any]]:
    """Each revision with its dates and the approval state of its content hash on the day it is used."""
    sched = request.app.state.products.schedule()
    in_force = api.revision_for(sched, today=today)
    rows = []
    for rev in sched.revisions:
        when = "適用中" if rev is in_force else ("適用予定" if rev.effective > today else "適用終了")
        rows.append({"name": rev.name, "effective": rev.effective, "last_day": sched.last_day(rev), "renewal_effective": rev.renewal_effective,
                     "renewal_last_day": sched.last_day(rev, True), "digest": rev.product.digest(), "when": when,
                     "rates_version": rev.product.rates.rates_version, "folder": rev.product.revision_path or "（製品フォルダ）",
                     "state": ap.version_state(db, rev.product.key, rev.product.digest(), max(today, rev.effective))})
    return rows


@router.post("/submit")
def submit(request: Request, db: Db, user: Submitter, revision: Annotated[str, Form(max_length=100)] = "working tree") -> Response:
    product = _product(request)
    try:  # the same snapshot, redline and audit entry as `docgen submit`
        api.submit(request.app.state.site, db, product, user, revision=revision or "working tree")
    except DocgenError as exc:
        raise refused(request, exc) from None
    return RedirectResponse("/compliance" if user.role != "marketing" else "/marketing", status_code=303)


def _date(value: str, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, describe(InputError(field, value, N_("not a date"), allowed="2026-12-01"))) from None


# A refused decision raises before anything is added; the request's session ends uncommitted (no rollback here: it would
# expire the web session the error page reads its CSRF token from).
@router.post("/approve")
def approve(request: Request, db: Db, user: Officer, number: Annotated[str, Form(max_length=100)] = "",
            valid_from: Annotated[str, Form(max_length=10)] = "", valid_until: Annotated[str, Form(max_length=10)] = "",
            note: Annotated[str, Form(max_length=1000)] = "") -> Response:
    product = _product(request)
    try:
        a = api.approve(db, product, user, number=number or None, valid_from=_date(valid_from, "valid_from"),
                        valid_until=_date(valid_until, "valid_until"), note=note)
    except DocgenError as exc:
        raise refused(request, exc) from None
    refresh_products(request)
    return RedirectResponse(f"/compliance?approved={a.approval_number}", status_code=303)


@router.post("/reject")
def reject(request: Request, db: Db, user: Officer, reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    product = _product(request)
    try:
        api.reject(db, product, user, reason)
    except DocgenError as exc:
        raise refused(request, exc) from None
    return RedirectResponse("/compliance", status_code=303)


def _pair(request: Request, old: str, new: str) -> tuple[ContentDiff, list[Version]]:
    versions = _versions(request)
    site: Site = request.app.state.site
    product = _product(request)
    try:
        return api.diff(site, _spec(request, versions, old), _spec(request, versions, new), product.key), versions
    except ContentError:  # an old version written to earlier rules: say so, never list its files and YAML paths
        raise HTTPException(400, N_("One of the two versions cannot be read by this docgen (its content does not follow today's rules), "
                                    "so they cannot be compared.")) from None
    except DocgenError:  # its messages name temporary folders: never shown; listed versions load (diff.comparable)
        log.exception("comparing %s with %s failed", old, new)
        raise HTTPException(400, "この2つの版は比較できませんでした。バージョン一覧から選び直してください") from None


@router.get("/compare")
def compare(request: Request, db: Db, user: Officer, old: Annotated[str, Query(max_length=64)], new: Annotated[str, Query(max_length=64)]) -> Response:
    d, versions = _pair(request, old, new)
    label = {v.spec: v.label for v in versions}
    d.old_label, d.new_label = label[old], label[new]
    changes = [{"id": c.id, "kind": c.kind, "label": c.present.label, "path": c.path, "used_by": c.used_by,
                "segments": segments(c.old.text if c.old else "", c.new.text if c.new else "")} for c in d.clauses]
    affected = affected_packs(db, d)
    current = _product(request)
    can_reissue = bool(affected) and not is_draft(current) and current.digest() == d.new.digest()
    return render(request, "compliance_compare.html", d=d, old=old, new=new, changes=changes, cells=[cell_change(c) for c in d.cells],
                  cell_labels={c.key: c.present.label for c in d.cells}, affected=affected, can_reissue=can_reissue,
                  current=current)


@router.get("/compare.docx")
def compare_docx(request: Request, user: Officer, old: Annotated[str, Query(max_length=64)], new: Annotated[str, Query(max_length=64)]) -> Response:
    d, _ = _pair(request, old, new)
    d.old_label, d.new_label = old[:10], new[:10]  # commit ids or "working": the redline's file name
    with tempfile.TemporaryDirectory(prefix="docgen-redline-") as tmp:
        _, redline = api.diff_report(request.app.state.site, d, out=Path(tmp), author=user.email)
        data, name = redline.read_bytes(), redline.name
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@router.post("/reissue")
def reissue_packs(request: Request, db: Db, user: Officer, form: FormFields) -> Response:
    # a plain def (threadpool) with the form parsed by an async dependency: the queries never block the event loop
    try:
        ids = sorted({int(v) for v in form.getlist("record") if isinstance(v, str) and len(v) <= 18})  # < 2**63: a database id
    except ValueError:
        raise HTTPException(400, N_("Packs to re-issue: not a pack number.")) from None
    if not ids:
        raise HTTPException(400, N_("Packs to re-issue: choose at least one pack."))
    if is_draft(_product(request)):
        raise HTTPException(400, N_("The current content has no valid approval: approve it before re-issuing packs."))
    done = reissue(db, ids, user, dt.date.today())
    db.commit()
    for job_id in done.jobs:
        request.app.state.worker.submit(job_id)
    jobs = list(db.scalars(select(Job.public_id).where(Job.id.in_(done.jobs)).order_by(Job.id))) if done.jobs else []
    return render(request, "compliance_reissued.html", jobs=jobs)


@router.get("/audit")
def audit(request: Request, db: Db, user: Officer, actor: Annotated[str, Query(max_length=254)] = "",
          action: Annotated[str, Query(max_length=40)] = "", target: Annotated[str, Query(max_length=255)] = "",
          since: Annotated[str, Query(max_length=10)] = "") -> Response:
    q = select(AuditEntry)
    if actor:
        q = q.where(AuditEntry.actor.contains(actor))
    if action:
        q = q.where(AuditEntry.action == action)
    if target:
        q = q.where(AuditEntry.target.contains(target))
    start = _date(since, "since")
    if start:
        q = q.where(AuditEntry.at >= dt.datetime.combine(start, dt.time(), dt.UTC))
    entries = list(db.scalars(q.order_by(AuditEntry.seq.desc()).limit(AUDIT_PAGE)))
    breaks = verify(db)
    actions = sorted(set(db.scalars(select(AuditEntry.action).distinct())))
    return render(request, "compliance_audit.html", entries=entries, breaks=breaks, actions=actions,
                  filters={"actor": actor, "action": action, "target": target, "since": since})


__all__ = ["router", "refresh_products"]
