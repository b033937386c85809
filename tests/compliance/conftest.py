"""A migrated throwaway SQLite database and portal users for the approval workflow tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from generator.store import db
from generator.store.accounts import Agency, User


@pytest.fixture
def database(tmp_path: Path) -> str:
    """The URL of a fresh SQLite database migrated to head (0001_portal, 0002_compliance)."""
    url = f"sqlite:///{tmp_path / 'docgen.sqlite3'}"
    db.upgrade(url)
    return url


@pytest.fixture
def session(database: str) -> Iterator[Session]:
    eng = db.engine(database)
    with db.session_factory(eng)() as s:
        yield s
    eng.dispose()


def reviewers_database(url: str) -> None:
    """Migrate the database at ``url`` and add the two people of a review: marketing submits, compliance approves."""
    db.upgrade(url)
    eng = db.engine(url)
    with db.session_factory(eng)() as s:
        add_user(s, "marketing@example.jp", "marketing")
        add_user(s, "compliance@example.jp", "compliance")
        s.commit()
    eng.dispose()


def add_user(session: Session, email: str, role: str, agency: str = "損保ジャパン 本社") -> User:
    """A portal user (the CLI identifies people by e-mail; no password is needed here)."""
    found = session.query(Agency).filter_by(name=agency).one_or_none() or Agency(name=agency)
    user = User(email=email, name=email.split("@")[0], password_hash="!unusable", role=role, agency=found)
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    users = {
        "marketing": add_user(session, "marketing@example.jp", "marketing"),
        "compliance": add_user(session, "compliance@example.jp", "compliance"),
        "compliance2": add_user(session, "compliance2@example.jp", "compliance"),
        "agent": add_user(session, "agent@example.jp", "agent", "さくら保険サービス株式会社"),
    }
    session.commit()
    return users
