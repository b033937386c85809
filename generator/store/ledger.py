"""Client data: background jobs, uploaded client lists and the ledger of every built pack (PackRecord).

Files live under ``Site.storage`` at a key derived from the row's id (``packs/<id>/…``, ``uploads/<id>…``), never at a
path a user typed; the ledger is what compliance queries ("which clients received wording X").
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from generator.jptext import fold
from generator.store.accounts import AgencyScoped
from generator.store.base import Base, UTCDateTime, utcnow

SEPARATOR = "\x1f"  # unit separator: a control character, never in a folded name (names refuse control characters)
PUBLIC_ID = re.compile(r"[0-9a-f]{32}")  # what a URL may carry where an object is named


def new_public_id() -> str:
    """A random 128-bit id for URLs: ids reveal neither order nor any agency's volume, and cannot be guessed."""
    return secrets.token_hex(16)


def search_key(*texts: str | None) -> str:
    """What history search matches a pack by: client, contact and quote number, folded (generator.jptext.fold),
    separated by a character no folded text holds, so a search never matches across two of them.

    >>> search_key("髙﨑 商店", "上", "Q-1").split(SEPARATOR)
    ['高崎商店', '上', 'q-1']
    """
    return SEPARATOR.join(fold(t or "") for t in texts)

JobState = Literal["queued", "running", "done", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")
JOB_KINDS = ("pack", "list")


class Job(AgencyScoped, Base):
    """Work done off the request: one pack or a client list; progress is ``done`` of ``total``."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
        CheckConstraint("kind IN ('pack', 'list')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it failed, in the words the agent sees
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the checked raw input, to resume after a restart
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # rows that failed while building, counts
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Upload(AgencyScoped, Base):
    """A client list as uploaded; its bytes are stored under ``uploads/<id><suffix>``."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))  # as the agent named it: shown, never used as a path
    suffix: Mapped[str] = mapped_column(String(8))  # ".csv" or ".xlsx", checked
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)  # good rows
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # bad rows: row, column, value, reason
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PackRecord(AgencyScoped, Base):
    """The ledger: one row per built pack, with what it was built from and the hash of what was handed out."""

    __tablename__ = "pack_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True, index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), nullable=True, index=True)  # the agency's client record
    client: Mapped[str] = mapped_column(String(200), index=True)
    contact: Mapped[str] = mapped_column(String(200), default="")
    industry: Mapped[str] = mapped_column(String(100), default="")
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)  # yen
    limit: Mapped[int] = mapped_column(BigInteger, default=0)  # yen
    product: Mapped[str] = mapped_column(String(100))
    content_version: Mapped[str] = mapped_column(String(50))
    content_hash: Mapped[str] = mapped_column(String(128))
    approval_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    quote_number: Mapped[str] = mapped_column(String(50), index=True)
    premium: Mapped[int] = mapped_column(BigInteger)  # yen
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    clauses: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # clause id -> hash
    storage_key: Mapped[str] = mapped_column(String(255), default="")  # folder under Site.storage
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # history search matches this, never the printed names: 高崎 finds 髙﨑, 青葉 商店 finds 青葉商店 (jptext.fold)
    search_key: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(PackRecord, "before_insert")
@event.listens_for(PackRecord, "before_update")
def _fold_for_search(mapper: object, connection: object, record: PackRecord) -> None:
    record.search_key = search_key(record.client, record.contact, record.quote_number)
