"""Who may use the portal: agencies, users with a role, server-side web sessions and login attempts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from generator.store.base import Base, UTCDateTime, utcnow

Role = Literal["agent", "compliance", "marketing", "admin"]
ROLES: tuple[Role, ...] = ("agent", "compliance", "marketing", "admin")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # an account's e-mail (docgen users add, the admin page)
MIN_PASSWORD = 10  # characters of a new password, on every face
# roles that see every agency's client data; agents see their own agency's, marketing none
ALL_AGENCIES: frozenset[str] = frozenset({"compliance", "admin"})


class Agency(Base):
    """An agency (代理店) or the insurer's own office; every client object belongs to one."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="agency")


class AgencyScoped:
    """Mixin of every table holding client data: the row's agency, which tenancy filters on."""

    @declared_attr
    def agency_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("agencies.id"), index=True)


class User(Base):
    """A login: e-mail, Argon2 hash (never the password), role and agency."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('agent', 'compliance', 'marketing', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="users", lazy="joined")

    @property
    def sees_all_agencies(self) -> bool:
        return self.role in ALL_AGENCIES


class WebSession(Base):
    """A server-side session: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    """One login try, kept to throttle guessing per e-mail and per client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"), Index("ix_login_attempts_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PasswordReset(Base):
    """A one-time link an admin issued for a user to set a new password: only the token's SHA-256 is kept.

    Single use (``used_at``), expiring (``expires_at``); issuing a new one, using one, or deactivating the user
    retires every other open link of that user.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
