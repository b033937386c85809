"""Database URL, engine, sessions and migrations (Alembic, run from the scripts shipped inside this package)."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from generator import settings
from generator.store.audit import CHECKPOINT_NAME
from generator.store.base import Base
from generator.store.url import ENV_URL, SQLITE_NAME, database_url  # noqa: F401 (callers say db.database_url)

if TYPE_CHECKING:
    from alembic.config import Config  # imported when migrating: `import generator.store.db` stays light

# "package:folder" lets an installed docgen (no checkout, no alembic.ini) find its migrations
SCRIPT_LOCATION = "generator.store:migrations"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
    cursor.execute("PRAGMA journal_mode=WAL")  # the job worker writes while pages read
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


BACKENDS = {"sqlite": "pysqlite", "postgresql": "psycopg"}  # backend → the driver docgen ships (SQLite built in; psycopg: the postgres extra)
ALLOWED_URLS = "sqlite:///PATH or postgresql+psycopg://USER@HOST[:PORT]/DB"
CONNECT_TIMEOUT = 10  # seconds to wait for a database server before calling it unreachable
# the driver's words for "no server answers there" (exit 5) as against a wrong name, password or database (exit 2)
_UNREACHABLE = re.compile(r"connection refused|timed? ?out|timeout expired|no route to host|network is unreachable|"
                          r"could not translate host name|name or service not known|temporary failure in name resolution|"
                          r"server closed the connection|could not connect", re.IGNORECASE)


def setting_name(url_option: str | None) -> str:
    """What the user set to choose the database, for messages: --database, DOCGEN_DATABASE_URL or DOCGEN_STORAGE (the default file).

    >>> setting_name("sqlite:///x"), setting_name(None) in ("DOCGEN_DATABASE_URL", "DOCGEN_STORAGE")
    ('--database', True)
    """
    if url_option:
        return "--database"
    return ENV_URL if settings.current().database_url else "DOCGEN_STORAGE"


def _shown(url: str | URL) -> str:
    """The URL as the user wrote it, without its password."""
    try:
        return (url if isinstance(url, URL) else make_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def checked_url(url: str, setting: str = ENV_URL) -> URL:
    """``url`` parsed, of a backend and driver docgen supports; SettingError (exit 2) naming ``setting`` otherwise.

    >>> checked_url("sqlite:////srv/docgen.sqlite3").get_backend_name()
    'sqlite'
    >>> checked_url("mysql://u@h/d")
    Traceback (most recent call last):
    generator.errors.SettingError: DOCGEN_DATABASE_URL: 'mysql://u@h/d': the mysql database is not supported; allowed: sqlite:///PATH or postgresql+psycopg://USER@HOST[:PORT]/DB
    """
    from generator.errors import MissingExtra, SettingError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingError(setting, f"{url!r} is not a database URL", allowed=ALLOWED_URLS) from None
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise SettingError(setting, f"{_shown(parsed)!r}: the {backend} database is not supported", allowed=ALLOWED_URLS) from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise SettingError(setting, f"{_shown(parsed)!r}: unknown database driver {parsed.get_driver_name()!r}", allowed=ALLOWED_URLS) from None
    if dialect.driver != BACKENDS[backend]:
        raise SettingError(setting, f"{_shown(parsed)!r}: the {dialect.driver} driver is not supported", allowed=ALLOWED_URLS)
    try:
        dialect.import_dbapi()
    except ModuleNotFoundError as exc:
        raise (MissingExtra.of(exc) or exc) from None
    if backend == "sqlite" and parsed.database in (None, ""):
        raise SettingError(setting, f"{_shown(parsed)!r}: an in-memory database keeps nothing", allowed=ALLOWED_URLS)
    return parsed


def check_database(url: str, setting: str = ENV_URL) -> None:
    """Connect once and read the catalogue: a URL docgen cannot use is a bad setting (exit 2), a server that does not answer exit 5.

    Called before a command migrates or reads, so a mistyped DOCGEN_DATABASE_URL, a file that is no database or a server
    that is down reads as one line naming the setting, never as a crash.
    """
    from generator.errors import ServiceUnavailable, SettingError

    parsed = checked_url(url, setting)
    eng = engine(url)
    try:
        with eng.connect() as connection:
            # SQLite opens any file lazily: reading its catalogue is what finds a file that is not a database
            connection.execute(text("SELECT count(*) FROM sqlite_master" if parsed.get_backend_name() == "sqlite" else "SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None and str(exc.orig).strip() else type(exc.orig).__name__
        shown = _shown(parsed)
        if parsed.get_backend_name() == "sqlite":
            what = "is not a SQLite database" if "not a database" in reason or "malformed" in reason else f"cannot be opened ({reason})"
            raise SettingError(setting, f"{parsed.database!r} {what}", allowed="a SQLite database file (created when missing) in a writable folder") from None
        if _UNREACHABLE.search(reason):
            raise ServiceUnavailable(setting, f"{shown!r}: the database server does not answer ({reason})") from None
        raise SettingError(setting, f"{shown!r}: the database refused the connection ({reason})") from None
    finally:
        eng.dispose()


def engine(url: str, *, audit_checkpoint: Path | None = None) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created, foreign keys and WAL switched on.

    ``audit_checkpoint``: the file anchoring the audit log's head outside the database (generator.store.audit); the
    CLI and the portal pass ``<DOCGEN_STORAGE>/audit-head.json`` (:func:`checkpoint_for`).
    """
    parsed = make_url(url)
    options = {"docgen_audit_checkpoint": str(audit_checkpoint)} if audit_checkpoint else {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, execution_options=options)
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, execution_options=options)


def checkpoint_for(storage: Path) -> Path:
    """Where the audit log's head is anchored for a site whose files live in ``storage``."""
    return Path(storage) / CHECKPOINT_NAME


def session_factory(eng: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (pages render them after the transaction).

    Every model is imported first: tables refer to each other by name across modules (pack_records.client_id → clients).
    """
    load_models()
    return sessionmaker(eng, expire_on_commit=False)


def load_models() -> None:
    """Import every model module of this package, so that ``Base.metadata`` knows every table."""
    package = importlib.import_module("generator.store")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("db", "migrations") and not info.ispkg:
            importlib.import_module(f"generator.store.{info.name}")


def _config(eng: Engine, connection: Connection | None = None) -> Config:
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


def prepare_database(url: str, *, migrate: bool = True, audit_checkpoint: Path | None = None) -> Engine:
    """An engine on a database at the newest revision: an empty one is migrated, an outdated one refused."""
    from generator.errors import SetupError

    eng = engine(url, audit_checkpoint=audit_checkpoint)
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


__all__ = ["Base", "database_url", "check_database", "checked_url", "setting_name",
           "engine", "session_factory", "upgrade", "downgrade", "current", "heads", "prepare_database", "load_models"]
