"""Logging in and out: Argon2-checked password, throttled attempts, a new server-side session per login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from generator.i18n import N_
from generator.store.accounts import WebSession
from generator.store.audit import record
from generator.web import security
from generator.web.deps import Db, current_session, optional_session
from generator.web.messages import t
from generator.web.pages import render

router = APIRouter(tags=["auth"])


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host.

    >>> _safe_next("/history"), _safe_next("//evil.example/x"), _safe_next("https://evil.example"), _safe_next(None)
    ('/history', '/', '/', '/')
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, found: Annotated[WebSession | None, Depends(optional_session)], next: str = "/") -> Response:
    # logged in already: say who, offer logout and the way home (a second login form would fail its CSRF check)
    return render(request, "login.html", next=_safe_next(next), email="", signed_in=found.user if found else None)


@router.post("/login")
def login(request: Request, db: Db, email: Annotated[str, Form(max_length=254)] = "", password: Annotated[str, Form(max_length=1024)] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    email = email.strip().lower()
    ip = request.client.host if request.client else "?"
    if security.throttled(db, email, ip):
        security.record_attempt(db, email, ip, False)
        db.commit()
        return render(request, "login.html", 429, next=_safe_next(next), email=email, signed_in=None,
                      message=t(N_("Too many failed logins: please wait about 15 minutes and try again.")))
    user = security.authenticate(db, email, password)
    security.record_attempt(db, email, ip, user is not None)
    if user is None:
        db.commit()
        return render(request, "login.html", 401, next=_safe_next(next), email=email, signed_in=None,
                      message=t(N_("Wrong e-mail address or password.")))
    security.close_session(db, request.cookies.get(security.COOKIE))  # a new id on every login: no session fixation
    token = security.open_session(db, user)
    record(db, user, "login", user.email, {"ip": ip})
    db.commit()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(security.COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.state.secure, max_age=int(security.SESSION_TTL.total_seconds()))
    return response


@router.post("/logout")
def logout(request: Request, db: Db, session: Annotated[WebSession, Depends(current_session)]) -> Response:
    security.close_session(db, request.cookies.get(security.COOKIE))
    db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(security.COOKIE, path="/", secure=request.state.secure, httponly=True, samesite="lax")
    return response
