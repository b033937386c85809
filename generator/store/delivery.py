"""Electronic delivery of a pack: the client's consent, each e-mail sent (link token stored hashed) and each download."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from generator.store.accounts import AgencyScoped
from generator.store.base import Base, UTCDateTime, utcnow
from generator.store.ledger import new_public_id

CONSENT_METHODS = ("書面", "口頭", "電子メール", "その他")
DELIVERY_STATES = {"sending": "送信中", "sent": "送信済み", "failed": "送信失敗"}


class Consent(AgencyScoped, Base):
    """The client's consent to receiving this pack's 重要事項説明書 electronically: who gave it, when, how."""

    __tablename__ = "delivery_consents"
    __table_args__ = (CheckConstraint("method IN ('書面', '口頭', '電子メール', 'その他')", name="method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("pack_records.id"), index=True)
    consented_by: Mapped[str] = mapped_column(String(200))  # the person at the client who consented
    consented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # when they did (as the agent records it)
    method: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(AgencyScoped, Base):
    """One e-mail with a download link for one pack; a failed send stays, with its reason, and is retried as a new row."""

    __tablename__ = "deliveries"
    __table_args__ = (CheckConstraint("status IN ('sending', 'sent', 'failed')", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)  # what URLs carry (issue 23)
    pack_id: Mapped[int] = mapped_column(ForeignKey("pack_records.id"), index=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("delivery_consents.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), nullable=True, index=True)
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    recipient_email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the link's token; the token is only in the mail
    pdf_sha256: Mapped[str] = mapped_column(String(64))  # the archived bytes the link serves (the ledger's hash)
    status: Mapped[str] = mapped_column(String(10), default="sending")
    reason: Mapped[str] = mapped_column(Text, default="")  # why the send failed, in the words the agent sees
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryDownload(AgencyScoped, Base):
    """The client fetched the PDF through a delivery's link (the first one is the receipt the agent sees)."""

    __tablename__ = "delivery_downloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
