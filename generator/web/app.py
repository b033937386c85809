"""The portal app: ``create_app(site, database_url)`` wires the store, the job worker, the routers and the safety nets."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as urlquote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from generator import api
from generator.compliance.delivery import DeliverySettings
from generator.content.model import Product
from generator.content.revisions import Schedule
from generator.errors import DocgenError
from generator.i18n import N_
from generator.store import db as store
from generator.store.db import prepare_database  # in the store: `docgen users add` migrates without loading FastAPI
from generator.web import security
from generator.web.deps import CsrfFailed, LoginRequired, check_csrf
from generator.web.jobs import Worker
from generator.web.messages import describe, detail_text, label, status_text, status_title, t
from generator.web.pages import render
from generator.web.settings import portal_settings

if TYPE_CHECKING:  # the lanes module loads the pack pipeline: the portal imports it when `docgen serve` starts lanes
    from generator.batch.lanes import WarmLanes

log = logging.getLogger("docgen.web")
_SECRET_IN_PATH = re.compile(r"^(/d/)[^/?#]+|([?&]token=)[^&#]+")


def hide_secrets(path: str) -> str:
    """A request path as the access log may show it: a client's download link and a password link are secrets.

    >>> hide_secrets("/d/3q2-Zx_9abc?x=1"), hide_secrets("/password/reset?token=abc&y=2"), hide_secrets("/packs/1f2e")
    ('/d/…?x=1', '/password/reset?token=…&y=2', '/packs/1f2e')
    """
    return _SECRET_IN_PATH.sub(lambda m: (m.group(1) or m.group(2)) + "…", path)


class _HideSecrets(logging.Filter):
    """uvicorn's access log line names the request path (its third argument): logged without the link tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], hide_secrets(args[2]), *args[3:])
        return True


HIDE_SECRETS = _HideSecrets()
STATIC = Path(__file__).with_name("static")
MAX_BODY = 8 * 2**20  # a client list is at most 5 MB (generator.web.uploads.MAX_BYTES) plus the form around it


class SafetyHeaders:
    """Every response's security headers, the pre-session CSRF cookie, and a body over the limit refused before it is read.

    A plain ASGI middleware: as ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware) each request also ran
    through a task group and memory streams, about a third of what a progress poll cost the server.
    """

    def __init__(self, app: ASGIApp, *, https_mode: str, hsts_max_age: int, verify_body: int) -> None:
        self.app, self.https_mode, self.verify_body = app, https_mode, verify_body
        fixed = {**security.HEADERS, "Content-Security-Policy": security.CSP, "X-Frame-Options": "DENY"}
        self.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in fixed.items()]
        self.hsts = [(b"strict-transport-security", f"max-age={hsts_max_age}".encode("latin-1"))] if hsts_max_age else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        presession = request.cookies.get(security.PRESESSION_COOKIE)
        request.state.presession = presession or security.new_token()
        request.state.web_session = None
        request.state.user = None
        # the scheme is https when the client spoke TLS to us, or a trusted proxy said so (uvicorn's proxy headers)
        secure = request.state.secure = security.is_https(scope.get("scheme", "http"), self.https_mode)
        added = self.headers + self.hsts if secure else self.headers
        cookie = b""
        if not presession:
            carrier = Response()
            carrier.set_cookie(security.PRESESSION_COOKIE, request.state.presession, httponly=True, samesite="lax", path="/", secure=secure)
            cookie = carrier.headers["set-cookie"].encode("latin-1")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in added if name not in present]  # a route's own (a PDF's CSP) wins
                if cookie:
                    headers.append((b"set-cookie", cookie))
                message = {**message, "headers": headers}
            await send(message)

        length = request.headers.get("content-length", "")
        bound = self.verify_body if scope["path"] == "/verify" else MAX_BODY
        if length.isdigit() and (len(length) > 12 or int(length) > bound):  # refused before anything is parsed or spooled to disk
            await error_page(request, 413, status_text(413, {"limit": bound // 2**20}))(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)


class ProductCache:
    """The product's revisions, reloaded when a content or template file changes (agents quote the current tables);
    calling it gives the revision in force today."""

    def __init__(self, site: api.Site, *, lint: bool, sessions: api.Sessions | None = None):
        self.site, self.lint = site, lint
        self.sessions = sessions  # the portal's database: where the approvals in force are read (else the site's)
        self.approvals = api.Approvals()  # decided with each reload (api.approvals), printed by the pages and the jobs
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._product: Product | None = None
        self._schedule: Schedule | None = None

    def _fingerprint(self) -> tuple[object, ...]:
        stamps = []
        for root in (self.site.content, self.site.templates):
            for folder, _dirs, files in os.walk(root):
                stamps += [(folder, f, os.stat(os.path.join(folder, f)).st_mtime_ns) for f in files]
        return tuple(sorted(stamps))

    def invalidate(self) -> None:
        """Forget the loaded product: an approval changed what it prints (the files did not change)."""
        with self._lock:
            self._key = None

    def schedule(self) -> Schedule:
        """Every revision, each printing the approval it has on the day it is used (today, or its effective date)."""
        return self.decided()[0]

    def decided(self) -> tuple[Schedule, api.Approvals]:
        """The schedule and the approvals in force, from the same reload: a job plans and builds with both."""
        today = dt.date.today()
        key = (self._fingerprint(), today)  # an approval's validity starts or ends with the day
        with self._lock:
            if self._schedule is None or key != self._key:
                sched = api.schedule(self.site, lint=self.lint, today=today, sessions=self.sessions)
                self.approvals = api.approvals(self.site, sched, today=today, sessions=self.sessions)
                sched = self.approvals.schedule(sched)  # the face's decision, once per reload: what its pages show and its jobs print
                self._schedule, self._product, self._key = sched, api.revision_for(sched, today=today).product, key
            return self._schedule, self.approvals

    def __call__(self) -> Product:
        self.schedule()
        assert self._product is not None
        return self._product


def create_app(site: api.Site | None = None, database_url: str | None = None, *, threads: int = 2, build_jobs: int = 1,
               timeout: float | None = None, recover: bool = True, converter: api.Converter | None = None,
               delivery: DeliverySettings | None = None, coalesce: int | None = None, warm_lanes: WarmLanes | None = None) -> FastAPI:
    """The portal for ``site`` on ``database_url`` (default: ``DOCGEN_DATABASE_URL`` or SQLite under storage).

    ``converter``: the warm LibreOffice pool the jobs share (``docgen serve`` starts one; its caller closes it).
    ``coalesce``: packs at most in one run when agents' packs queue up (generator.web.jobs.COALESCE; 1: one pack a run).
    ``warm_lanes``: worker processes that lay out and merge the coalesced runs (generator.batch.lanes; its caller closes them).
    ``delivery``: the SMTP relay and link settings (default: ``DOCGEN_SMTP_URL`` and friends, read now; a bad one stops here).
    """
    from generator.web.routers import account, admin, agents, auth, clients, compliance, download, editor, marketing, verify
    from generator.web.routers import delivery as delivery_router

    delivery = delivery or DeliverySettings.from_env()

    settings = portal_settings()  # a bad DOCGEN_RESET_HOURS / DOCGEN_VERIFY_MAX_MB stops the start, naming it
    https_mode, hsts_max_age = security.https_settings()  # DOCGEN_HTTPS, DOCGEN_HSTS_MAX_AGE: likewise, before the database
    site = site or api.Site.from_env()
    url = database_url or store.database_url(site)
    eng = prepare_database(url, audit_checkpoint=store.checkpoint_for(site.storage))
    sessions = store.session_factory(eng)
    # documents print the approval in force in this database
    products = ProductCache(site, lint=False, sessions=sessions)  # quotes and list checks read no template (as `docgen quote`)
    worker = Worker(site, sessions, ProductCache(site, lint=True, sessions=sessions), threads=threads, build_jobs=build_jobs, timeout=timeout,
                    converter=converter, warm_lanes=warm_lanes, **({} if coalesce is None else {"coalesce": coalesce}))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.getLogger("uvicorn.access").addFilter(HIDE_SECRETS)  # uvicorn has configured its loggers by now
        if recover:
            resumed = worker.recover()
            if resumed:
                log.warning("resumed %d job(s) left by the previous server: %s", len(resumed), resumed)
        yield
        worker.shutdown()
        eng.dispose()

    app = FastAPI(title="docgen portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.site, app.state.engine, app.state.sessions = site, eng, sessions
    app.state.products, app.state.worker = products, worker
    app.state.settings = settings
    app.state.delivery = delivery
    verify_body = settings.verify_max_bytes + 2**20  # the PDF plus the form around it
    app.state.https_mode = https_mode

    app.add_middleware(SafetyHeaders, https_mode=https_mode, hsts_max_age=hsts_max_age, verify_body=verify_body)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = "/login?next=" + urlquote(request.url.path)
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return error_page(request, 403, t(N_("The form has expired. Please open the page again and resend it.")))

    # Starlette's HTTPException: routing's own 404 and 405 too (a URL no route matches, e.g. a mangled link), not only
    # the routers' (FastAPI's is a subclass)
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        await run_in_threadpool(know_user, request)  # routing's 404/405 ran no dependency: the page still shows who is in
        # a bare HTTPException(404) and routing's own carry the English phrase ("Not Found"): the page says its own sentence
        said = "" if exc.detail == _phrase(exc.status_code) else detail_text(exc.detail)
        return error_page(request, exc.status_code, said or status_text(exc.status_code), headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        await run_in_threadpool(know_user, request)
        errors = exc.errors()
        if any(e.get("loc", ("",))[0] == "path" for e in errors):  # /packs/abc: no such page, like any unknown address
            return error_page(request, 404, status_text(404))
        return error_page(request, 400, "\n".join(dict.fromkeys(validation_text(e) for e in errors)) or status_text(400))

    @app.exception_handler(DocgenError)
    async def docgen_error(request: Request, exc: DocgenError) -> Response:
        return error_page(request, 400 if exc.exit_code in (1, 2, 3, 4) else 503, describe(exc))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)  # the traceback goes to the log, never to the page
        # the request's database session failed or is closed by now: its objects can no longer be read for the page
        request.state.web_session = request.state.user = None
        return error_page(request, 500, status_text(500))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    csrf = [Depends(check_csrf)]
    app.include_router(auth.router, dependencies=csrf)
    app.include_router(agents.router, dependencies=csrf)
    app.include_router(marketing.router, dependencies=csrf)
    app.include_router(editor.router, dependencies=csrf)
    app.include_router(compliance.router, dependencies=csrf)
    app.include_router(verify.router, dependencies=csrf)
    app.include_router(admin.router, dependencies=csrf)
    app.include_router(account.router, dependencies=csrf)
    app.include_router(clients.router, dependencies=csrf)
    app.include_router(delivery_router.router, dependencies=csrf)
    app.include_router(download.router)  # the client's link: GET only, no session, no form
    return app


def know_user(request: Request) -> None:
    """The logged-in user for an error page raised before any dependency looked (its menu, logout and CSRF token)."""
    if getattr(request.state, "user", None) is not None or not request.cookies.get(security.COOKIE):
        return
    with request.app.state.sessions() as db:
        found = security.find_session(db, request.cookies.get(security.COOKIE))
        if found is not None:
            _ = found.user.agency.name  # loaded while the session is open: the page reads it after
            request.state.web_session, request.state.user = found, found.user


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def wants_json(request: Request) -> bool:
    """A program asking for JSON (Accept names JSON and not HTML); browsers and htmx get HTML.

    >>> from starlette.requests import Request as R
    >>> wants_json(R({"type": "http", "headers": [(b"accept", b"application/json")]}))
    True
    >>> wants_json(R({"type": "http", "headers": [(b"accept", b"text/html,application/json;q=0.9")]}))
    False
    """
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The portal's error page in Japanese with ``status``; to htmx the message alone (swapped where the request's
    result would go), to a JSON client ``{"status", "detail"}``. Never English, a field path or a traceback."""
    if wants_json(request):
        return JSONResponse({"status": status, "detail": message}, status_code=status, headers=headers)
    if request.headers.get("hx-request"):
        html = f'<p class="message" role="alert" id="message">{escape(message)}</p>'
        return HTMLResponse(html, status_code=status, headers=headers)
    return render(request, "error.html", status, headers=headers, title=str(status), heading=status_title(status), detail=message)


VALIDATION_TEXT = {
    "string_too_long": N_("at most {max_length:,} characters"),
    "string_too_short": N_("at least {min_length:,} characters"),
    "missing": N_("required"),
    "int_parsing": N_("not a whole number"),
    "int_from_float": N_("not a whole number"),
    "bool_parsing": N_("not yes or no"),
    "greater_than_equal": N_("at least {ge}"),
    "less_than_equal": N_("at most {le}"),
}


def validation_text(error: Mapping[str, Any]) -> str:
    """One of FastAPI's validation errors in Japanese: the field as the pages label it, what is allowed.

    >>> validation_text({"type": "string_too_long", "loc": ("body", "client"), "ctx": {"max_length": 400}})
    'お客様名（会社名）：400文字以内で入力してください'
    """
    where = [str(p) for p in error.get("loc", ())[1:] if not isinstance(p, int)]
    field = label(where[-1]) if where else t(N_("the request"))
    said = VALIDATION_TEXT.get(str(error.get("type")))
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, (int, str))}
    try:
        reason = t(said, ctx) if said else t(N_("not accepted"))
    except (KeyError, ValueError):  # a context without the number the sentence names
        reason = t(N_("not accepted"))
    return t(N_("{field}: {reason}"), {"field": field, "reason": reason})


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, included routers flattened (the access tests walk this list)."""
    found: list[tuple[str, str]] = []

    def walk(routes: Iterable[BaseRoute]) -> None:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):  # FastAPI >= 0.16x keeps included routers as one node
                for ctx in route.effective_route_contexts():
                    methods = getattr(ctx.original_route, "methods", None) or ()
                    found.extend((m, ctx.path) for m in sorted(methods) if m != "HEAD")
            elif own := getattr(route, "methods", None):
                found.extend((m, str(getattr(route, "path", ""))) for m in sorted(own) if m != "HEAD")

    walk(app.routes)
    return sorted(set(found), key=lambda mp: (mp[1], mp[0]))
