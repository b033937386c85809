"""Logins, sessions, CSRF, throttling and headers, checked against what issue 11 and OWASP's session rules ask."""

from __future__ import annotations

import datetime as dt
import hashlib

import argon2
import pytest
from sqlalchemy import select, update

from generator.errors import SettingError
from generator.settings import load as load_settings
from generator.store.accounts import User, WebSession
from generator.web import security
from tests.conftest import TEST_ARGON2

TOKEN_COOKIE = security.COOKIE


def test_pages_carry_the_security_headers(portal) -> None:  # type: ignore[no-untyped-def]
    r = portal.client().get("/login")
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    assert "<script>" not in r.text and " on" not in r.text.split("<body", 1)[1].split(">", 1)[0]  # no inline script or handler


def test_login_sets_an_opaque_httponly_samesite_cookie_stored_hashed(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client()
    r = client.post("/login", data={"email": portal.emails["agent"], "password": portal.password, "csrf_token": client.csrf})
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(TOKEN_COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attributes and "samesite=lax" in cookie.lower()
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 32 and portal.emails["agent"] not in token
    with portal.sessions() as s:
        stored = {w.token_hash for w in s.scalars(select(WebSession))}
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored


def test_passwords_are_argon2_hashes(portal) -> None:  # type: ignore[no-untyped-def]
    with portal.sessions() as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
    assert hashes and all(h.startswith("$argon2id$") and portal.password not in h for h in hashes)
    # at the cost tests/conftest.py sets through DOCGEN_ARGON2_*; a login verifies against the cost its hash carries
    cost = "m={DOCGEN_ARGON2_MEMORY_KIB},t={DOCGEN_ARGON2_TIME_COST},p={DOCGEN_ARGON2_PARALLELISM}".format(**TEST_ARGON2)
    assert all(h.split("$")[3] == cost for h in hashes), hashes
    # unset, the cost is argon2-cffi's own default (RFC 9106 low-memory: t=3, 64 MiB, 4 lanes), never less
    library = argon2.PasswordHasher()
    assert security.argon2_parameters(load_settings({})) == {"time_cost": library.time_cost, "memory_cost": library.memory_cost,
                                              "parallelism": library.parallelism} == {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
    assert security.argon2_parameters(load_settings({"DOCGEN_ARGON2_TIME_COST": "4"}))["time_cost"] == 4
    for env in ({"DOCGEN_ARGON2_TIME_COST": "0"}, {"DOCGEN_ARGON2_MEMORY_KIB": "lots"}, {"DOCGEN_ARGON2_MEMORY_KIB": "16", "DOCGEN_ARGON2_PARALLELISM": "4"}):
        with pytest.raises(SettingError) as err:
            security.argon2_parameters(load_settings(env))
        assert err.value.field in env and err.value.exit_code == 2


def test_wrong_password_and_unknown_user_get_the_same_answer(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client()
    a = client.post("/login", data={"email": portal.emails["admin"], "password": "not it at all", "csrf_token": client.csrf})
    b = client.post("/login", data={"email": "ghost@example.jp", "password": "not it at all", "csrf_token": client.csrf})
    assert a.status_code == b.status_code == 401
    assert "メールアドレスまたはパスワードが違います" in a.text and "メールアドレスまたはパスワードが違います" in b.text
    assert TOKEN_COOKIE not in a.headers.get("set-cookie", "")


def test_forms_without_the_csrf_token_are_refused(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    form = {"client": "株式会社 CSRF", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}
    assert client.post("/packs", data=form).status_code == 403
    assert client.post("/packs", data=form | {"csrf_token": "forged"}).status_code == 403
    # another session's token does not work either
    other = portal.client("admin")
    assert client.post("/packs", data=form | {"csrf_token": other.csrf}).status_code == 403
    # the page's token, as a form field or as htmx's X-CSRF-Token header, does
    assert client.post("/packs", data=form | {"csrf_token": client.csrf}).status_code == 303
    assert client.post("/packs", data=form, headers={"X-CSRF-Token": client.csrf}).status_code == 303
    # and the login form needs its pre-session token too
    anon = portal.client()
    assert anon.post("/login", data={"email": portal.emails["agent"], "password": portal.password}).status_code == 403


def test_logout_ends_the_session_on_the_server(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    token = client.cookies.get(TOKEN_COOKIE)
    assert client.post("/logout", data={"csrf_token": client.csrf}).status_code == 303
    replay = portal.client()
    replay.cookies.set(TOKEN_COOKIE, token)
    r = replay.get("/history")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_expired_sessions_are_not_accepted(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    token = client.cookies.get(TOKEN_COOKIE)
    with portal.sessions() as s:
        s.execute(update(WebSession).where(WebSession.token_hash == security.token_hash(token))
                  .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        s.commit()
    assert client.get("/history").status_code == 303


def test_login_is_throttled_after_repeated_failures(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client()
    email = portal.emails["compliance"]
    for _ in range(security.MAX_FAILURES_PER_EMAIL):
        assert client.post("/login", data={"email": email, "password": "guess guess", "csrf_token": client.csrf}).status_code == 401
    # now even the right password waits: a guesser cannot tell when it got it right
    r = client.post("/login", data={"email": email, "password": portal.password, "csrf_token": client.csrf})
    assert r.status_code == 429 and TOKEN_COOKIE not in r.headers.get("set-cookie", "")


def test_login_redirects_only_within_the_site(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client()
    r = client.post("/login", data={"email": portal.emails["admin"], "password": portal.password, "csrf_token": client.csrf,
                                    "next": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/"



def test_oversized_bodies_are_refused_before_parsing(portal) -> None:  # type: ignore[no-untyped-def]
    from generator.web.app import MAX_BODY

    client = portal.client("agent")
    big = b"a" * (MAX_BODY + 1)
    r = client.post("/uploads", files={"file": ("list.csv", big, "text/csv")}, data={"csrf_token": client.csrf})
    assert r.status_code == 413 and r.headers["x-content-type-options"] == "nosniff"
