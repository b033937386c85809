"""The hash-chained audit log: every append links to the previous entry; any altered or deleted row is found."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update

from generator.cli import main
from generator.store import db
from generator.store.audit import CHECKPOINT_NAME, GENESIS, AuditEntry, head, record, verify


@pytest.fixture
def session(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    db.upgrade(url)
    eng = db.engine(url)
    with db.session_factory(eng)() as s:
        yield s
    eng.dispose()


def _fill(session) -> None:
    record(session, "compliance@example.jp", "login")
    record(session, "compliance@example.jp", "approve", "cyber_lite@abc", {"approval": "CYBER-LITE-202612-001"})
    record(session, "agent@example.jp", "pack.built", "有限会社 伸和企画", {"quote": "Q-1", "premium": 149000})
    record(session, None, "reissue", "cyber_lite", {"packs": [1, 2]})
    session.commit()


def test_intact_chain_verifies_and_links(session) -> None:
    _fill(session)
    rows = session.query(AuditEntry).order_by(AuditEntry.seq).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 4))
    assert rows[3].actor == "system"
    assert verify(session) == []
    assert head(session) == (4, rows[3].hash)


def test_altered_detail_is_detected(session) -> None:
    _fill(session)
    # tamper below the ORM, as someone with database access would
    session.execute(text("UPDATE audit_entries SET detail = :d WHERE seq = 3"), {"d": '{"quote": "Q-1", "premium": 1}'})
    session.commit()
    session.expire_all()
    breaks = verify(session)
    assert [b.seq for b in breaks] == [3]
    assert "altered" in str(breaks[0])


def test_altered_actor_is_detected(session) -> None:
    _fill(session)
    session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="someone@else.jp"))
    session.commit()
    session.expire_all()
    assert [b.seq for b in verify(session)] == [2]


def test_deleted_entry_is_detected(session) -> None:
    _fill(session)
    session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    session.commit()
    session.expire_all()
    breaks = verify(session)
    assert breaks and breaks[0].seq == 3
    assert any("missing" in str(b) for b in breaks)


def test_record_uncommitted_is_rolled_back_with_the_caller(session) -> None:
    _fill(session)
    record(session, "x@example.jp", "login")
    session.rollback()
    assert head(session)[0] == 4
    assert verify(session) == []


# --- the head anchored outside the database ------------------------------------------------------

@pytest.fixture
def anchored(tmp_path: Path):
    """A session whose engine anchors the head in a checkpoint file, as the CLI's and the portal's do."""
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    db.upgrade(url)
    eng = db.engine(url, audit_checkpoint=db.checkpoint_for(tmp_path / "storage"))
    with db.session_factory(eng)() as s:
        yield s
    eng.dispose()


def _entries(session, n: int) -> None:
    for i in range(n):
        record(session, "agent@example.jp", "pack.downloaded", f"pack {i}", {"n": i})
        session.commit()  # one transaction per action, as the portal's requests


def _sql(session, statement: str) -> None:
    # below the application, as someone with the database file would
    session.execute(text(statement))
    session.commit()
    session.expire_all()


def test_each_commit_writes_the_head_to_the_checkpoint(anchored, tmp_path) -> None:
    _entries(anchored, 3)
    checkpoint = json.loads((tmp_path / "storage" / CHECKPOINT_NAME).read_text(encoding="utf-8"))
    assert (checkpoint["seq"], checkpoint["hash"]) == head(anchored)
    assert verify(anchored) == []
    record(anchored, "x@example.jp", "login")
    anchored.rollback()  # an entry that was never committed moves nothing
    assert json.loads((tmp_path / "storage" / CHECKPOINT_NAME).read_text(encoding="utf-8"))["seq"] == 3
    assert verify(anchored) == []


def test_deleting_the_newest_entry_is_found(anchored) -> None:
    _entries(anchored, 4)
    _sql(anchored, "DELETE FROM audit_entries WHERE seq = (SELECT max(seq) FROM audit_entries)")
    breaks = verify(anchored)
    assert [b.seq for b in breaks] == [4], breaks
    assert "entry 4 is missing" in str(breaks[0]) and "the log ends at 3" in str(breaks[0])


def test_truncating_the_newest_entries_is_found(anchored) -> None:
    _entries(anchored, 6)
    _sql(anchored, "DELETE FROM audit_entries WHERE seq > 2")
    breaks = verify(anchored)
    assert len(breaks) == 1 and "entries 3–6 are missing" in str(breaks[0]), breaks
    _sql(anchored, "DELETE FROM audit_entries")
    assert "entries 1–6 are missing" in str(verify(anchored)[0])


def test_a_rollback_rewritten_past_the_checkpoint_is_found(anchored) -> None:
    _entries(anchored, 4)
    _sql(anchored, "DELETE FROM audit_entries WHERE seq > 2")  # back to an older state of the log …
    _entries(anchored, 3)  # … and a different history written over it, longer than the one recorded
    assert head(anchored)[0] == 5
    breaks = verify(anchored)
    assert [b.seq for b in breaks] == [4] and "rolled back" in str(breaks[0]), breaks


def test_a_deleted_or_damaged_checkpoint_is_reported(anchored, tmp_path) -> None:
    _entries(anchored, 2)
    checkpoint = tmp_path / "storage" / CHECKPOINT_NAME
    checkpoint.write_text('{"seq": "two"}', encoding="utf-8")
    assert "is damaged" in str(verify(anchored)[0])
    checkpoint.unlink()
    assert "is missing, yet the log has 2 entries" in str(verify(anchored)[0])
    _entries(anchored, 1)  # the next entry anchors the head again
    assert verify(anchored) == []


def test_audit_verify_finds_the_newest_entry_deleted(tmp_path, monkeypatch, capsys) -> None:
    storage = tmp_path / "storage"
    monkeypatch.setenv("DOCGEN_STORAGE", str(storage))
    monkeypatch.delenv("DOCGEN_DATABASE_URL", raising=False)
    url = f"sqlite:///{storage / db.SQLITE_NAME}"
    db.upgrade(url)
    eng = db.engine(url, audit_checkpoint=db.checkpoint_for(storage))
    with db.session_factory(eng)() as s:
        _entries(s, 3)
    eng.dispose()
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 3 entries" in capsys.readouterr().out
    with sqlite3.connect(storage / db.SQLITE_NAME) as raw:
        raw.execute("DELETE FROM audit_entries WHERE seq = 3")
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "audit entry 3: entry 3 is missing" in err and "NOT intact" in err, err
