"""Delivery's area (agents): the client's consent to electronic delivery, sending, retrying, and each delivery's downloads.

Only an issued pack (approved, not a draft) of the agent's own agency: everything is checked here, whatever the page showed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from generator.compliance import delivery as dl
from generator.errors import DocgenError
from generator.store.accounts import User
from generator.store.delivery import DELIVERY_STATES, Consent, Delivery
from generator.store.ledger import PackRecord
from generator.web.deps import ScopedDb, own_row, require_role
from generator.web.deps import own_one as own
from generator.web.deps import visible_one as one
from generator.web.messages import describe
from generator.web.packview import pack_page
from generator.web.pages import JST, render

router = APIRouter(tags=["delivery"])
Builder = Annotated[User, Depends(require_role("agent", "admin"))]
Viewer = Annotated[User, Depends(require_role("agent", "compliance", "admin"))]
Short = Annotated[str, Form(max_length=400)]
Text = Annotated[str, Form(max_length=5000)]


def _letter(request: Request, user: User) -> dl.Letter:
    product = request.app.state.products()
    return dl.Letter(product_name=product.meta.name, agency=user.agency.name, agent_name=user.name, agent_email=user.email)


@router.post("/packs/{pack_id}/consent")
def consent_record(request: Request, pack_id: str, db: ScopedDb, user: Builder, consented_by: Short = "", consented_at: Short = "",
                   method: Short = "", note: Text = "") -> Response:
    pack = own(db, PackRecord, pack_id, user)
    try:
        dl.record_consent(db, user, pack, consented_by=consented_by, consented_at=consented_at, method=method, note=note)
    except DocgenError as exc:
        db.rollback()
        form = {"consented_by": consented_by, "consented_at": consented_at, "method": method, "note": note}
        return pack_page(request, db, pack, 400, describe(exc), consent_form=form)
    db.commit()
    return RedirectResponse(f"/packs/{pack.public_id}#delivery", status_code=303)


@router.post("/packs/{pack_id}/deliveries")
def delivery_send(request: Request, pack_id: str, db: ScopedDb, user: Builder, recipient_email: Short = "",
                  recipient_name: Short = "") -> Response:
    """Send the pack's link by e-mail (a plain def: the SMTP conversation blocks a threadpool thread, not the event loop)."""
    pack = own(db, PackRecord, pack_id, user)
    try:
        sent = dl.send_pack(db, request.app.state.delivery, request.app.state.site.storage, user, pack, recipient_email=recipient_email,
                            recipient_name=recipient_name, base_url=str(request.base_url), letter=_letter(request, user))
    except DocgenError as exc:
        db.rollback()
        form = {"recipient_email": recipient_email, "recipient_name": recipient_name}
        return pack_page(request, db, pack, 400, describe(exc), send_form=form)
    return RedirectResponse(f"/deliveries/{sent.public_id}", status_code=303)


@router.post("/deliveries/{delivery_id}/retry")
def delivery_retry(request: Request, delivery_id: str, db: ScopedDb, user: Builder) -> Response:
    """Send again to the same recipient: a new link to the same archived bytes (the old token exists only in its mail)."""
    earlier = own(db, Delivery, delivery_id, user)
    pack = own_row(db, PackRecord, earlier.pack_id, user)
    try:
        sent = dl.send_pack(db, request.app.state.delivery, request.app.state.site.storage, user, pack,
                            recipient_email=earlier.recipient_email, recipient_name=earlier.recipient_name, base_url=str(request.base_url),
                            letter=_letter(request, user), retry_of=earlier)
    except DocgenError as exc:
        db.rollback()
        return pack_page(request, db, pack, 400, describe(exc))
    return RedirectResponse(f"/deliveries/{sent.public_id}", status_code=303)


@router.get("/deliveries/{delivery_id}")
def delivery_page(request: Request, delivery_id: str, db: ScopedDb, user: Viewer) -> Response:
    delivery = one(db, Delivery, delivery_id, user)
    pack = db.get_one(PackRecord, delivery.pack_id)  # visible with its delivery (same agency; the foreign key keeps it)
    consent = db.get(Consent, delivery.consent_id)
    retry_of = db.get(Delivery, delivery.retry_of_id) if delivery.retry_of_id else None
    return render(request, "delivery.html", delivery=delivery, pack=pack, consent=consent, retry_of=retry_of,
                  downloads=dl.downloads_of(db, delivery.id), DELIVERY_STATES=DELIVERY_STATES, JST=JST,
                  acts=user.role in ("agent", "admin") and user.agency_id == pack.agency_id)
