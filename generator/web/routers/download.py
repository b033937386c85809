"""The client's download page: no login, one pack, until the link expires; every download is recorded.

The token in the URL is the only key (256 random bits; the database keeps its SHA-256). An unknown or altered token
answers 404, an expired one 410, both with a Japanese page saying so and nothing about the pack.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from generator.compliance import delivery as dl
from generator.errors import DeliveryError, LinkError
from generator.store.accounts import Agency
from generator.web.deps import Db
from generator.web.pages import JST, StoredFile, render

router = APIRouter(prefix="/d", tags=["download"])
# the token must not travel further than this page: no referrer, no search engine, no cache
PRIVATE = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}


def _refused(request: Request, exc: LinkError | DeliveryError) -> Response:
    status = exc.status_code if isinstance(exc, LinkError) else 503
    title = {404: "リンクが無効です", 410: "リンクの有効期限切れ"}.get(status, "ダウンロードできません")
    return render(request, "download_error.html", status, headers=PRIVATE, title=title, reason=str(exc))


@router.get("/{token}")
def download_page(request: Request, token: str, db: Db) -> Response:
    try:
        delivery, pack = dl.open_link(db, token)
    except LinkError as exc:
        return _refused(request, exc)
    agency = db.get(Agency, pack.agency_id)
    return render(request, "download.html", headers=PRIVATE, delivery=delivery, pack=pack, agency=agency.name if agency else "",
                  expires=delivery.expires_at.astimezone(JST), token=token, product=request.app.state.products().meta.name)


@router.get("/{token}/pdf")
def download_pdf(request: Request, token: str, db: Db) -> Response:
    """The archived bytes (checked against the ledger's SHA-256), recorded as a download before they are sent."""
    try:
        delivery, pack = dl.open_link(db, token)
        path = dl.archived_pdf(request.app.state.site.storage, pack)
    except (LinkError, DeliveryError) as exc:
        return _refused(request, exc)
    dl.record_download(db, delivery, pack, ip=request.client.host if request.client else "", user_agent=request.headers.get("user-agent", ""))
    db.commit()
    return StoredFile(path, media_type="application/pdf", filename=f"{pack.quote_number}_ご提案書.pdf", headers=PRIVATE)


@router.get("/{rest:path}")
def mangled_link(request: Request, rest: str) -> Response:
    """Anything else under /d/ is a link cut or changed on its way (a mail client wrapping it, a stray slash)."""
    return _refused(request, LinkError(dl.INVALID_LINK, 404))
