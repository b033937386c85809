"""Everyone's own password: change it (current password required), or set it through a one-time link from an admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from generator.errors import AccountError
from generator.store.accounts import WebSession
from generator.web import accounts, security
from generator.web.accounts import LINK_UNKNOWN
from generator.web.deps import Db, current_session, optional_session
from generator.web.pages import render

router = APIRouter(tags=["account"])
Live = Annotated[WebSession, Depends(current_session)]
# someone logged in may open a link too: their page carries their session's CSRF token, as check_csrf expects
Anyone = Annotated[WebSession | None, Depends(optional_session)]
Secret = Annotated[str, Form(max_length=accounts.MAX_PASSWORD + 1)]  # one over: "too long" is said by the check, not a 400


@router.get("/account/password")
def password_page(request: Request, session: Live, done: str = "") -> Response:
    return render(request, "account_password.html", done="パスワードを変更しました。" if done else "")


@router.post("/account/password")
def change_password(request: Request, db: Db, session: Live, current: Secret = "", password: Secret = "", confirm: Secret = "") -> Response:
    try:
        accounts.change_password(db, session.user, current, password, confirm, keep=session.token_hash)
    except AccountError as exc:
        return render(request, "account_password.html", 400, done="", message=str(exc))
    db.commit()
    return RedirectResponse("/account/password?done=1", status_code=303)


def _status(problem: str) -> int:
    return 404 if problem == LINK_UNKNOWN else 410  # unknown or altered: not found; used, expired, inactive: gone


@router.get("/password/reset")
def reset_page(request: Request, db: Db, _s: Anyone, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    if not token:  # someone with a code from the admin: the form to type it in
        return render(request, "password_reset.html", token="", email="", problem="")
    found, problem = accounts.find_reset(db, token)
    if found is None:
        return render(request, "password_reset.html", _status(problem), token="", email="", problem=problem)
    return render(request, "password_reset.html", token=token, email=found.user.email, problem="")


@router.post("/password/reset")
def reset(request: Request, db: Db, _s: Anyone, token: Annotated[str, Form(max_length=200)] = "", password: Secret = "",
          confirm: Secret = "") -> Response:
    try:
        user = accounts.use_reset(db, token, password, confirm)
    except AccountError as exc:
        found, problem = accounts.find_reset(db, token)
        if found is None:  # the link itself is refused: no form to fill again
            return render(request, "password_reset.html", _status(problem), token="", email="", problem=problem)
        return render(request, "password_reset.html", 400, token=token, email=found.user.email, problem="", message=str(exc))
    db.commit()
    # whoever was logged in in this browser is logged out: the next login is the link's user with the new password
    security.close_session(db, request.cookies.get(security.COOKIE))
    db.commit()
    request.state.web_session = request.state.user = None
    response = render(request, "password_reset_done.html", email=user.email)
    response.delete_cookie(security.COOKIE, path="/")
    return response
