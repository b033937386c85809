"""Passwords, server-side sessions, CSRF tokens, login throttling and the security headers of every response.

The cookie carries only a random token; the database keeps its SHA-256, so a leaked table opens no session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import argon2
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from generator import settings
from generator.errors import SettingError
from generator.store.accounts import LoginAttempt, User, WebSession
from generator.store.base import utcnow

COOKIE = "docgen_session"
SESSION_TTL = dt.timedelta(hours=8)  # a working day; the agent logs in again the next morning
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
CSRF_FIELD = "csrf_token"
PRESESSION_COOKIE = "docgen_csrf"  # before login: double-submit token for the login form
CSRF_HEADER = "x-csrf-token"

# Argon2id cost of new hashes: argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB, 4 lanes) unless a
# variable says otherwise. A stored hash carries its own cost, so changing these never locks anyone out.
_ARGON2_DEFAULTS = {"time_cost": argon2.DEFAULT_TIME_COST, "memory_cost": argon2.DEFAULT_MEMORY_COST, "parallelism": argon2.DEFAULT_PARALLELISM}


def argon2_parameters(chosen: settings.Settings | None = None) -> dict[str, int]:
    """The Argon2id cost for new hashes: ``DOCGEN_ARGON2_*`` (``chosen``, default :func:`generator.settings.current`) where
    set, else argon2-cffi's default; SettingError naming the variable below Argon2's floor (read when this module is imported)."""
    chosen = chosen or settings.current()
    given = {"time_cost": chosen.argon2_time_cost, "memory_cost": chosen.argon2_memory_kib, "parallelism": chosen.argon2_parallelism}
    cost = {key: value if value is not None else _ARGON2_DEFAULTS[key] for key, value in given.items()}
    if cost["memory_cost"] < 8 * cost["parallelism"]:  # Argon2's own floor: 8 KiB per lane
        raise SettingError("DOCGEN_ARGON2_MEMORY_KIB", f"{str(cost['memory_cost'])!r}: is below 8 KiB per lane ({cost['parallelism']} lanes)",
                           f"at least {8 * cost['parallelism']}")
    return cost


# HTTPS (DOCGEN_HTTPS): "auto" sends HSTS and marks cookies Secure when the request came over https (directly, or through
# a proxy whose X-Forwarded-Proto uvicorn trusts: DOCGEN_FORWARDED_ALLOW_IPS); "always" on every response (TLS ends at a
# proxy that forwards nothing); "off" never (plain-http development only). HSTS max-age: DOCGEN_HSTS_MAX_AGE.


def https_settings(chosen: settings.Settings | None = None) -> tuple[str, int]:
    """(mode, HSTS max-age in seconds) from DOCGEN_HTTPS and DOCGEN_HSTS_MAX_AGE (``chosen``, default: the current settings).

    >>> https_settings(settings.load({})), https_settings(settings.load({"DOCGEN_HTTPS": "Always", "DOCGEN_HSTS_MAX_AGE": "600"}))
    (('auto', 31536000), ('always', 600))
    """
    chosen = chosen or settings.current()
    return chosen.https, chosen.hsts_max_age


def is_https(scheme: str, mode: str) -> bool:
    """Whether a response to a request of ``scheme`` gets HSTS and Secure cookies under ``mode``.

    >>> is_https("https", "auto"), is_https("http", "auto"), is_https("http", "always"), is_https("https", "off")
    (True, False, True, False)
    """
    return mode == "always" or (mode == "auto" and scheme == "https")


_cost = argon2_parameters()
_hasher = PasswordHash((Argon2Hasher(time_cost=_cost["time_cost"], memory_cost=_cost["memory_cost"], parallelism=_cost["parallelism"]),))
# verifying against this when the e-mail is unknown makes both answers take as long
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# the stored PDF is framed by our own pack page for the preview, nothing else may frame it
CSP_FRAMEABLE = "default-src 'none'; frame-ancestors 'self'; base-uri 'none'"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def hash_password(password: str) -> str:
    """An Argon2id hash (cost: :func:`argon2_parameters`); the password itself is never stored."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """Whether ``password`` matches; an unknown user (None) costs one verification too."""
    if hashed is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hasher.verify(password, hashed)
    except Exception:  # a malformed stored hash is a failed login, not a server error
        return False


def token_hash(token: str) -> str:
    """What the sessions table stores for a cookie token.

    >>> token_hash("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Session, user: User, now: dt.datetime | None = None) -> str:
    """A new session for ``user``; returns the token for the cookie (shown once, stored hashed)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    db.add(WebSession(token_hash=token_hash(token), user_id=user.id, csrf_secret=secrets.token_urlsafe(32),
                      created_at=now, expires_at=now + SESSION_TTL))
    db.execute(delete(WebSession).where(WebSession.expires_at < now))  # housekeeping: drop expired sessions
    return token


def find_session(db: Session, token: str | None, now: dt.datetime | None = None) -> WebSession | None:
    """The live session behind a cookie token, or None (missing, unknown, expired or the user disabled)."""
    if not token or len(token) > 200:
        return None
    found = db.get(WebSession, token_hash(token))
    if found is None or found.expires_at <= (now or utcnow()) or not found.user.active:
        return None
    return found


def close_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


def csrf_ok(session: WebSession | None, given: str | None) -> bool:
    """Whether a form field or X-CSRF-Token header carries this session's token (constant-time compare)."""
    if session is None or not given:
        return False
    return hmac.compare_digest(session.csrf_secret.encode(), given.encode())


def presession_ok(cookie: str | None, given: str | None) -> bool:
    """Before login: the form's token must equal the pre-session cookie's (a cross-site page can read neither)."""
    if not cookie or not given:
        return False
    return hmac.compare_digest(cookie.encode(), given.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


# --- login throttling --------------------------------------------------------------------------


def throttled(db: Session, email: str, ip: str, now: dt.datetime | None = None) -> bool:
    """Too many failed logins lately for this e-mail or from this address."""
    since = (now or utcnow()) - THROTTLE_WINDOW
    failures = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    by_email = db.scalar(failures.where(LoginAttempt.email == email)) or 0
    by_ip = db.scalar(failures.where(LoginAttempt.ip == ip)) or 0
    return by_email >= MAX_FAILURES_PER_EMAIL or by_ip >= MAX_FAILURES_PER_IP


def record_attempt(db: Session, email: str, ip: str, success: bool) -> None:
    db.add(LoginAttempt(email=email, ip=ip, success=success, at=utcnow()))


def authenticate(db: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None."""
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    ok = verify_password(password, user.password_hash if user else None)
    return user if ok and user is not None and user.active else None
