"""The site's database only if it exists already: located without importing SQLAlchemy, never created or migrated."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from generator.site import Site
from generator.store.url import absent, database_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@contextlib.contextmanager
def existing_session(site: Site, table: str) -> Iterator[Session | None]:
    """A session on the site's database when it exists and has ``table``, else None (SQLAlchemy is imported only then).

    For readers that must not need the portal set up: a build looking up its approval, a diff listing affected packs.
    """
    url = database_url(site)
    if absent(url):
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
