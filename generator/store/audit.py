"""The append-only audit log: who did what (login, approval, pack built, downloaded, re-issued), chained by hash.

Each entry's hash covers its own fields and the previous entry's hash, so changing any stored field, or deleting an
entry in the middle, breaks the chain where it happened; :func:`verify` finds it. Deleting the newest entries would
leave a shorter valid chain, so the head is also anchored outside the database: each commit that appended entries
writes their newest (seq, hash) to a checkpoint file (``audit-head.json`` in DOCGEN_STORAGE, temp file then rename,
never moved backwards), and :func:`verify` checks that the log still holds that entry with that hash — truncation and
a rollback to an older copy of the database are found too.
Routes call :func:`record` once per action; nothing else writes this table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from generator.i18n import N_
from generator.store.accounts import User
from generator.store.base import Base, UTCDateTime, utcnow

log = logging.getLogger(__name__)
GENESIS = "0" * 64
CHECKPOINT_NAME = "audit-head.json"  # in DOCGEN_STORAGE, beside the files the ledger names
CHECKPOINT_OPTION = "docgen_audit_checkpoint"  # the engine's execution option naming the checkpoint file (db.engine)
_PENDING = "docgen_audit_head"  # session.info key: the newest entry this transaction appended (seq, hash, prev_hash)
ACTIONS = ("login", "logout", "submit", "approve", "reject", "pack.built", "pack.downloaded", "pack.sent", "reissue", "brochure.built",
           "agency.created", "user.created", "user.deactivated", "user.reactivated", "user.role_changed", "password.link_issued",
           "password.reset", "password.changed", "verify",
           "client.created", "client.updated", "quote.saved", "intent.recorded", "delivery.consent", "delivery.sent", "delivery.failed",
           "delivery.downloaded")


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
            session.info[_PENDING] = (seq, entry.hash, prev)
            return entry
        try:
            with session.begin_nested():
                session.add(entry)
        except IntegrityError:
            continue
        session.info[_PENDING] = (seq, entry.hash, prev)
        return entry
    raise RuntimeError("audit log: could not append after 5 tries (concurrent writers)")


# --- the head, anchored outside the database --------------------------------------------------


def checkpoint_of(session: Session) -> Path | None:
    """The checkpoint file the session's engine was opened with (db.engine(url, audit_checkpoint=…)), if any."""
    value = session.get_bind().get_execution_options().get(CHECKPOINT_OPTION)
    return Path(value) if value else None


def read_checkpoint(path: Path) -> tuple[int, str] | None:
    """(seq, hash) the checkpoint holds; None when there is no file; ValueError when it is not one docgen wrote."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__})") from None
    seq, digest = data.get("seq") if isinstance(data, dict) else None, data.get("hash") if isinstance(data, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(digest, str) or len(digest) != 64:
        raise ValueError("not a checkpoint docgen wrote (seq and hash)")
    return seq, digest


def write_checkpoint(path: Path, seq: int, digest: str, hash_at: Callable[[int], str | None] | None = None) -> bool:
    """Record (seq, hash) as the newest known head: atomically (temp file, then rename), never backwards; True if written.

    Two processes committing at once may finish in either order; a lock file serialises them and the lower seq loses.
    ``hash_at(seq)`` reads the log: when it no longer holds the recorded head, the log was rolled back and rewritten,
    and the checkpoint is kept as the evidence :func:`verify` reports instead of being moved onto the new chain.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            known = read_checkpoint(path)
        except ValueError:
            known = None  # damaged: verify has said so until now; the new head replaces it
        if known is not None and (known[0] >= seq or (hash_at is not None and hash_at(known[0]) != known[1])):
            return False
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"seq": seq, "hash": digest, "written_at": utcnow().isoformat(timespec="seconds")}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return True


@event.listens_for(Session, "after_commit")
def _anchor_head(session: Session) -> None:
    """After a commit that appended entries: their newest (seq, hash) goes to the engine's checkpoint file."""
    pending = session.info.pop(_PENDING, None)
    path = checkpoint_of(session) if pending else None
    if pending and path is not None:
        seq, digest, prev = pending

        def hash_at(at: int) -> str | None:
            if at == seq - 1:
                # the entry just committed was appended on this head, read in its own transaction: the log holds it
                # (the common case, one entry after another: no second connection and query per audited commit)
                return str(prev)
            # a new transaction of its own: this session's has just ended (after_commit)
            with Session(session.get_bind()) as reader:
                return reader.scalar(select(AuditEntry.hash).where(AuditEntry.seq == at))

        try:
            written = write_checkpoint(path, seq, digest, hash_at=hash_at)
        except OSError as exc:  # the entry is committed; a checkpoint left behind only weakens the anchor, so say so and go on
            log.error("audit log: the head checkpoint %s could not be written: %s", path.name, exc.strerror or exc)
            return
        if not written:  # a concurrent commit got further, or the log no longer holds the recorded head (verify reports it)
            log.info("audit log: head checkpoint kept (it records a newer entry, or one the log no longer holds)")


@event.listens_for(Session, "after_rollback")
def _forget_head(session: Session) -> None:
    session.info.pop(_PENDING, None)


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


def verify(session: Session, checkpoint: Path | None = None) -> list[Break]:
    """Every break in the chain: an entry whose fields no longer match its hash, a missing or re-linked entry, and
    newest entries deleted or rolled back behind the head the checkpoint file recorded.

    ``checkpoint`` defaults to the engine's (the CLI and the portal open theirs with one); without any, only the chain
    itself is checked.
    """
    breaks: list[Break] = []
    prev_hash, expected_seq = GENESIS, 1
    hashes: dict[int, str] = {}
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        if e.seq != expected_seq:
            breaks.append(Break(e.seq, N_("entries {first}–{last} are missing (deleted)"), {"first": expected_seq, "last": e.seq - 1}))
        if e.prev_hash != prev_hash:
            breaks.append(Break(e.seq, N_("does not follow the entry before it (an entry was deleted or replaced)")))
        if entry_hash(e.prev_hash, e.seq, e.at, e.actor, e.action, e.target, e.detail or {}) != e.hash:
            breaks.append(Break(e.seq, N_("its fields were altered after it was written (hash mismatch)")))
        hashes[e.seq] = e.hash
        prev_hash, expected_seq = e.hash, e.seq + 1
    return breaks + _against_checkpoint(checkpoint or checkpoint_of(session), hashes, expected_seq - 1)


def _against_checkpoint(path: Path | None, hashes: dict[int, str], last: int) -> list[Break]:
    """What the recorded head says is missing or replaced in the log (``hashes`` by seq, ``last`` its newest seq)."""
    if path is None:
        return []
    try:
        known = read_checkpoint(path)
    except ValueError as exc:
        return [Break(last, N_("the head checkpoint ({name} in DOCGEN_STORAGE) is damaged: {detail}; the newest entries cannot be checked"),
                      {"name": CHECKPOINT_NAME, "detail": str(exc)})]
    if known is None:
        if last:
            return [Break(last, N_("the head checkpoint ({name} in DOCGEN_STORAGE) is missing, yet the log has {count} entries: it was deleted "
                                   "(or the log was copied here without it); the newest entries cannot be checked until the next entry "
                                   "writes it again"), {"name": CHECKPOINT_NAME, "count": last})]
        return []
    seq, digest = known
    if seq > last:
        gone = (N_("entry {first} is missing: the head checkpoint ({name} in DOCGEN_STORAGE) records {seq} entries, the log ends at "
                   "{last} (the newest were deleted, or the database was restored from an older copy)") if seq == last + 1 else
                N_("entries {first}–{seq} are missing: the head checkpoint ({name} in DOCGEN_STORAGE) records {seq} entries, the log "
                   "ends at {last} (the newest were deleted, or the database was restored from an older copy)"))
        return [Break(seq, gone, {"first": last + 1, "seq": seq, "last": last, "name": CHECKPOINT_NAME})]
    if seq and hashes.get(seq) != digest:
        return [Break(seq, N_("is not the entry the head checkpoint ({name} in DOCGEN_STORAGE) recorded (hash {digest}…): the log was "
                              "rolled back and rewritten from here"), {"name": CHECKPOINT_NAME, "digest": digest[:12]})]
    return []


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest entry, (0, GENESIS) for an empty log: worth printing to anchor the chain."""
    row = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)
