"""Database URL, engine, sessions and migrations (Alembic, run from the scripts shipped inside this package)."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from generator.store.base import Base
from generator.store.existing import ENV_URL, SQLITE_NAME, database_url  # noqa: F401 (callers say db.database_url)

# "package:folder" lets an installed docgen (no checkout, no alembic.ini) find its migrations
SCRIPT_LOCATION = "generator.store:migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
    cursor.execute("PRAGMA journal_mode=WAL")  # the job worker writes while pages read
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created, foreign keys and WAL switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True)


def session_factory(eng: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (pages render them after the transaction)."""
    return sessionmaker(eng, expire_on_commit=False)


def load_models() -> None:
    """Import every model module of this package, so that ``Base.metadata`` knows every table."""
    package = importlib.import_module("generator.store")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("db", "migrations") and not info.ispkg:
            importlib.import_module(f"generator.store.{info.name}")


def _config(eng: Engine, connection=None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("sqlalchemy.url", eng.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


@contextlib.contextmanager
def _migrating(eng: Engine) -> Iterator[Connection]:
    """A connection in a transaction for migrations.

    On SQLite, foreign keys are off meanwhile (Alembic's recipe for batch mode): altering a table there copies it, drops
    the original and renames the copy, which SQLite refuses while another table's rows point into it. Every key is
    checked before the commit, and they are on again afterwards.
    """
    sqlite = eng.dialect.name == "sqlite"
    with eng.connect() as connection:
        if sqlite:  # a PRAGMA inside a transaction does nothing: this one runs before it
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() if sqlite else []
                if broken:
                    raise IntegrityError("PRAGMA foreign_key_check", None, Exception(f"migration left rows without their parent: {broken[:5]}"))
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest); an empty database gets every table."""
    from alembic import command

    eng = url if isinstance(url, Engine) else engine(url)
    try:
        with _migrating(eng) as connection:
            command.upgrade(_config(eng, connection), revision)
    finally:
        if not isinstance(url, Engine):
            eng.dispose()


def downgrade(url: str | Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` ("base" removes every table)."""
    from alembic import command

    eng = url if isinstance(url, Engine) else engine(url)
    try:
        with _migrating(eng) as connection:
            command.downgrade(_config(eng, connection), revision)
    finally:
        if not isinstance(url, Engine):
            eng.dispose()


def current(eng: Engine) -> str | None:
    """The database's Alembic revision, None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with eng.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def heads() -> tuple[str, ...]:
    """The newest revision(s) the shipped migrations define."""
    from alembic.script import ScriptDirectory

    cfg = _config(create_engine("sqlite://"))
    return tuple(ScriptDirectory.from_config(cfg).get_heads())


def is_current(eng: Engine) -> bool:
    """Whether the database is at the newest revision."""
    return current(eng) in heads() and len(heads()) == 1


def prepare_database(url: str, *, migrate: bool = True) -> Engine:
    """An engine on a database at the newest revision: an empty one is migrated, an outdated one refused."""
    from generator.errors import SetupError

    eng = engine(url)
    revision = current(eng)
    if revision is None and migrate:
        upgrade(eng)
    elif revision not in heads():
        eng.dispose()
        raise SetupError(f"the database is at revision {revision}, docgen needs {', '.join(heads())}: run `docgen db upgrade`")
    return eng


def tables(eng: Engine) -> set[str]:
    """The tables the database has (tests compare them with the models)."""
    return set(inspect(eng).get_table_names())


__all__ = ["Base", "database_url", "engine", "session_factory", "upgrade", "downgrade", "current", "heads", "prepare_database", "load_models"]
