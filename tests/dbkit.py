"""Throwaway databases for the store and portal tests: SQLite always, PostgreSQL when DOCGEN_TEST_POSTGRES_URL is set.

In CI (CI=true) the PostgreSQL URL must be set: its absence fails the tests instead of quietly testing SQLite only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV = "DOCGEN_TEST_POSTGRES_URL"


def backends() -> list[str]:
    """Which databases the tests run on here."""
    if os.environ.get(ENV) or os.environ.get("CI", "").lower() == "true":
        return ["sqlite", "postgresql"]
    return ["sqlite"]


def postgres_base() -> str:
    url = os.environ.get(ENV)
    if not url:
        pytest.fail(f"CI=true but {ENV} is not set: .ci/run starts a throwaway PostgreSQL and exports it", pytrace=False)
    host = make_url(url).host
    assert host in ("127.0.0.1", "localhost", "::1"), f"{ENV} must point at this machine (tests talk to 127.0.0.1 only), not {host}"
    return url


def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A URL of an empty database of ``kind``, removed afterwards (one PostgreSQL database per use)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'portal.sqlite3'}"
        return
    base = make_url(postgres_base())
    name = f"docgen_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\''))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
