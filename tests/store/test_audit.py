"""The hash-chained audit log: every append links to the previous entry; any altered or deleted row is found."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, text, update

from generator.store import db
from generator.store.audit import GENESIS, AuditEntry, head, record, verify


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
