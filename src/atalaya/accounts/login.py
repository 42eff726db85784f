"""Signing in: passwords, the second factor, throttling, and browser sessions.

Five failed sign-ins within the window lock the account and the client address for
the lockout period. Counters live in the database, so every worker process sees them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atalaya.accounts.authz import requires_second_factor
from atalaya.accounts.credentials import Credentials, new_session_key, token_digest, totp_step
from atalaya.accounts.models import Lockout, LoginFailure, User, WebSession
from atalaya.audit import service as audit
from atalaya.audit.service import Actor, AuditContext, Outcome
from atalaya.db import as_utc, utcnow
from atalaya.errors import DomainError
from atalaya.settings import Settings


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    window: dt.timedelta
    lockout: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            settings.login_max_failures,
            dt.timedelta(minutes=settings.login_window_minutes),
            dt.timedelta(minutes=settings.login_lockout_minutes),
        )


@dataclass
class LoginOutcome:
    """What a sign-in attempt came to. ``error`` is an error code, or ``None`` on success.

    The caller commits in every case (failures must be counted) and then raises
    ``DomainError(error)`` if there was one.
    """

    user: User | None = None
    error: str | None = None
    params: dict[str, object] | None = None
    second_factor_due: bool = False
    enrollment_due: bool = False


def check_password(
    session: Session,
    credentials: Credentials,
    policy: LoginPolicy,
    ctx: AuditContext,
    username: str,
    password: str,
) -> LoginOutcome:
    """Return the outcome of the first step: name and password."""
    username = username.strip()
    locked = _locked_for(session, username, ctx.client_address or "")
    if locked:
        minutes = max(1, int(locked.total_seconds() // 60) + 1)
        _audit_login(session, ctx, username, Outcome.DENIED, "locked")
        return LoginOutcome(error="AUTH-105", params={"minutes": minutes})
    user = session.scalar(select(User).where(User.username == username))
    # Nothing is written yet: end the transaction so that the deliberately slow hash
    # below does not hold the database's write lock.
    session.commit()
    if user is None:
        credentials.dummy_check(password)
    if user is None or not credentials.check_password(user.password_hash, password):
        return _fail(session, policy, ctx, username, "AUTH-102", "wrong password")
    if not user.active:
        _audit_login(session, ctx, username, Outcome.DENIED, "disabled", user)
        return LoginOutcome(error="AUTH-114")
    return LoginOutcome(
        user=user,
        second_factor_due=user.totp_secret is not None,
        enrollment_due=user.totp_secret is None and requires_second_factor(user.roles),
    )


def check_second_factor(
    session: Session,
    credentials: Credentials,
    policy: LoginPolicy,
    ctx: AuditContext,
    user: User,
    code: str,
) -> LoginOutcome:
    """Return the outcome of the second step; a used code is refused (no replay)."""
    locked = _locked_for(session, user.username, ctx.client_address or "")
    if locked:
        _audit_login(session, ctx, user.username, Outcome.DENIED, "locked", user)
        return LoginOutcome(
            error="AUTH-105", params={"minutes": int(locked.total_seconds() // 60) + 1}
        )
    secret = credentials.unseal(user.totp_secret) if user.totp_secret else None
    step = totp_step(secret, code, user.totp_last_step) if secret else None
    if step is None:
        return _fail(session, policy, ctx, user.username, "AUTH-104", "wrong second factor", user)
    user.totp_last_step = step
    return LoginOutcome(user=user)


def succeed(
    session: Session, policy: LoginPolicy, ctx: AuditContext, user: User, method: str
) -> None:
    """Record a completed sign-in, forget the account's earlier failures, and clear out
    expired sessions, locks and failures (sign-ins are rare enough to carry this)."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == user.username))
    purge_expired(session, policy)
    _audit_login(session, ctx, user.username, Outcome.SUCCESS, method, user)


def _fail(
    session: Session,
    policy: LoginPolicy,
    ctx: AuditContext,
    username: str,
    code: str,
    reason: str,
    user: User | None = None,
) -> LoginOutcome:
    address = ctx.client_address or ""
    now = utcnow()
    session.add(LoginFailure(username=username, client_address=address, at=now))
    session.flush()
    since = now - policy.window
    for kind, key, column in (
        ("user", username, LoginFailure.username),
        ("address", address, LoginFailure.client_address),
    ):
        count = session.scalar(select(func.count()).where(column == key, LoginFailure.at >= since))
        if (count or 0) >= policy.max_failures:
            _lock(session, kind, key, now + policy.lockout)
    _audit_login(session, ctx, username, Outcome.FAILED, reason, user)
    return LoginOutcome(error=code)


def _lock(session: Session, kind: str, key: str, until: dt.datetime) -> None:
    row = session.scalar(select(Lockout).where(Lockout.kind == kind, Lockout.key == key))
    if row is not None:
        row.until = until
        return
    try:
        with session.begin_nested():
            session.add(Lockout(kind=kind, key=key, until=until))
    except IntegrityError:  # another process locked it a moment ago: extend that lock
        session.execute(
            update(Lockout).where(Lockout.kind == kind, Lockout.key == key).values(until=until)
        )


def _locked_for(session: Session, username: str, address: str) -> dt.timedelta | None:
    """Return how long the account or the address stays locked, if either is."""
    until = session.scalar(
        select(func.max(Lockout.until)).where(
            ((Lockout.kind == "user") & (Lockout.key == username))
            | ((Lockout.kind == "address") & (Lockout.key == address))
        )
    )
    now = utcnow()
    if until is None:
        return None
    until = as_utc(until)
    return until - now if until > now else None


def _audit_login(
    session: Session,
    ctx: AuditContext,
    username: str,
    outcome: Outcome,
    reason: str,
    user: User | None = None,
) -> None:
    actor = ctx.actor
    if user is not None:
        actor = Actor("user", user.id, user.username, user.agency.code, user.agency.area.path)
    login_ctx = AuditContext(actor, ctx.request_id, ctx.client_address)
    audit.record(
        session,
        login_ctx,
        "login",
        object_type="user",
        object_id=username,
        outcome=outcome,
        detail={"reason": reason},
    )


# Browser sessions ---------------------------------------------------------------------

SESSION_PURPOSE = "session"


def open_session(
    session: Session,
    credentials: Credentials,
    settings: Settings,
    user: User,
    *,
    verified: bool,
    client_address: str,
) -> str:
    """Create a browser session for ``user``; return the signed cookie value."""
    key, digest = new_session_key()
    session.add(
        WebSession(
            key_hash=digest,
            user_id=user.id,
            expires_at=utcnow() + dt.timedelta(hours=settings.session_hours),
            verified=verified,
            client_address=client_address,
        )
    )
    return credentials.signed(SESSION_PURPOSE, key)


def renew_session(
    session: Session,
    credentials: Credentials,
    settings: Settings,
    web_session: WebSession,
    user: User,
) -> str:
    """Replace ``web_session``, which has just been given its second factor, by a new
    verified session; return the new cookie value.

    The old id stops working at once: an id seen or planted before the second factor
    (session fixation) is worth nothing after it.
    """
    close_session(session, web_session)
    return open_session(
        session,
        credentials,
        settings,
        user,
        verified=True,
        client_address=web_session.client_address,
    )


def find_session(
    session: Session, credentials: Credentials, cookie: str
) -> tuple[WebSession, User]:
    """Return the live session and user of a cookie; raise ``AUTH-109`` if there is none."""
    key = credentials.unsign(SESSION_PURPOSE, cookie)
    if key is None:
        raise DomainError("AUTH-109")
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.key_hash == token_digest(key), WebSession.expires_at > utcnow())
    ).first()
    if row is None:
        raise DomainError("AUTH-109")
    web_session, user = row
    if not user.active:
        raise DomainError("AUTH-114")
    return web_session, user


def close_session(session: Session, web_session: WebSession) -> None:
    session.delete(web_session)


def purge_expired(session: Session, policy: LoginPolicy) -> None:
    """Delete expired sessions, lockouts and failures older than the window."""
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session.execute(delete(Lockout).where(Lockout.until <= now))
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - policy.window))
