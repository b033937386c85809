"""The admin's area: agencies and users — create, deactivate, reactivate, change role, issue a one-time password link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from generator.errors import AccountError
from generator.store.accounts import ROLES, Agency, PasswordReset, User
from generator.store.audit import AuditEntry
from generator.store.base import utcnow
from generator.web import accounts
from generator.web.deps import Db, require_role
from generator.web.pages import render
from generator.web.settings import PortalSettings

router = APIRouter(prefix="/admin", tags=["admin"])
Admin = Annotated[User, Depends(require_role("admin"))]
HISTORY = 50  # audit entries shown on a user's page


def _settings(request: Request) -> PortalSettings:
    chosen: PortalSettings = request.app.state.settings
    return chosen


def _users_page(request: Request, db: Session, status: int = 200, message: str = "", form: dict[str, Any] | None = None) -> Response:
    users = list(db.scalars(select(User).join(Agency).order_by(Agency.name, User.email)))
    agencies = list(db.scalars(select(Agency).order_by(Agency.name)))
    return render(request, "admin_users.html", status, users=users, agencies=agencies, roles=ROLES, message=message,
                  form=form or {"email": "", "name": "", "role": "agent", "agency_id": ""})


def _link_page(request: Request, user: User, token: str, *, created: bool) -> Response:
    link = str(request.base_url).rstrip("/") + "/password/reset?token=" + token
    hours = int(_settings(request).reset_ttl.total_seconds() // 3600)
    return render(request, "admin_link.html", target=user, link=link, token=token, hours=hours, created=created)


def _target(db: Session, user_id: int) -> User:
    found = db.get(User, user_id)
    if found is None:
        raise HTTPException(404)
    return found


@router.get("")
def users_page(request: Request, db: Db, admin: Admin) -> Response:
    return _users_page(request, db)


@router.post("/users")
def create_user(request: Request, db: Db, admin: Admin, email: Annotated[str, Form(max_length=254)] = "",
                name: Annotated[str, Form(max_length=200)] = "", role: Annotated[str, Form(max_length=20)] = "",
                agency_id: Annotated[str, Form(max_length=12)] = "") -> Response:
    form = {"email": email, "name": name, "role": role, "agency_id": agency_id}
    try:
        if not agency_id.isdigit():
            raise AccountError("代理店", "一覧にある代理店を選んでください")
        user, token = accounts.create_user(db, admin, email=email, name=name, role=role, agency_id=int(agency_id),
                                           ttl=_settings(request).reset_ttl)
    except AccountError as exc:
        return _users_page(request, db, 400, str(exc), form)
    db.commit()
    return _link_page(request, user, token, created=True)


def _user_page(request: Request, db: Session, target: User, status: int = 200, message: str = "", done: str = "") -> Response:
    entries = list(db.scalars(select(AuditEntry).where(AuditEntry.target == target.email).order_by(AuditEntry.seq.desc()).limit(HISTORY)))
    open_links = db.scalar(select(func.count()).select_from(PasswordReset).where(
        PasswordReset.user_id == target.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > utcnow())) or 0
    return render(request, "admin_user.html", status, target=target, roles=ROLES, entries=entries, open_links=open_links,
                  message=message, done=done)


DONE = {"role": "権限を変更しました。", "deactivated": "無効にしました。ログイン中のセッションはすべて終了しました。",
        "reactivated": "有効にしました。パスワードが分からない場合はリンクを発行してください。"}


@router.get("/users/{user_id}")
def user_page(request: Request, db: Db, admin: Admin, user_id: int, done: str = "") -> Response:
    return _user_page(request, db, _target(db, user_id), done=DONE.get(done, ""))


def _apply(request: Request, db: Session, admin: User, target: User, change: Callable[[], object], done: str) -> Response:
    try:
        change()
    except AccountError as exc:
        # nothing was added before the refusal; the request's session ends uncommitted
        return _user_page(request, db, target, 400, str(exc))
    db.commit()
    if target.id == admin.id:  # an admin who stepped down (another admin remains) has no admin page to return to
        return RedirectResponse("/", status_code=303)
    return RedirectResponse(f"/admin/users/{target.id}?done={done}", status_code=303)


@router.post("/users/{user_id}/role")
def change_role(request: Request, db: Db, admin: Admin, user_id: int, role: Annotated[str, Form(max_length=20)] = "") -> Response:
    target = _target(db, user_id)
    return _apply(request, db, admin, target, lambda: accounts.change_role(db, admin, target, role), "role")


@router.post("/users/{user_id}/deactivate")
def deactivate(request: Request, db: Db, admin: Admin, user_id: int) -> Response:
    target = _target(db, user_id)
    return _apply(request, db, admin, target, lambda: accounts.set_active(db, admin, target, False), "deactivated")


@router.post("/users/{user_id}/reactivate")
def reactivate(request: Request, db: Db, admin: Admin, user_id: int) -> Response:
    target = _target(db, user_id)
    return _apply(request, db, admin, target, lambda: accounts.set_active(db, admin, target, True), "reactivated")


@router.post("/users/{user_id}/reset")
def issue_reset(request: Request, db: Db, admin: Admin, user_id: int) -> Response:
    target = _target(db, user_id)
    try:
        token = accounts.issue_reset(db, admin, target, _settings(request).reset_ttl)
    except AccountError as exc:
        return _user_page(request, db, target, 400, str(exc))
    db.commit()
    return _link_page(request, target, token, created=False)


def _agencies_page(request: Request, db: Session, status: int = 200, message: str = "", name: str = "") -> Response:
    counts = dict(db.execute(select(User.agency_id, func.count()).where(User.active.is_(True)).group_by(User.agency_id)).all())
    agencies = list(db.scalars(select(Agency).order_by(Agency.name)))
    return render(request, "admin_agencies.html", status, agencies=agencies, counts=counts, message=message, agency_name=name)


@router.get("/agencies")
def agencies_page(request: Request, db: Db, admin: Admin) -> Response:
    return _agencies_page(request, db)


@router.post("/agencies")
def create_agency(request: Request, db: Db, admin: Admin, name: Annotated[str, Form(max_length=400)] = "") -> Response:
    try:
        accounts.create_agency(db, admin, name)
    except AccountError as exc:
        return _agencies_page(request, db, 400, str(exc), name)
    db.commit()
    return RedirectResponse("/admin/agencies", status_code=303)
