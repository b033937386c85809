"""The portal's commands: ``docgen serve``, ``docgen db upgrade``, ``docgen users add`` (added to the CLI's parser).

Errors are raised as docgen exceptions; ``generator.cli.commands`` turns them into messages and exit codes.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from generator import settings
from generator.errors import InputError, SetupError

if TYPE_CHECKING:
    from generator.cli.output import Output
    from generator.site import Site


def _site(args: argparse.Namespace) -> Site:
    from generator import api

    return api.Site.from_env(**{k: getattr(args, k, None) for k in ("content", "templates", "outputs", "cache")})


def _coalesce(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 200:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number of packs; allowed: 1-200")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: not a port number; allowed: 1-65535")
    return int(text)


LANE_START = 120.0  # seconds docgen serve waits for its warm lanes (a process and a LibreOffice each) before it answers


def cmd_serve(args: argparse.Namespace, out: Output | None = None) -> int:
    import uvicorn

    from generator.batch.lanes import WarmLanes
    from generator.compliance.delivery import DeliverySettings
    from generator.documents.warm import ConverterPool
    from generator.store import db
    from generator.web.app import create_app

    site = _site(args)
    delivery = DeliverySettings.from_env()  # a bad DOCGEN_SMTP_URL (or friend) stops here, before the database or LibreOffice
    db.check_database(args.database or db.database_url(site), db.setting_name(args.database))  # before LibreOffice starts
    # one warm LibreOffice per core for the portal's jobs (an agent waits for the pack): pre-started here, closed on exit
    pool = ConverterPool()
    coalesce = getattr(args, "coalesce", None)
    # coalesced runs are laid out and merged in lane processes with a warm LibreOffice each: not under this process's GIL
    lanes = WarmLanes(pool.size, fallback=pool) if coalesce != 1 else None
    try:
        if lanes is not None:
            lanes.wait_ready(timeout=LANE_START)
        app = create_app(site, args.database, converter=pool, delivery=delivery, coalesce=coalesce, warm_lanes=lanes)
        print(f"docgen portal on http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
        # X-Forwarded-Proto/For are believed from these addresses only (uvicorn's proxy headers): the proxy that ends TLS
        trusted = settings.current().forwarded_allow_ips  # DOCGEN_FORWARDED_ALLOW_IPS
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if getattr(args, "quiet", False) else "info",
                    proxy_headers=True, forwarded_allow_ips=trusted)
    finally:
        if lanes is not None:
            lanes.close()
        pool.close()
    return 0


def cmd_db_upgrade(args: argparse.Namespace, out: Output | None = None) -> int:
    from sqlalchemy import make_url

    from generator.store import db

    url = args.database or db.database_url(_site(args))
    db.check_database(url, db.setting_name(args.database))
    try:
        db.upgrade(url)
        eng = db.engine(url)
        revision = db.current(eng)
        eng.dispose()
    except Exception as exc:  # the driver's own message, on one line, without a traceback
        raise SetupError(f"database {make_url(url).render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}") from exc
    print(f"database at revision {revision}")
    return 0


def read_password(min_length: int, stdin: TextIO | None = None, prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The new password (at least ``min_length`` characters): prompted twice on a terminal, else the first line of stdin. Never a default."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = prompt("password: ")
        if first != prompt("password again: "):
            raise InputError("password", "(hidden)", "the two entries differ")
    else:
        first = stdin.readline().rstrip("\r\n")
    if len(first) < min_length:
        raise InputError("password", "(hidden)", f"is {len(first)} characters long; at least {min_length} are needed")
    return first


def cmd_users_add(args: argparse.Namespace, out: Output | None = None) -> int:
    from sqlalchemy import select

    from generator.store import db
    from generator.store.accounts import EMAIL, MIN_PASSWORD, ROLES, Agency, User
    from generator.store.db import prepare_database
    from generator.web.security import hash_password

    email = args.email.strip().lower()
    if not EMAIL.match(email):
        raise InputError("EMAIL", args.email, "is not an e-mail address")
    if args.role not in ROLES:
        raise InputError("--role", args.role, "unknown role", allowed=", ".join(ROLES))
    agency_name = args.agency.strip()
    if not agency_name or len(agency_name) > 200:
        raise InputError("--agency", args.agency, "must be 1-200 characters")
    password = read_password(MIN_PASSWORD)
    url = args.database or db.database_url(_site(args))
    db.check_database(url, db.setting_name(args.database))
    eng = prepare_database(url)
    try:
        with db.session_factory(eng)() as session:
            if session.scalar(select(User).where(User.email == email)):
                raise InputError("EMAIL", email, "a user with this e-mail already exists")
            agency = session.scalar(select(Agency).where(Agency.name == agency_name))
            if agency is None:
                agency = Agency(name=agency_name)
                session.add(agency)
                session.flush()
            session.add(User(email=email, name=(args.name or "").strip(), password_hash=hash_password(password), role=args.role,
                             agency_id=agency.id, active=True))
            session.commit()
    finally:
        eng.dispose()
    print(f"user {email} ({args.role}) added to {agency_name}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add serve, db and users to the docgen parser's subcommands."""
    common = {"json": False, "quiet": False, "verbose": False, "product": None}

    def parser(name: str, help_: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, **kw)
        p.add_argument("--database", help="database URL (default: DOCGEN_DATABASE_URL, else a SQLite file under DOCGEN_STORAGE)")
        p.set_defaults(**common)
        return p

    serve = parser("serve", "run the agent portal (first start on an empty database creates its tables)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    serve.add_argument("--coalesce", type=_coalesce, default=None, metavar="N",
                       help="agents' packs queued while LibreOffice is busy are built together, at most N a run (default: 12; 1: one pack a run)")
    serve.set_defaults(func=cmd_serve)

    dbp = sub.add_parser("db", help="the portal's database", description="the portal's database")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="migrate the database to the newest revision")
    up.add_argument("--database", help="database URL (default: DOCGEN_DATABASE_URL, else SQLite under DOCGEN_STORAGE)")
    up.set_defaults(func=cmd_db_upgrade, **common)

    users = sub.add_parser("users", help="portal accounts", description="portal accounts")
    usub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="create an account; the password is prompted (or read from stdin when not a terminal)")
    add.add_argument("email", metavar="EMAIL")
    add.add_argument("--agency", required=True, help="agency name (created if new)")
    add.add_argument("--role", required=True, choices=["agent", "compliance", "marketing", "admin"])
    add.add_argument("--name", default="", help="the person's name, printed as 担当 on letters")
    add.add_argument("--database", help="database URL (default: DOCGEN_DATABASE_URL, else SQLite under DOCGEN_STORAGE)")
    add.set_defaults(func=cmd_users_add, **common)
