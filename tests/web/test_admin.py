"""Administration through the portal (issue 24): agencies, users, roles, deactivation, one-time password links, the last
admin, everyone's own password — each change in the audit log, who did what to whom.

Expectations come from the issue: a deactivated user's sessions end at once and they cannot log in; a link is single
use, expires, is stored only as its SHA-256; the last active admin cannot be removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re

import pytest
from sqlalchemy import func, select

from generator.errors import AccountError
from generator.store.accounts import Agency, PasswordReset, User, WebSession
from generator.store.audit import AuditEntry, verify
from generator.web import accounts
from tests.web.conftest import CSRF

LINK = re.compile(r'id="reset-link"[^>]*>([^<]+)</a>')
NEW_PASSWORD = "新しいパスワード-2026-12"  # 14 characters, any script is allowed


def audit(portal, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with portal.sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


def form_token(client, url: str) -> str:  # type: ignore[no-untyped-def]
    return CSRF.search(client.get(url).text).group(1)


def log_in(portal, email: str, password: str):  # type: ignore[no-untyped-def]
    """A client logged in with these credentials (asserting it worked)."""
    client = portal.client()
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": client.csrf, "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text[:300]
    return client


def login_status(portal, email: str, password: str) -> int:  # type: ignore[no-untyped-def]
    client = portal.client()
    return client.post("/login", data={"email": email, "password": password, "csrf_token": client.csrf, "next": "/"}).status_code


def agency_id(portal, name: str) -> int:  # type: ignore[no-untyped-def]
    with portal.sessions() as s:
        return s.scalar(select(Agency.id).where(Agency.name == name))


def create_user(portal, admin, email: str, role: str, agency: str) -> str:  # type: ignore[no-untyped-def]
    """Create through the admin form; returns the one-time link shown to the admin."""
    r = admin.post("/admin/users", data={"email": email, "name": "新人", "role": role, "agency_id": str(agency_id(portal, agency)),
                                         "csrf_token": admin.csrf})
    assert r.status_code == 200, r.text[:500]
    return html.unescape(LINK.search(r.text).group(1))


def set_password(portal, link: str, password: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    client = portal.client()
    path = link.removeprefix("http://127.0.0.1")
    page = client.get(path)
    assert page.status_code == 200, page.text[:300]
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    return client.post("/password/reset", data={"token": token, "password": password, "confirm": password,
                                                "csrf_token": CSRF.search(page.text).group(1)})


@pytest.fixture(scope="module")
def admin(portal):  # type: ignore[no-untyped-def]
    return portal.client("admin")


def test_admin_creates_an_agency_once(portal, admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/agencies", data={"name": "  あおば保険サービス株式会社 ", "csrf_token": admin.csrf})
    assert r.status_code == 303
    assert "あおば保険サービス株式会社" in admin.get("/admin/agencies").text
    again = admin.post("/admin/agencies", data={"name": "あおば保険サービス株式会社", "csrf_token": admin.csrf})
    assert again.status_code == 400 and "既に登録されています" in again.text
    empty = admin.post("/admin/agencies", data={"name": "   ", "csrf_token": admin.csrf})
    assert empty.status_code == 400 and "代理店名: 入力してください" in empty.text
    (entry,) = audit(portal, "agency.created")
    assert (entry.actor, entry.target) == (portal.emails["admin"], "あおば保険サービス株式会社")


def test_a_new_user_sets_their_own_password_through_a_one_time_link(portal, admin) -> None:  # type: ignore[no-untyped-def]
    link = create_user(portal, admin, "shinjin@example.jp", "compliance", "あおば保険サービス株式会社")
    assert "/password/reset?token=" in link
    token = link.rsplit("=", 1)[1]
    with portal.sessions() as s:
        user = s.scalar(select(User).where(User.email == "shinjin@example.jp"))
        assert (user.role, user.agency.name, user.active) == ("compliance", "あおば保険サービス株式会社", True)
        (reset,) = s.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id))
        assert reset.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is stored
        assert dt.timedelta(hours=23, minutes=59) < reset.expires_at - reset.created_at <= dt.timedelta(hours=24)
    assert login_status(portal, "shinjin@example.jp", NEW_PASSWORD) == 401  # no password yet
    done = set_password(portal, link)
    assert done.status_code == 200 and "パスワードを設定しました" in done.text
    log_in(portal, "shinjin@example.jp", NEW_PASSWORD)
    # single use: the same link again is refused, in Japanese
    again = portal.client().get(link.removeprefix("http://127.0.0.1"))
    assert again.status_code == 410 and "使用済み" in again.text and 'id="reset-form"' not in again.text
    assert [e.target for e in audit(portal, "user.created")] == ["shinjin@example.jp"]
    assert audit(portal, "user.created")[0].actor == portal.emails["admin"]
    assert [e.actor for e in audit(portal, "password.reset")] == ["shinjin@example.jp"]


def test_a_reset_link_expires_and_an_altered_one_is_refused(portal, admin) -> None:  # type: ignore[no-untyped-def]
    target = portal.user("marketing")
    r = admin.post(f"/admin/users/{target.id}/reset", data={"csrf_token": admin.csrf})
    assert r.status_code == 200 and "一度だけ使えます" in r.text and "24 時間" in r.text
    link = html.unescape(LINK.search(r.text).group(1)).removeprefix("http://127.0.0.1")
    altered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    bad = portal.client().get(altered)
    assert bad.status_code == 404 and "正しくありません" in bad.text
    with portal.sessions() as s:  # a day passes
        reset = s.scalar(select(PasswordReset).where(PasswordReset.user_id == target.id, PasswordReset.used_at.is_(None)))
        reset.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        s.commit()
    late = portal.client().get(link)
    assert late.status_code == 410 and "有効期限が切れています" in late.text
    # posting the expired link does not set a password either
    client = portal.client()
    token = link.rsplit("=", 1)[1]
    r = client.post("/password/reset", data={"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": client.csrf})
    assert r.status_code == 410 and login_status(portal, portal.emails["marketing"], NEW_PASSWORD) == 401
    assert login_status(portal, portal.emails["marketing"], portal.password) == 303


def test_a_new_link_retires_the_previous_one(portal, admin) -> None:  # type: ignore[no-untyped-def]
    target = portal.user("other_agent")
    first = LINK.search(admin.post(f"/admin/users/{target.id}/reset", data={"csrf_token": admin.csrf}).text).group(1)
    second = LINK.search(admin.post(f"/admin/users/{target.id}/reset", data={"csrf_token": admin.csrf}).text).group(1)
    assert portal.client().get(html.unescape(first).removeprefix("http://127.0.0.1")).status_code == 410
    assert portal.client().get(html.unescape(second).removeprefix("http://127.0.0.1")).status_code == 200


def test_the_link_form_checks_the_new_password(portal, admin) -> None:  # type: ignore[no-untyped-def]
    target = portal.user("compliance")
    link = html.unescape(LINK.search(admin.post(f"/admin/users/{target.id}/reset", data={"csrf_token": admin.csrf}).text).group(1))
    short = set_password(portal, link, "短い")
    assert short.status_code == 400 and "2文字です。10文字以上にしてください" in short.text
    client = portal.client()
    page = client.get(link.removeprefix("http://127.0.0.1"))
    token = link.rsplit("=", 1)[1]
    r = client.post("/password/reset", data={"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x",
                                             "csrf_token": CSRF.search(page.text).group(1)})
    assert r.status_code == 400 and "確認のための入力と一致しません" in r.text
    no_csrf = client.post("/password/reset", data={"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert no_csrf.status_code == 403
    assert login_status(portal, portal.emails["compliance"], portal.password) == 303  # nothing changed


def test_deactivating_ends_the_sessions_at_once_and_blocks_login(portal, admin) -> None:  # type: ignore[no-untyped-def]
    agent = portal.client("agent")
    assert agent.get("/history").status_code == 200
    target = portal.user("agent")
    r = admin.post(f"/admin/users/{target.id}/deactivate", data={"csrf_token": admin.csrf})
    assert r.status_code == 303
    assert "無効にしました" in admin.get(r.headers["location"]).text
    with portal.sessions() as s:
        assert s.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == target.id)) == 0
    r = agent.get("/history")  # the very next request of the logged-in agent
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert login_status(portal, portal.emails["agent"], portal.password) == 401
    again = admin.post(f"/admin/users/{target.id}/reset", data={"csrf_token": admin.csrf})
    assert again.status_code == 400 and "無効です" in again.text  # no link for a deactivated user
    (entry,) = audit(portal, "user.deactivated")
    assert (entry.actor, entry.target, entry.detail["sessions_ended"]) == (portal.emails["admin"], portal.emails["agent"], 1)
    assert admin.post(f"/admin/users/{target.id}/reactivate", data={"csrf_token": admin.csrf}).status_code == 303
    assert login_status(portal, portal.emails["agent"], portal.password) == 303
    assert audit(portal, "user.reactivated")[0].target == portal.emails["agent"]


def test_a_role_change_applies_to_the_next_request(portal, admin) -> None:  # type: ignore[no-untyped-def]
    other = portal.client("other_agent")
    assert other.get("/compliance").status_code == 403
    target = portal.user("other_agent")
    assert admin.post(f"/admin/users/{target.id}/role", data={"role": "compliance", "csrf_token": admin.csrf}).status_code == 303
    assert other.get("/compliance").status_code == 200
    bad = admin.post(f"/admin/users/{target.id}/role", data={"role": "root", "csrf_token": admin.csrf})
    assert bad.status_code == 400 and "選べません" in bad.text
    assert admin.post(f"/admin/users/{target.id}/role", data={"role": "agent", "csrf_token": admin.csrf}).status_code == 303
    assert other.get("/compliance").status_code == 403
    changes = [(e.actor, e.target, e.detail["from"], e.detail["to"]) for e in audit(portal, "user.role_changed")]
    assert changes == [(portal.emails["admin"], portal.emails["other_agent"], "agent", "compliance"),
                       (portal.emails["admin"], portal.emails["other_agent"], "compliance", "agent")]


def test_the_last_active_admin_cannot_be_removed(portal, admin) -> None:  # type: ignore[no-untyped-def]
    me = portal.user("admin")
    for action, data in (("deactivate", {}), ("role", {"role": "agent"})):
        r = admin.post(f"/admin/users/{me.id}/{action}", data={"csrf_token": admin.csrf, **data})
        assert r.status_code == 400 and "最後の有効な管理者" in r.text, r.text[:400]
    assert portal.user("admin").active and portal.user("admin").role == "admin"
    # a second admin: now the first may step down, and then the second is the last one
    link = create_user(portal, admin, "admin2@example.jp", "admin", "損保本社")
    assert set_password(portal, link).status_code == 200
    second = log_in(portal, "admin2@example.jp", NEW_PASSWORD)
    second.csrf = form_token(second, "/admin")
    r = admin.post(f"/admin/users/{me.id}/role", data={"role": "compliance", "csrf_token": admin.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/"  # stepped down: no admin page to return to
    assert admin.get("/admin").status_code == 403
    with portal.sessions() as s:
        second_id = s.scalar(select(User.id).where(User.email == "admin2@example.jp"))
    r = second.post(f"/admin/users/{second_id}/deactivate", data={"csrf_token": second.csrf})
    assert r.status_code == 400 and "最後の有効な管理者" in r.text
    # the first becomes admin again (for the tests after this one)
    assert second.post(f"/admin/users/{me.id}/role", data={"role": "admin", "csrf_token": second.csrf}).status_code == 303


def test_the_last_admin_rule_holds_below_the_router(portal) -> None:  # type: ignore[no-untyped-def]
    with portal.sessions() as s:
        admins = list(s.scalars(select(User).where(User.role == "admin", User.active.is_(True))))
        for extra in admins[1:]:
            extra.active = False
        s.flush()
        only, someone = admins[0], s.scalar(select(User).where(User.email == portal.emails["compliance"]))
        with pytest.raises(AccountError, match="最後の有効な管理者"):
            accounts.set_active(s, someone, only, False)
        with pytest.raises(AccountError, match="最後の有効な管理者"):
            accounts.change_role(s, someone, only, "marketing")
        s.rollback()


def test_everyone_changes_their_own_password(portal) -> None:  # type: ignore[no-untyped-def]
    email = portal.emails["marketing"]
    elsewhere = portal.client("marketing")  # the same person on another device
    me = portal.client("marketing")
    me.csrf = form_token(me, "/account/password")
    wrong = me.post("/account/password", data={"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                               "csrf_token": me.csrf})
    assert wrong.status_code == 400 and "現在のパスワード: 正しくありません" in wrong.text
    short = me.post("/account/password", data={"current": portal.password, "password": "123456789", "confirm": "123456789",
                                               "csrf_token": me.csrf})
    assert short.status_code == 400 and "9文字です。10文字以上にしてください" in short.text
    no_csrf = me.post("/account/password", data={"current": portal.password, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert no_csrf.status_code == 403
    ok = me.post("/account/password", data={"current": portal.password, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                            "csrf_token": me.csrf})
    assert ok.status_code == 303 and "パスワードを変更しました" in me.get(ok.headers["location"]).text
    assert me.get("/marketing").status_code == 200  # this session goes on
    assert elsewhere.get("/marketing").status_code == 303  # the other device is logged out
    assert login_status(portal, email, portal.password) == 401 and login_status(portal, email, NEW_PASSWORD) == 303
    with portal.sessions() as s:
        stored = s.scalar(select(User.password_hash).where(User.email == email))
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored
    assert audit(portal, "password.changed")[-1].actor == email


def test_admin_forms_need_the_csrf_token(portal, admin) -> None:  # type: ignore[no-untyped-def]
    target = portal.user("compliance")
    for path, data in (("/admin/agencies", {"name": "CSRFなし"}), (f"/admin/users/{target.id}/deactivate", {}),
                       ("/admin/users", {"email": "x@example.jp", "role": "agent", "agency_id": "1"})):
        assert admin.post(path, data=data).status_code == 403
    assert portal.user("compliance").active


def test_an_unknown_user_is_404(portal, admin) -> None:  # type: ignore[no-untyped-def]
    assert admin.get("/admin/users/999999").status_code == 404
    assert admin.post("/admin/users/999999/deactivate", data={"csrf_token": admin.csrf}).status_code == 404


def test_the_audit_chain_holds(portal) -> None:  # type: ignore[no-untyped-def]
    with portal.sessions() as s:
        assert verify(s) == []
