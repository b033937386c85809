"""Dependencies every router uses: the database session, the logged-in user, roles, agency scoping and CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from generator.i18n import N_
from generator.store import tenancy
from generator.store.accounts import AgencyScoped, User, WebSession
from generator.store.ledger import PUBLIC_ID
from generator.web import security


class LoginRequired(Exception):
    """Raised when a page needs a logged-in user and the request has no live session (answered with the login page)."""


class CsrfFailed(Exception):
    """Raised when a form or htmx request lacks this session's CSRF token (answered 403)."""


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request, closed afterwards; routers commit what they change.

    Every dependency and the route of a request get this same session (FastAPI caches a dependency per request),
    so a request holds at most one pooled connection. DB-touching dependencies and routes are plain ``def``: they
    run in the threadpool, never blocking the event loop on a query or on a pool checkout. Opening a session touches
    no database (its connection is checked out by the first query), so it happens here on the event loop; closing it
    returns the connection to the pool, in a worker thread: one hop per request instead of two (each ~80 µs of CPU).
    As FastAPI closes its own generator dependencies: shielded from the request's cancellation (a client that hangs up
    must not leak the connection) and outside the threadpool's capacity, so a full threadpool whose requests wait for a
    pooled connection cannot keep the connections from coming back (with the shared capacity the service bench's load
    test deadlocked on "QueuePool limit ... reached").
    """
    db = request.app.state.sessions()
    try:
        yield db
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(db.close, limiter=anyio.CapacityLimiter(1))


Db = Annotated[Session, Depends(get_db)]


def optional_session(request: Request, db: Db) -> WebSession | None:
    """The live web session behind the cookie, if any (also kept on ``request.state`` for the templates)."""
    found = security.find_session(db, request.cookies.get(security.COOKIE))
    request.state.web_session = found
    request.state.user = found.user if found else None
    return found


# The dependencies below read only what optional_session loaded (the session and its user, joined): ``async def``, they
# run on the event loop; as plain ``def`` each was a hop to the threadpool and back, several per request, every poll
async def current_session(found: Annotated[WebSession | None, Depends(optional_session)]) -> WebSession:
    if found is None:
        raise LoginRequired()
    return found


async def current_user(found: Annotated[WebSession, Depends(current_session)]) -> User:
    return found.user


CurrentUser = Annotated[User, Depends(current_user)]


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


async def read_form(request: Request) -> FormData:
    """The parsed form (Starlette caches it, so routes still read their fields); async because parsing awaits the body.

    It touches no database: only this part of a request's dependencies runs on the event loop.
    """
    return await request.form()


FormFields = Annotated[FormData, Depends(read_form)]


async def csrf_given(request: Request) -> str | None:
    """The token an unsafe request carries: header ``X-CSRF-Token``, else the hidden form field ``csrf_token``."""
    if request.method in SAFE_METHODS:
        return None
    given = request.headers.get(security.CSRF_HEADER)
    if not given:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await read_form(request)).get(security.CSRF_FIELD)
            given = value if isinstance(value, str) else None
    return given


async def check_csrf(request: Request, db: Db, given: Annotated[str | None, Depends(csrf_given)]) -> None:
    """Unsafe methods need the token: hidden form field ``csrf_token`` or header ``X-CSRF-Token``.

    Before login the token is the pre-session cookie's (double submit); after login, the session's secret.
    A safe method returns at once, on the event loop (every poll and page view: no hop to the threadpool). The session
    lookup of an unsafe one runs in the threadpool: on the event loop it blocked while waiting for a pooled connection,
    and the requests holding the connections could not finish (the service bench's load test stalled on "QueuePool
    limit ... reached").
    """
    if request.method in SAFE_METHODS:
        return
    if not await run_in_threadpool(_csrf_ok, request, db, given):
        raise CsrfFailed()


def _csrf_ok(request: Request, db: Session, given: str | None) -> bool:
    found = security.find_session(db, request.cookies.get(security.COOKIE))  # the request's one session (dependency cache)
    ok = security.csrf_ok(found, given) if found else False
    # the login form carries the pre-session token; one opened before this browser logged in (another tab) still works
    if not ok and (found is None or request.url.path == "/login"):
        ok = security.presession_ok(request.cookies.get(security.PRESESSION_COOKIE), given)
    return ok


def require_role(*roles: str) -> Callable[..., Awaitable[User]]:
    """A dependency letting only these roles through (403 for the others; login first for nobody)."""

    async def dependency(user: CurrentUser) -> User:  # no database: on the event loop
        if user.role not in roles:
            raise HTTPException(403, N_("Your role may not open this page."))
        return user

    return dependency


async def scoped_db(db: Db, user: CurrentUser) -> Session:  # marks the session, no query: on the event loop
    """The request's session limited to the user's agency (compliance and admin: every agency)."""
    return tenancy.scope(db, None if user.sees_all_agencies else user.agency_id)


ScopedDb = Annotated[Session, Depends(scoped_db)]


Row = TypeVar("Row", bound=AgencyScoped)  # a table of client data (each has public_id and id besides the mixin's agency_id)
Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])


def visible(stmt: Query, model: type[AgencyScoped], user: User) -> Query:
    """``stmt`` limited to the rows of ``model`` the user may see (the explicit twin of the tenancy filter)."""
    if user.role == "marketing":
        return stmt.where(false())  # marketing sees no client data at all
    if user.sees_all_agencies:
        return stmt
    return stmt.where(model.agency_id == user.agency_id)


def visible_one(db: Session, model: type[Row], public_id: str, user: User) -> Row:
    """The row of ``model`` a URL names by its public id, if the user may see it; 404 for anything else (an old
    integer id, another agency's row, a string that is no id at all)."""
    if not PUBLIC_ID.fullmatch(public_id):
        raise HTTPException(404)
    # attr-defined: public_id is declared by each scoped table, not by the AgencyScoped mixin. Select[Any]: mypy cannot
    # solve SQLAlchemy's variadic Select for a type variable; the isinstance below gives the row its type back.
    stmt: Select[Any] = select(model).where(model.public_id == public_id)  # type: ignore[attr-defined]
    found = db.scalar(visible(stmt, model, user))
    if not isinstance(found, model):
        raise HTTPException(404)
    return found


def own_one(db: Session, model: type[Row], public_id: str, user: User) -> Row:
    """The row if it belongs to the user's own agency: 404 when hidden, 403 when only readable (compliance, admin)."""
    return _own(visible_one(db, model, public_id, user), user)


def own_row(db: Session, model: type[Row], row_id: int, user: User) -> Row:
    """Like ``own_one`` for a row another row points at (its primary key, never from a URL)."""
    stmt: Select[Any] = select(model).where(model.id == row_id)  # type: ignore[attr-defined]  # id: as public_id above
    found = db.scalar(visible(stmt, model, user))
    if not isinstance(found, model):
        raise HTTPException(404)
    return _own(found, user)


def _own(found: Row, user: User) -> Row:
    if found.agency_id != user.agency_id:
        raise HTTPException(403, "他の代理店のお客さま・提案書を変更する権限はありません (only the agency's own staff act on its clients)")
    return found
