"""Marketing's area: the published brochure (no client data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from generator.store.accounts import User
from generator.web.deps import require_role
from generator.web.pages import render

router = APIRouter(prefix="/marketing", tags=["marketing"])
Marketer = Annotated[User, Depends(require_role("marketing", "admin"))]


def _brochure(request: Request):  # type: ignore[no-untyped-def]
    site = request.app.state.site
    folder = site.outputs / "brochure"
    return sorted(folder.glob("*.pdf"))[0] if folder.is_dir() and any(folder.glob("*.pdf")) else None


@router.get("")
def marketing_home(request: Request, user: Marketer) -> Response:
    pdf = _brochure(request)
    return render(request, "marketing.html", brochure=pdf.name if pdf else "")


@router.get("/brochure.pdf")
def brochure_pdf(request: Request, user: Marketer) -> Response:
    pdf = _brochure(request)
    if pdf is None:
        raise HTTPException(404)
    return FileResponse(pdf, media_type="application/pdf", content_disposition_type="inline", filename=pdf.name)
