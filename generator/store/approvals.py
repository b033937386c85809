"""Compliance review: submissions of an exact content version and the approvals that number it.

A content version is its content hash (``Product.digest()``, as printed in every footer). An approval row is never
updated or deleted once written: a correction is a new row that ``supersedes`` the old one
(generator/compliance/approval.py holds the rules; this module only the tables).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column, relationship

from generator.store.accounts import User
from generator.store.base import Base, UTCDateTime, utcnow

SUBMISSION_STATES = ("pending", "approved", "rejected")


class Submission(Base):
    """A content version put up for review, with the redline against the version last approved."""

    __tablename__ = "submissions"
    __table_args__ = (CheckConstraint("state IN ('pending', 'approved', 'rejected')", name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product: Mapped[str] = mapped_column(String(100), index=True)
    content_hash: Mapped[str] = mapped_column(String(128), index=True)
    content_version: Mapped[str] = mapped_column(String(50))
    revision: Mapped[str] = mapped_column(String(100), default="")  # git revision or "working tree", for people
    base_hash: Mapped[str] = mapped_column(String(128), default="")  # the approved version the redline compares with
    summary: Mapped[str] = mapped_column(Text, default="")  # the diff's Markdown summary
    redline_key: Mapped[str] = mapped_column(String(255), default="")  # the .docx redline under Site.storage
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # why rejected

    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


class Approval(Base):
    """One approval of one exact content version; immutable (see :func:`_refuse_changes`)."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product: Mapped[str] = mapped_column(String(100), index=True)
    content_hash: Mapped[str] = mapped_column(String(128), index=True)
    content_version: Mapped[str] = mapped_column(String(50))
    approval_number: Mapped[str] = mapped_column(String(100), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    approved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    valid_from: Mapped[dt.date] = mapped_column(Date())
    valid_until: Mapped[dt.date | None] = mapped_column(Date(), nullable=True)  # last day of use, inclusive
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"), nullable=True, unique=True)
    note: Mapped[str] = mapped_column(Text, default="")

    approver: Mapped[User] = relationship(foreign_keys=[approver_id], lazy="joined")


class ApprovalImmutable(RuntimeError):
    """Raised when code tries to update or delete an approval row (a correction is a new, superseding row)."""


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context: UOWTransaction, _instances: object) -> None:
    for obj in session.dirty:
        if isinstance(obj, Approval) and session.is_modified(obj, include_collections=False):
            raise ApprovalImmutable(f"approval {obj.approval_number} is immutable; record a correction that supersedes it")
    for obj in session.deleted:
        if isinstance(obj, Approval):
            raise ApprovalImmutable(f"approval {obj.approval_number} cannot be deleted; record a correction that supersedes it")
