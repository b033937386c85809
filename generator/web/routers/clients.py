"""Clients' area: an agency's client records (by hand, from a quote, a pack or a list), their history, and 意向把握 per pack.

Reading follows ``visible`` (compliance and admin read every agency's); changing needs the object's own agency.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from generator import api
from generator.compliance import clients as cl
from generator.errors import DocgenError
from generator.jpformat import format_yen_units, parse_yen
from generator.store.accounts import User
from generator.store.clients import CLIENT_SOURCES, Client
from generator.store.ledger import PackRecord, Upload
from generator.web.deps import ScopedDb, require_role, visible
from generator.web.deps import own_one as own
from generator.web.deps import visible_one as one
from generator.web.messages import describe
from generator.web.packview import pack_page
from generator.web.pages import JST, render
from generator.web.uploads import check_list, policy_for

router = APIRouter(tags=["clients"])
Builder = Annotated[User, Depends(require_role("agent", "admin"))]
Viewer = Annotated[User, Depends(require_role("agent", "compliance", "admin"))]
Text = Annotated[str, Form(max_length=5000)]
Short = Annotated[str, Form(max_length=400)]


def industries(request: Request) -> list[str]:
    product = request.app.state.products()
    return [name for c in product.rates.classes for name in c.industries]


def agency_clients(db: Session, user: User, limit: int = 500) -> list[Client]:
    """The user's own agency's clients, for the pickers on the quote and pack forms."""
    return list(db.scalars(select(Client).where(Client.agency_id == user.agency_id).order_by(Client.name, Client.contact).limit(limit)))


def _form_values(name: str, contact: str, industry: str, revenue: str, email: str, postal_address: str) -> dict[str, str]:
    return {"name": name, "contact": contact, "industry": industry, "revenue": revenue, "email": email, "postal_address": postal_address}


@router.get("/clients")
def client_list(request: Request, db: ScopedDb, user: Viewer, q: str = "") -> Response:
    stmt = visible(select(Client), Client, user)
    if q.strip():
        like = f"%{q.strip().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Client.name.like(like), Client.contact.like(like), Client.email.like(like)))
    found = list(db.scalars(stmt.order_by(Client.name, Client.contact).limit(500)))
    return render(request, "clients.html", clients=found, q=q, SOURCES=CLIENT_SOURCES)


@router.get("/clients/new")
def client_form(request: Request, user: Builder, name: str = "", contact: str = "", industry: str = "", revenue: str = "",
                source: str = "manual") -> Response:
    values = _form_values(name, contact, industry, revenue, "", "")
    return render(request, "client_new.html", values=values, industries=industries(request),
                  source=source if source in ("manual", "quote") else "manual")


@router.post("/clients")
def client_create(request: Request, db: ScopedDb, user: Builder, name: Short = "", contact: Short = "", industry: Short = "",
                  revenue: Short = "", email: Short = "", postal_address: Text = "", source: Short = "manual") -> Response:
    values = _form_values(name, contact, industry, revenue, email, postal_address)
    try:
        checked = cl.check_client(industries(request), **values)
    except DocgenError as exc:
        return render(request, "client_new.html", 400, values=values, industries=industries(request), message=describe(exc),
                      source=source if source in ("manual", "quote") else "manual")
    client = cl.create_client(db, user, checked, source if source in ("manual", "quote") else "manual")
    db.commit()
    return RedirectResponse(f"/clients/{client.public_id}", status_code=303)


def _client_page(request: Request, db: Session, client: Client, status: int = 200, message: str = "", values: dict[str, Any] | None = None) -> Response:
    product = request.app.state.products()
    revenue = format_yen_units(client.revenue) if client.revenue else ""
    shown = values or _form_values(client.name, client.contact, client.industry, revenue, client.email, client.postal_address)
    return render(request, "client.html", status, client=client, history=cl.history(db, client), values=shown, message=message,
                  industries=industries(request), limits=product.rates.limits, SOURCES=CLIENT_SOURCES, JST=JST)


@router.get("/clients/{client_id}")
def client_page(request: Request, client_id: str, db: ScopedDb, user: Viewer) -> Response:
    return _client_page(request, db, one(db, Client, client_id, user))


@router.post("/clients/{client_id}")
def client_update(request: Request, client_id: str, db: ScopedDb, user: Builder, name: Short = "", contact: Short = "", industry: Short = "",
                  revenue: Short = "", email: Short = "", postal_address: Text = "") -> Response:
    client = own(db, Client, client_id, user)
    values = _form_values(name, contact, industry, revenue, email, postal_address)
    try:
        cl.update_client(db, user, client, cl.check_client(industries(request), **values))
    except DocgenError as exc:
        return _client_page(request, db, client, 400, describe(exc), values)
    db.commit()
    return RedirectResponse(f"/clients/{client.public_id}", status_code=303)


@router.post("/clients/{client_id}/quotes")
def client_quote(request: Request, client_id: str, db: ScopedDb, user: Builder, industry: Short = "", revenue: Short = "",
                 limit: Short = "") -> Response:
    """Keep a priced quote in the client's history (要見積 and 引受不可 are not quotes: the reason is shown instead)."""
    client = own(db, Client, client_id, user)
    try:
        q = api.quote(request.app.state.products(), industry, parse_yen(revenue, field="売上高"), parse_yen(limit, field="賠償保険金額"))
    except DocgenError as exc:
        return _client_page(request, db, client, 400, describe(exc))
    cl.save_quote(db, user, client, q)
    db.commit()
    return RedirectResponse(f"/clients/{client.public_id}#quotes", status_code=303)


@router.post("/packs/{pack_id}/client")
def client_from_pack(request: Request, pack_id: str, db: ScopedDb, user: Builder) -> Response:
    """The pack's client on file (found by name and contact, or made from the pack), linked to the pack."""
    pack = own(db, PackRecord, pack_id, user)
    client, _created = cl.client_from_pack(db, user, pack)
    db.commit()
    return RedirectResponse(f"/clients/{client.public_id}", status_code=303)


@router.post("/uploads/{upload_id}/clients")
def clients_from_upload(request: Request, upload_id: str, db: ScopedDb, user: Builder) -> Response:
    """A client record for every good row of a checked list not already on file."""
    upload = own(db, Upload, upload_id, user)
    checked = check_list(request.app.state.products(), request.app.state.site.storage / upload.storage_key,
                         policy_for(user, dt.datetime.now(JST).date()), upload.filename)
    created, existing = cl.clients_from_requests(db, user, checked.requests)
    db.commit()
    return render(request, "upload.html", upload=upload, notice=f"顧客を {created} 件登録しました（登録済み {existing} 件）",
                  registered=True)


@router.post("/packs/{pack_id}/intent")
def intent_record(request: Request, pack_id: str, db: ScopedDb, user: Builder, needs: Text = "", reason: Text = "",
                  chosen_limit: Short = "") -> Response:
    """意向把握: the client's stated needs and why this plan was recommended, kept with the pack (and the client's history)."""
    pack = own(db, PackRecord, pack_id, user)
    try:
        cl.record_intent(db, user, pack, needs=needs, reason=reason, chosen_limit=chosen_limit,
                         limits=request.app.state.products().rates.limits)
    except DocgenError as exc:
        db.rollback()
        return pack_page(request, db, pack, 400, describe(exc), intent_form={"needs": needs, "reason": reason, "chosen_limit": chosen_limit})
    db.commit()
    return RedirectResponse(f"/packs/{pack.public_id}#intent", status_code=303)
