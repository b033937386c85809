"""Where the site's database is: DOCGEN_DATABASE_URL, else a SQLite file in its storage (located without SQLAlchemy)."""

from __future__ import annotations

from pathlib import Path

from generator import settings
from generator.site import Site

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


def absent(url: str) -> bool:
    """True for a SQLite URL whose file does not exist yet (a fresh clone, CI): there is nothing to read there.

    >>> absent("sqlite:////nonexistent/docgen.sqlite3"), absent("postgresql+psycopg://u@127.0.0.1:5432/d")
    (True, False)
    """
    return url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file()
