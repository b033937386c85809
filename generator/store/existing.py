"""The site's database only if it exists already: located without importing SQLAlchemy, never created or migrated."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from generator import settings
from generator.site import Site

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ENV_URL = "DOCGEN_DATABASE_URL"
SQLITE_NAME = "docgen.sqlite3"


def database_url(site: Site, chosen: settings.Settings | None = None) -> str:
    """``DOCGEN_DATABASE_URL`` (of ``chosen``, default: the current settings), else a SQLite file in the site's storage
    folder (nothing to set up).

    >>> database_url(Site.at(Path("/srv/docgen")), settings.load({}))
    'sqlite:////srv/docgen/storage/docgen.sqlite3'
    >>> database_url(Site.at(Path("/srv/docgen")), settings.load({"DOCGEN_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/d"}))
    'postgresql+psycopg://u@127.0.0.1:5432/d'
    """
    return (chosen or settings.current()).database_url or f"sqlite:///{Path(site.storage) / SQLITE_NAME}"


def _absent(url: str) -> bool:
    """True for a SQLite URL whose file does not exist yet (a fresh clone, CI): there is nothing to read there.

    >>> _absent("sqlite:////nonexistent/docgen.sqlite3"), _absent("postgresql+psycopg://u@127.0.0.1:5432/d")
    (True, False)
    """
    return url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file()


@contextlib.contextmanager
def existing_session(site: Site, table: str) -> Iterator[Session | None]:
    """A session on the site's database when it exists and has ``table``, else None (SQLAlchemy is imported only then).

    For readers that must not need the portal set up: a build looking up its approval, a diff listing affected packs.
    """
    url = database_url(site)
    if _absent(url):
        yield None
        return
    from generator.store import db

    db.check_database(url, db.setting_name(None))
    eng = db.engine(url)
    try:
        if table not in db.tables(eng):
            yield None
            return
        with db.session_factory(eng)() as session:
            yield session
    finally:
        eng.dispose()
