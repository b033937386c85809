"""Account administration: agencies, users, roles, (de)activation, one-time password links, own password; all audited.

Each function changes the session and records who did what to whom in the audit log; the caller commits (or not:
a refused change raises :class:`AccountError` before anything is added).
"""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata

from sqlalchemy import CursorResult, delete, func, select, text, update
from sqlalchemy.orm import Session

from generator.errors import AccountError
from generator.store.accounts import EMAIL, MIN_PASSWORD, ROLES, Agency, PasswordReset, User, WebSession
from generator.store.audit import record
from generator.store.base import utcnow
from generator.web import security
from generator.web.messages import ROLE_LABELS as ROLE_NAMES

MAX_PASSWORD = 1024  # the login form's own bound


def clean_text(value: str, field: str, *, required: bool, limit: int = 200) -> str:
    """``value`` trimmed; AccountError when empty (if required), too long or holding control characters.

    >>> clean_text("  さくら保険  ", "代理店名", required=True)
    'さくら保険'
    >>> clean_text("a\\x00b", "氏名", required=False)
    Traceback (most recent call last):
    ...
    generator.errors.AccountError: 氏名: 制御文字は使えません
    """
    value = value.strip()
    if required and not value:
        raise AccountError(field, "入力してください")
    if len(value) > limit:
        raise AccountError(field, f"{len(value)}文字です。{limit}文字以内にしてください")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value):
        raise AccountError(field, "制御文字は使えません")
    return value


def check_new_password(new: str, confirm: str, field: str = "新しいパスワード") -> str:
    """The new password when it is long enough and typed the same twice; AccountError otherwise.

    >>> check_new_password("0123456789", "0123456789")
    '0123456789'
    >>> check_new_password("short", "short")
    Traceback (most recent call last):
    ...
    generator.errors.AccountError: 新しいパスワード: 5文字です。10文字以上にしてください
    """
    if len(new) < MIN_PASSWORD:
        raise AccountError(field, f"{len(new)}文字です。{MIN_PASSWORD}文字以上にしてください")
    if len(new) > MAX_PASSWORD:
        raise AccountError(field, f"{MAX_PASSWORD}文字以内にしてください")
    if new != confirm:
        raise AccountError(field, "確認のための入力と一致しません")
    return new


def create_agency(db: Session, actor: User, name: str) -> Agency:
    name = clean_text(name, "代理店名", required=True)
    if db.scalar(select(Agency).where(Agency.name == name)):
        raise AccountError("代理店名", f"「{name}」は既に登録されています")
    agency = Agency(name=name, created_at=utcnow())
    db.add(agency)
    db.flush()
    record(db, actor, "agency.created", name, {"agency_id": agency.id})
    return agency


def create_user(db: Session, actor: User, *, email: str, name: str, role: str, agency_id: int, ttl: dt.timedelta) -> tuple[User, str]:
    """A new active user with no usable password, and the one-time link token with which they set their own."""
    email = email.strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise AccountError("メールアドレス", f"「{email[:60]}」はメールアドレスの形式ではありません（例：yamamoto@example.jp）")
    name = clean_text(name, "氏名", required=False)
    if role not in ROLES:
        raise AccountError("権限", f"「{role[:20]}」は選べません。選べるもの：{'、'.join(ROLE_NAMES.values())}")
    agency = db.get(Agency, agency_id)
    if agency is None:
        raise AccountError("代理店", "一覧にある代理店を選んでください")
    if db.scalar(select(User).where(User.email == email)):
        raise AccountError("メールアドレス", f"{email} は既に登録されています")
    # nobody knows this password: the user sets theirs through the link
    user = User(email=email, name=name, role=role, agency_id=agency.id, active=True, created_at=utcnow(),
                password_hash=security.hash_password(secrets.token_urlsafe(32)))
    db.add(user)
    db.flush()
    record(db, actor, "user.created", email, {"user_id": user.id, "role": role, "agency": agency.name})
    return user, issue_reset(db, actor, user, ttl)


def _lock_admins(db: Session) -> None:
    """Serialise changes that could leave no admin: two admins demoting each other at once must not both succeed."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("UPDATE users SET active = active WHERE 0"))  # takes SQLite's write lock before reading
    else:
        db.execute(select(User.id).where(User.role == "admin", User.active.is_(True)).with_for_update())


def _keeps_an_admin(db: Session, target: User, what: str) -> None:
    _lock_admins(db)
    others = db.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True), User.id != target.id))
    if target.role == "admin" and target.active and not others:
        raise AccountError("管理者", f"{target.email} は最後の有効な管理者です。{what}前に、別の管理者を作成してください")


def end_sessions(db: Session, user: User, keep: str | None = None) -> int:
    """Delete every server-side session of ``user`` (but the one whose token hash is ``keep``); how many ended."""
    stmt = delete(WebSession).where(WebSession.user_id == user.id)
    if keep:
        stmt = stmt.where(WebSession.token_hash != keep)
    result = db.execute(stmt)
    assert isinstance(result, CursorResult)  # what a DELETE gives (with its row count); typed as any Result
    return result.rowcount or 0


def _retire_links(db: Session, user: User, now: dt.datetime) -> None:
    db.execute(update(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)).values(used_at=now))


def set_active(db: Session, actor: User, user: User, active: bool) -> None:
    """Deactivate (sessions and open password links end at once) or reactivate ``user``."""
    if user.active == active:
        raise AccountError("状態", f"{user.email} は既に{'有効' if active else '無効'}です")
    if not active:
        _keeps_an_admin(db, user, "無効にする")
        ended = end_sessions(db, user)
        _retire_links(db, user, utcnow())
    user.active = active
    detail = {"user_id": user.id} if active else {"user_id": user.id, "sessions_ended": ended}
    record(db, actor, "user.reactivated" if active else "user.deactivated", user.email, detail)


def change_role(db: Session, actor: User, user: User, role: str) -> None:
    if role not in ROLES:
        raise AccountError("権限", f"「{role[:20]}」は選べません。選べるもの：{'、'.join(ROLE_NAMES.values())}")
    if role == user.role:
        raise AccountError("権限", f"{user.email} は既に{ROLE_NAMES[role]}です")
    if user.role == "admin":
        _keeps_an_admin(db, user, "降格する")
    old, user.role = user.role, role
    record(db, actor, "user.role_changed", user.email, {"user_id": user.id, "from": old, "to": role})


def issue_reset(db: Session, actor: User, user: User, ttl: dt.timedelta) -> str:
    """A one-time link token for ``user`` (shown once to the admin, stored hashed); earlier open links are retired."""
    if not user.active:
        raise AccountError("状態", f"{user.email} は無効です。先に有効にしてください")
    now = utcnow()
    _retire_links(db, user, now)
    token = security.new_token()
    db.add(PasswordReset(token_hash=security.token_hash(token), user_id=user.id, created_by_id=actor.id, created_at=now, expires_at=now + ttl))
    record(db, actor, "password.link_issued", user.email, {"user_id": user.id, "expires_at": (now + ttl).isoformat(timespec="seconds")})
    return token


LINK_UNKNOWN = "このリンクは正しくありません（途中で切れているか、書き換えられています）。管理者に新しいリンクを依頼してください"
LINK_USED = "このリンクは使用済みか、新しいリンクの発行で無効になりました。管理者に新しいリンクを依頼してください"
LINK_EXPIRED = "このリンクは有効期限が切れています。管理者に新しいリンクを依頼してください"
LINK_INACTIVE = "このアカウントは無効になっています。管理者にお問い合わせください"


def find_reset(db: Session, token: str | None, now: dt.datetime | None = None) -> tuple[PasswordReset | None, str]:
    """The open link behind ``token`` and "", or None and why not (unknown, used or retired, expired, user inactive)."""
    if not token or len(token) > 200:
        return None, LINK_UNKNOWN
    found = db.scalar(select(PasswordReset).where(PasswordReset.token_hash == security.token_hash(token)))
    if found is None:
        return None, LINK_UNKNOWN
    if found.used_at is not None:
        return None, LINK_USED
    if found.expires_at <= (now or utcnow()):
        return None, LINK_EXPIRED
    if not found.user.active:
        return None, LINK_INACTIVE
    return found, ""


def use_reset(db: Session, token: str, new: str, confirm: str) -> User:
    """Set the password through a link: the link is used up, every session of the user ends."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("UPDATE password_resets SET used_at = used_at WHERE 0"))  # one of two racing uses wins
    found, problem = find_reset(db, token)
    if found is None:
        raise AccountError("リンク", problem)
    if db.get_bind().dialect.name != "sqlite":
        db.execute(select(PasswordReset.id).where(PasswordReset.id == found.id).with_for_update())
        db.refresh(found)
        if found.used_at is not None:
            raise AccountError("リンク", LINK_USED)
    password = check_new_password(new, confirm)
    user = found.user
    user.password_hash = security.hash_password(password)
    now = utcnow()
    _retire_links(db, user, now)
    ended = end_sessions(db, user)
    record(db, user, "password.reset", user.email, {"user_id": user.id, "link_id": found.id, "sessions_ended": ended})
    return user


def change_password(db: Session, user: User, current: str, new: str, confirm: str, keep: str | None) -> None:
    """The user's own change: the current password is required; their other sessions end (``keep``: this one's hash)."""
    if not security.verify_password(current[:MAX_PASSWORD], user.password_hash):
        raise AccountError("現在のパスワード", "正しくありません")
    password = check_new_password(new, confirm)
    if password == current:
        raise AccountError("新しいパスワード", "現在のパスワードと同じです")
    user.password_hash = security.hash_password(password)
    ended = end_sessions(db, user, keep=keep)
    record(db, user, "password.changed", user.email, {"user_id": user.id, "other_sessions_ended": ended})
