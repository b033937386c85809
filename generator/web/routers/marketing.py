"""Marketing's area: the published brochure, and the brochure of the current content built, previewed and downloaded.

No client data. The current brochure carries the draft watermark until compliance approves this exact content.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from generator.compliance import approval as ap
from generator.compliance.in_force import is_draft
from generator.content.model import Product
from generator.i18n import N_
from generator.site import Site
from generator.store.accounts import User
from generator.store.audit import record
from generator.web import security
from generator.web.deps import Db, require_role
from generator.web.pages import StoredFile, render

router = APIRouter(prefix="/marketing", tags=["marketing"])
Marketer = Annotated[User, Depends(require_role("marketing", "admin"))]


def _brochure(request: Request) -> Path | None:
    site: Site = request.app.state.site
    folder = site.outputs / "brochure"
    return sorted(folder.glob("*.pdf"))[0] if folder.is_dir() and any(folder.glob("*.pdf")) else None


def _built(request: Request) -> tuple[Product, Any]:
    """The current content's brochure if it was built since the server started (keyed by content hash and approval)."""
    product: Product = request.app.state.products()
    built: dict[tuple[str, str], Any] = getattr(request.app.state, "current_brochures", {})
    return product, built.get((product.digest(), product.meta.approval_number))


@router.get("")
def marketing_home(request: Request, db: Db, user: Marketer) -> Response:
    pdf = _brochure(request)
    product, current = _built(request)
    state = ap.version_state(db, product.key, product.digest(), dt.date.today())
    return render(request, "marketing.html", brochure=pdf.name if pdf else "", product=product, state=state, current=current,
                  draft=is_draft(product))


@router.post("/build")
def build_current(request: Request, db: Db, user: Marketer) -> Response:
    """Build the brochure of the current content (LibreOffice, cached per content hash and approval number)."""
    from generator.batch.building import cached_brochure

    product = request.app.state.products()
    pdf = cached_brochure(product, request.app.state.site)
    if not hasattr(request.app.state, "current_brochures"):
        request.app.state.current_brochures = {}
    request.app.state.current_brochures[(product.digest(), product.meta.approval_number)] = pdf
    record(db, user, "brochure.built", f"{product.key}@{product.digest()}", {"draft": is_draft(product), "approval": product.meta.approval_number})
    db.commit()
    return RedirectResponse("/marketing#current", status_code=303)


@router.get("/current.pdf")
def current_pdf(request: Request, user: Marketer, download: bool = False) -> Response:
    product, pdf = _built(request)
    if pdf is None or not pdf.is_file():
        raise HTTPException(404, N_("The brochure of the current content has not been built yet: build it first."))
    name = f"{product.meta.slug}_brochure_{product.digest()}{'' if product.meta.approval_number else '_DRAFT'}.pdf"
    return StoredFile(pdf, media_type="application/pdf", filename=name, content_disposition_type="attachment" if download else "inline",
                        headers={"Content-Security-Policy": security.CSP_FRAMEABLE, "X-Frame-Options": "SAMEORIGIN"})


@router.get("/brochure.pdf")
def brochure_pdf(request: Request, user: Marketer) -> Response:
    pdf = _brochure(request)
    if pdf is None:
        raise HTTPException(404)
    return StoredFile(pdf, media_type="application/pdf", content_disposition_type="inline", filename=pdf.name)
