"""The pack page: the ledger row, its preview and downloads, its client, 意向把握, consent and every delivery with receipts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from generator.compliance.clients import first_downloads
from generator.compliance.delivery import deliveries_of, latest_consent
from generator.store.audit import AuditEntry
from generator.store.clients import Client, Intent
from generator.store.delivery import CONSENT_METHODS, DELIVERY_STATES
from generator.store.ledger import Job, PackRecord
from generator.web.pages import JST, render


def pack_page(request: Request, db: Session, record: PackRecord, status: int = 200, message: str = "", **forms: dict[str, Any]) -> Response:
    """The page of ``record`` (already checked visible to the user); ``forms`` refill a form that was refused."""
    job = db.get(Job, record.job_id) if record.job_id else None
    sent = db.scalar(select(AuditEntry).where(AuditEntry.action == "pack.sent", AuditEntry.target == f"pack {record.id}").limit(1))
    deliveries = deliveries_of(db, record.id)
    product = request.app.state.products()
    user = request.state.user
    consent_form = forms.get("consent_form") or {"consented_by": record.contact, "method": "", "note": "",
                                                 "consented_at": dt.datetime.now(JST).strftime("%Y-%m-%dT%H:%M")}
    client = db.get(Client, record.client_id) if record.client_id else None
    send_form = forms.get("send_form") or {"recipient_email": client.email if client else "",
                                           "recipient_name": f"{record.client} {record.contact}".strip() if record.contact else record.client}
    intents = list(db.scalars(select(Intent).where(Intent.pack_id == record.id).order_by(Intent.id.desc())))
    intent_form = forms.get("intent_form") or {"needs": "", "reason": "", "chosen_limit": str(record.limit)}
    return render(request, "pack.html", status, pack=record, created=record.created_at.astimezone(JST), note=job.reason if job else "",
                  sent=sent, jst=JST, message=message, client=client, intents=intents, intent_form=intent_form,
                  limits=product.rates.limits, consent=latest_consent(db, record.id), consent_form=consent_form, methods=CONSENT_METHODS,
                  deliveries=deliveries, receipts=first_downloads(db, [d.id for d in deliveries]), DELIVERY_STATES=DELIVERY_STATES,
                  send_form=send_form, mail_ready=request.app.state.delivery.mail is not None,
                  acts=user is not None and user.role in ("agent", "admin") and user.agency_id == record.agency_id)
