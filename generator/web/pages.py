"""Rendering pages: one Jinja2 environment with autoescape, the helpers templates use, the CSRF token of the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from generator.jpformat import format_date, format_yen, format_yen_units
from generator.store.accounts import WebSession
from generator.store.delivery import DELIVERY_STATES
from generator.web.messages import ROLE_LABELS, document_label, state_label, t

TEMPLATES = Path(__file__).with_name("templates")
JST = ZoneInfo("Asia/Tokyo")  # every time on a page is Japan's
STATE_LABELS = {"queued": "待機中", "running": "作成中", "done": "完了", "failed": "失敗"}

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",), default=True),  # every value is escaped; client names carry & and <
    undefined=StrictUndefined,  # a misspelt variable is an error in the tests, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["yen"] = format_yen
env.filters["yen_units"] = format_yen_units
env.filters["wareki"] = format_date  # 令和9年4月1日
env.globals["STATE_LABELS"] = STATE_LABELS
env.globals["ROLE_LABELS"] = ROLE_LABELS
env.filters["state_label"] = state_label  # a content version's approval state in Japanese
env.filters["document_label"] = document_label
env.filters["t"] = t  # a msgid from the code (an audit break's reason) in Japanese
env.globals["JST"] = JST
env.globals["DELIVERY_STATES"] = DELIVERY_STATES


_PATH = re.compile(r"(?<![^\s'\"(=])(?:/[^\s/'\"():,;]+){2,}/?")  # two or more /parts, not inside a word


def without_paths(message: str) -> str:
    """A failure's message as the agent may read it: every absolute server path reduced to its last part.

    >>> without_paths("LibreOffice failed on /tmp/docgen-x1/job-3/01_ご案内状.docx (exit 81)")
    'LibreOffice failed on 01_ご案内状.docx (exit 81)'
    >>> without_paths("client: 'A/B/C': ok; file '/work/app/storage/uploads/4.csv'")
    "client: 'A/B/C': ok; file '4.csv'"
    >>> without_paths("売上高: '4.5億/年': not a yen amount")
    "売上高: '4.5億/年': not a yen amount"
    """
    return _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], message)


def csrf_token(request: Request) -> str:
    """The token forms and htmx requests of this page must send back."""
    found: WebSession | None = getattr(request.state, "web_session", None)
    if found is not None:
        return found.csrf_secret
    presession: str = getattr(request.state, "presession", "")
    return presession


def render(request: Request, name: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """A template as an HTML response; every page gets the user, the CSRF token and the request path."""
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("message", "")
    context.setdefault("notice", "")  # a success, said plainly (a message is a refusal)
    html = env.get_template(name).render(request=request, csrf_token=csrf_token(request), path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


class StoredFile(FileResponse):
    """A stored file (a pack's PDF or zip, a brochure) read in 1 MiB chunks: Starlette reads 64 KiB at a time, each read a
    hop to the threadpool and a message down the middleware, ~20 for a 1 MB pack (a download cost the server ~1.5 ms
    more CPU than with a chunk this size)."""

    chunk_size = 2**20
