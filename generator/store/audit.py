"""The append-only audit log: who did what (login, approval, pack built, downloaded, re-issued), chained by hash.

Each entry's hash covers its own fields and the previous entry's hash, so changing any stored field, or deleting an
entry in the middle, breaks the chain where it happened; :func:`verify` finds it. (Deleting the newest entries leaves
a shorter valid chain: anchor the head elsewhere, e.g. print it in a report, to catch that too.)
Routes call :func:`record` once per action; nothing else writes this table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from generator.i18n import N_
from generator.store.accounts import User
from generator.store.base import Base, UTCDateTime, utcnow

GENESIS = "0" * 64
ACTIONS = ("login", "logout", "submit", "approve", "reject", "pack.built", "pack.downloaded", "pack.sent", "reissue", "brochure.built")


class AuditEntry(Base):
    """One action; ``seq`` is consecutive and unique, ``prev_hash`` the hash of entry ``seq - 1``."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254), index=True)  # e-mail, or "system"
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def entry_hash(prev_hash: str, seq: int, at: dt.datetime, actor: str, action: str, target: str, detail: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and this entry's fields in a canonical JSON form.

    >>> t = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    >>> h = lambda n: entry_hash(GENESIS, 1, t, "c@example.jp", "approve", "cyber_lite", {"n": n})
    >>> h("A-1") == h("A-1"), h("A-1") == h("A-2")
    (True, False)
    """
    payload = json.dumps([prev_hash, seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor, action, target, detail],
                         sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _actor(actor: User | str | None) -> tuple[str, int | None]:
    if isinstance(actor, User):
        return actor.email, actor.id
    return (actor or "system"), None


def record(session: Session, actor: User | str | None, action: str, target: str = "", detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry (flushed, not committed: it commits with the caller's transaction, or not at all).

    ``detail`` must be JSON data (it is hashed as JSON). Two writers racing for the same ``seq`` collide on the unique
    index; the loser retries on the new head.
    """
    email, actor_id = _actor(actor)
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))  # what the database will hand back
    at = utcnow()
    if session.get_bind().dialect.name == "sqlite":
        # take SQLite's write lock before reading the head (a no-op UPDATE does; busy_timeout waits for it), so
        # concurrent writers append one after another instead of colliding on the unique seq (the service bench's
        # 20 agents downloading at once did)
        session.execute(text("UPDATE audit_entries SET seq = seq WHERE 0"))
    for _ in range(5):
        head = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        entry = AuditEntry(seq=seq, at=at, actor=email, actor_id=actor_id, action=action, target=target, detail=detail, prev_hash=prev,
                           hash=entry_hash(prev, seq, at, email, action, target, detail))
        if session.get_bind().dialect.name == "sqlite":
            # pysqlite would COMMIT on a savepoint's RELEASE; a racing writer here fails on the unique seq instead of forking the chain
            session.add(entry)
            session.flush()
            return entry
        try:
            with session.begin_nested():
                session.add(entry)
        except IntegrityError:
            continue
        return entry
    raise RuntimeError("audit log: could not append after 5 tries (concurrent writers)")


@dataclass(frozen=True)
class Break:
    """Where the chain is broken: the entry's sequence number and what is wrong."""

    seq: int
    reason: str  # a msgid (generator.i18n.N_) with {name} fields from params: faces translate it
    params: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        return self.reason.format(**self.params) if self.params else self.reason

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.text}"


def verify(session: Session) -> list[Break]:
    """Every break in the chain: an entry whose fields no longer match its hash, or a missing or re-linked entry."""
    breaks: list[Break] = []
    prev_hash, expected_seq = GENESIS, 1
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        if e.seq != expected_seq:
            breaks.append(Break(e.seq, N_("entries {first}–{last} are missing (deleted)"), {"first": expected_seq, "last": e.seq - 1}))
        if e.prev_hash != prev_hash:
            breaks.append(Break(e.seq, N_("does not follow the entry before it (an entry was deleted or replaced)")))
        if entry_hash(e.prev_hash, e.seq, e.at, e.actor, e.action, e.target, e.detail or {}) != e.hash:
            breaks.append(Break(e.seq, N_("its fields were altered after it was written (hash mismatch)")))
        prev_hash, expected_seq = e.hash, e.seq + 1
    return breaks


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest entry, (0, GENESIS) for an empty log: worth printing to anchor the chain."""
    row = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)
