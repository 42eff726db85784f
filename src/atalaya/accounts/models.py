"""Agencies, users and their roles, API tokens, web sessions and sign-in throttling."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atalaya.db import Base, UTCDateTime, utcnow
from atalaya.geo.models import Area


class AgencyLevel(StrEnum):
    FEDERAL = "federal"
    STATE = "state"
    MUNICIPAL = "municipal"
    CENTRAL_AUTHORITY = "central_authority"
    COMPETENT_AUTHORITY = "competent_authority"


class Role(StrEnum):
    OFFICER = "officer"
    ANALYST = "analyst"
    SUPERVISOR = "supervisor"
    CENTRAL_AUTHORITY = "central_authority"
    COMPETENT_AUTHORITY = "competent_authority"
    ADMINISTRATOR = "administrator"
    AUDITOR = "auditor"


class Agency(Base):
    """A police force, ministry or authority, with the area it has jurisdiction over."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[AgencyLevel] = mapped_column(String(24))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    area: Mapped[Area] = relationship(lazy="joined")
    parent: Mapped[Agency | None] = relationship(remote_side=[id])


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # Encrypted with a key derived from the node secret (see accounts/totp.py).
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(String(24))


class ApiToken(Base):
    """A bearer token; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A browser session; the cookie carries a signed random id whose hash is kept here."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # False until the second factor has been given (or enrolled, where required).
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    client_address: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client_address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Lockout(Base):
    """A sign-in lock on an account (``kind='user'``) or a client address (``'address'``)."""

    __tablename__ = "lockouts"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(64))
    until: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CredentialEpoch(Base):
    """A counter (one row) that every change to who a token's holder is bumps.

    Database triggers (migration 0015) add one to ``value`` whenever a row of
    ``api_tokens``, ``users``, ``user_roles``, ``agencies`` or ``areas`` changes in a way
    that could change a token holder (a revocation, a disabled user, a new role, a moved
    agency...), whoever makes the change: the API, the command line or plain SQL. Each
    process may keep the holders it has looked up while the counter stands still
    (``atalaya.accounts.profiles.HolderCache``).
    """

    __tablename__ = "credential_epoch"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
