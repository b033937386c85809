"""An agency's clients: their record, the quotes saved for them and the needs recorded with a pack (意向把握)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from generator.store.accounts import AgencyScoped
from generator.store.base import Base, UTCDateTime, utcnow
from generator.store.ledger import new_public_id

CLIENT_SOURCES = {"manual": "手入力", "quote": "見積り", "pack": "提案書", "list": "顧客リスト"}


class Client(AgencyScoped, Base):
    """A client of one agency: who to address, what to quote, where to deliver (e-mail or postal address)."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)  # what URLs carry (issue 23)
    name: Mapped[str] = mapped_column(String(200), index=True)  # the company, as the letter prints it
    contact: Mapped[str] = mapped_column(String(200), default="")  # the person, printed "… 様"
    industry: Mapped[str] = mapped_column(String(100), default="")
    revenue: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # yen
    email: Mapped[str] = mapped_column(String(254), default="")
    postal_address: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(10), default="manual")  # a key of CLIENT_SOURCES
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ClientQuote(AgencyScoped, Base):
    """A quote an agent kept in a client's history (the premium as the rate table of that day gave it)."""

    __tablename__ = "client_quotes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    industry: Mapped[str] = mapped_column(String(100))
    class_code: Mapped[str] = mapped_column(String(10))
    revenue: Mapped[int] = mapped_column(BigInteger)  # yen
    limit: Mapped[int] = mapped_column(BigInteger)  # yen
    premium: Mapped[int] = mapped_column(BigInteger)  # yen
    rates_version: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Intent(AgencyScoped, Base):
    """意向把握 with a pack: the needs the client stated and why this plan was recommended; each save is a new row."""

    __tablename__ = "intents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("pack_records.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), nullable=True, index=True)
    needs: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    chosen_limit: Mapped[int] = mapped_column(BigInteger)  # yen
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
