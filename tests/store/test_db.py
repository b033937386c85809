"""The store on every backend: migrations build exactly the models' tables, go down again, keep yen exact, scope agencies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from generator.settings import load as load_settings
from generator.site import Site
from generator.store import db, tenancy
from generator.store.accounts import Agency, User
from generator.store.base import Base, utcnow
from generator.store.ledger import Job, PackRecord

PORTAL_TABLES = {"agencies", "users", "web_sessions", "login_attempts", "jobs", "uploads", "pack_records"}


def test_default_url_is_a_sqlite_file_under_storage(tmp_path: Path) -> None:
    site = Site.at(tmp_path)
    assert db.database_url(site, load_settings({})) == f"sqlite:///{tmp_path}/storage/docgen.sqlite3"
    assert db.database_url(site, load_settings({"DOCGEN_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/y"})) == "postgresql+psycopg://x@127.0.0.1/y"


def test_upgrade_creates_what_the_models_describe(database_url: str) -> None:
    db.upgrade(database_url)
    eng = db.engine(database_url)
    try:
        assert db.tables(eng) >= PORTAL_TABLES
        assert db.current(eng) == db.heads()[0]
        db.load_models()
        with eng.connect() as connection:
            # autogenerate finds nothing to add or change: the migrations and the Mapped[] models agree
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        eng.dispose()


def test_first_revision_is_0001_portal_and_the_chain_is_linear() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(db._config(db.engine("sqlite://")))
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].revision == "0001_portal" and revisions[-1].down_revision is None
    assert len(scripts.get_heads()) == 1, "two heads: a migration must revise the newest one"


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    db.upgrade(database_url)
    db.downgrade(database_url, "base")
    eng = db.engine(database_url)
    try:
        assert db.tables(eng) - {"alembic_version"} == set()
        db.upgrade(database_url)  # and up again on the same database
        assert db.tables(eng) >= PORTAL_TABLES
    finally:
        eng.dispose()


def _seed(session) -> tuple[Agency, Agency, User]:  # type: ignore[no-untyped-def]
    a, b = Agency(name="さくら保険サービス株式会社"), Agency(name="ひまわり代理店")
    session.add_all([a, b])
    session.flush()
    user = User(email="a@example.jp", password_hash="$argon2id$x", role="agent", agency_id=a.id)
    session.add(user)
    session.flush()
    return a, b, user


def _record(agency: Agency, agent: User, client: str, **kw) -> PackRecord:  # type: ignore[no-untyped-def]
    values = dict(agency_id=agency.id, agent_id=agent.id, client=client, product="cyber_lite", content_version="1",
                  content_hash="h", quote_number="Q-1", premium=149_000, pdf_sha256="0" * 64, clauses={"EX-01": "ab"})
    return PackRecord(**(values | kw))


def test_ledger_keeps_yen_exact_json_and_aware_times(database_url: str) -> None:
    db.upgrade(database_url)
    eng = db.engine(database_url)
    try:
        with db.session_factory(eng)() as s:
            a, _b, user = _seed(s)
            # 100億円 revenue does not fit 32 bits: the ledger must keep it exact
            s.add(_record(a, user, "有限会社 伸和企画", revenue=10_000_000_000, limit=300_000_000, approval_number=None, draft=True))
            s.commit()
        with db.session_factory(eng)() as s:
            got = s.scalars(select(PackRecord)).one()
            assert (got.revenue, got.limit, got.premium) == (10_000_000_000, 300_000_000, 149_000)
            assert got.clauses == {"EX-01": "ab"} and got.approval_number is None and got.draft is True
            assert got.created_at.tzinfo is not None and abs(got.created_at - utcnow()) < dt.timedelta(minutes=5)
    finally:
        eng.dispose()


def test_constraints_refuse_unknown_roles_and_states(database_url: str) -> None:
    db.upgrade(database_url)
    eng = db.engine(database_url)
    try:
        with db.session_factory(eng)() as s:
            a, _b, user = _seed(s)
            s.commit()
            s.add(User(email="x@example.jp", password_hash="h", role="superuser", agency_id=a.id))
            with pytest.raises(IntegrityError):
                s.commit()
            s.rollback()
            s.add(Job(kind="pack", state="paused", agency_id=a.id, user_id=user.id, params={}, result={}))
            with pytest.raises(IntegrityError):
                s.commit()
            s.rollback()
            s.add(User(email="a@example.jp", password_hash="h", role="agent", agency_id=a.id))  # e-mail taken
            with pytest.raises(IntegrityError):
                s.commit()
    finally:
        eng.dispose()


def test_tenancy_filter_hides_other_agencies_rows(database_url: str) -> None:
    db.upgrade(database_url)
    eng = db.engine(database_url)
    try:
        with db.session_factory(eng)() as s:
            a, b, user = _seed(s)
            s.add_all([_record(a, user, "A社"), _record(b, user, "B社")])
            s.commit()
            a_id, b_id = a.id, b.id
        with db.session_factory(eng)() as s:
            tenancy.scope(s, a_id)
            assert [r.client for r in s.scalars(select(PackRecord))] == ["A社"]
            # even a query that asks for the other agency by name gets nothing
            assert s.scalars(select(PackRecord).where(PackRecord.agency_id == b_id)).all() == []
            # each agency its own criteria, however often and in whichever order they are asked for (one option per agency is kept)
            for agency, client in ((b_id, "B社"), (a_id, "A社"), (b_id, "B社")):
                tenancy.scope(s, agency)
                assert [r.client for r in s.scalars(select(PackRecord))] == [client]
            tenancy.scope(s, None)
            assert sorted(r.client for r in s.scalars(select(PackRecord))) == ["A社", "B社"]
    finally:
        eng.dispose()


def test_ci_without_postgres_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import dbkit

    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv(dbkit.ENV, raising=False)
    assert dbkit.backends() == ["sqlite", "postgresql"]
    with pytest.raises(pytest.fail.Exception, match="DOCGEN_TEST_POSTGRES_URL is not set"):
        dbkit.postgres_base()
    monkeypatch.setenv(dbkit.ENV, "postgresql+psycopg://u@db.example.com/x")
    with pytest.raises(AssertionError, match="127.0.0.1 only"):
        dbkit.postgres_base()
