"""Agencies, users and API tokens: creating them, and finding who a credential belongs to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import RANK, Principal, Scope, authorize, authorize_found, outranks
from atalaya.accounts.credentials import Credentials, new_token
from atalaya.accounts.models import Agency, AgencyLevel, ApiToken, Role, User, UserRole
from atalaya.accounts.passwords import check_password
from atalaya.audit import service as audit
from atalaya.audit.models import AuditEntry
from atalaya.audit.service import Actor, AuditContext
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.geo.models import Area
from atalaya.geo.service import get_area

MAX_TOKEN_DAYS = 366


def agency_scope(agency: Agency) -> Scope:
    """Return where an agency's objects live, for ``authorize``."""
    return Scope(agency.area.path, agency.id, AgencyLevel(agency.level))


def staff_scope(agency: Agency) -> Scope:
    """Where an agency's staff live: their profiles are personal data, restricted to the
    agency and to agencies ranked above it in its area; so is adding staff to it."""
    return Scope(agency.area.path, agency.id, AgencyLevel(agency.level), True)


def user_scope(user: User) -> Scope:
    """A user's profile is personal data, restricted to their agency and those above it."""
    return staff_scope(user.agency)


def get_agency(session: Session, code: str) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise DomainError("ACC-101", field="agency", params={"code": code})
    return agency


def visible_agency(session: Session, principal: Principal, code: str) -> Agency:
    """Return the agency ``code`` if it lies in ``principal``'s jurisdiction; raise
    ``API-106`` alike when there is none and when it lies outside."""
    authorize(principal, "agency.read")
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise DomainError("API-106")
    authorize_found(principal, "agency.read", agency_scope(agency))
    return agency


def create_agency(
    session: Session,
    ctx: AuditContext,
    *,
    code: str,
    name: str,
    level: str,
    area: str,
    parent: str | None = None,
    by: Principal | None = None,
) -> Agency:
    """Create an agency and return it; its area must lie within its parent's, and it
    may not rank above its parent (``authz.RANK``).

    ``by`` is the signed-in user asking: they need ``agency.create`` over the area and
    may not create an agency ranked above their own. ``None`` is the node's operator
    (``atalaya agencies add``, the demo), who answers to no role.

    Raises ``ACC-104`` (level), ``ACC-102`` (area), ``ACC-101`` (parent), ``ACC-103``
    (code taken), ``ACC-108`` (area outside the parent's), ``ACC-112`` (ranked above
    the parent); for ``by``, ``AUTH-111``, ``AUTH-112`` (area outside their
    jurisdiction) and ``ACC-111`` (ranked above their agency).
    """
    if by is not None:
        authorize(by, "agency.create")
    agency_level = _level(level)
    area_row = get_area(session, area)
    if by is not None:
        authorize(by, "agency.create", Scope(area_row.path))
        if outranks(agency_level, by.agency_level):
            raise DomainError("ACC-111", field="level", params={"level": by.agency_level.value})
    parent_row = get_agency(session, parent) if parent else None
    if session.scalar(select(Agency.id).where(Agency.code == code)) is not None:
        raise DomainError("ACC-103", field="code", params={"code": code})
    if parent_row and not area_row.path.startswith(parent_row.area.path):
        raise DomainError("ACC-108", field="area")
    if parent_row and outranks(agency_level, AgencyLevel(parent_row.level)):
        raise DomainError("ACC-112", field="level", params={"level": parent_row.level})
    agency = Agency(
        code=code, name=name, level=agency_level, area_code=area_row.code, parent=parent_row
    )
    agency.area = area_row
    session.add(agency)
    session.flush()
    audit.record(
        session,
        ctx,
        "agency.create",
        object_type="agency",
        object_id=code,
        detail={"level": level, "area": area, "parent": parent},
    )
    return agency


def _level(level: str) -> AgencyLevel:
    try:
        return AgencyLevel(level)
    except ValueError:
        choices = ", ".join(lv.value for lv in AgencyLevel)
        raise DomainError("ACC-104", field="level", params={"choices": choices}) from None


def parse_roles(names: Iterable[str]) -> list[Role]:
    roles = []
    for name in names:
        try:
            roles.append(Role(name))
        except ValueError:
            choices = ", ".join(r.value for r in Role)
            raise DomainError("ACC-105", field="role", params={"choices": choices}) from None
    return roles


def create_user(
    session: Session,
    ctx: AuditContext,
    credentials: Credentials,
    *,
    username: str,
    agency: str,
    roles: Iterable[str],
    password: str,
    full_name: str = "",
    by: Principal | None = None,
) -> User:
    """Create a user with a hashed password and return it.

    ``by`` is the signed-in user asking: they need ``user.create`` over the agency (their
    own, or one ranked below theirs in their area, as for reading its staff's profiles)
    and may grant only roles they hold themselves. ``None`` is the node's operator
    (``atalaya users add``, the demo), who answers to no role.

    Raises ``ACC-105`` (role), ``ACC-101`` (agency, or for ``by`` one outside their
    area), ``ACC-106`` (name taken), ``ACC-107`` (password too short), ``ACC-114``
    (password too easy to guess); for ``by``, ``AUTH-111``, ``AUTH-112`` (an agency
    of their area ranked at or above theirs) and ``ACC-113`` (a role they lack).
    """
    if by is not None:
        authorize(by, "user.create")
    role_list = parse_roles(roles)
    agency_row = get_agency(session, agency)
    if by is not None:
        _authorize_grant(by, agency_row, role_list)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DomainError("ACC-106", field="username")
    check_password(password, [username, full_name, agency_row.code, agency_row.name])
    user = User(
        username=username,
        full_name=full_name,
        agency=agency_row,
        password_hash=credentials.hash_password(password),
        role_rows=[UserRole(role=r) for r in role_list],
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        ctx,
        "user.create",
        object_type="user",
        object_id=username,
        detail={"agency": agency, "roles": sorted(role_list)},
    )
    return user


def _authorize_grant(by: Principal, agency: Agency, roles: list[Role]) -> None:
    """Return if ``by`` may add users with ``roles`` to ``agency``; raise otherwise."""
    scope = staff_scope(agency)
    if not scope.area_path.startswith(by.jurisdiction_path):
        # As if there were no such agency: agencies outside one's area are not shown.
        params: dict[str, object] = {"code": agency.code, "action": "user.create"}
        raise DomainError("ACC-101", field="agency", params=params, concealed="AUTH-112")
    authorize(by, "user.create", scope)
    lacking = sorted(set(roles) - by.roles)
    if lacking:
        raise DomainError("ACC-113", field="roles", params={"roles": ", ".join(lacking)})


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise DomainError("ACC-109", field="username")
    return user


def create_token(
    session: Session,
    ctx: AuditContext,
    user: User,
    *,
    days: float,
    name: str = "",
) -> tuple[str, ApiToken]:
    """Create a bearer token for ``user``; return the token (shown once) and its row."""
    if not 0 < days <= MAX_TOKEN_DAYS:
        raise DomainError("ACC-110", field="days", params={"max": MAX_TOKEN_DAYS})
    token, digest, prefix = new_token()
    row = ApiToken(
        user_id=user.id,
        token_hash=digest,
        prefix=prefix,
        name=name,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        ctx,
        "token.create",
        object_type="token",
        object_id=row.id,
        detail={"user": user.username, "days": days, "name": name},
    )
    return token, row


def last_audited_use(session: Session, token_ids: list[int]) -> dict[int, dt.datetime]:
    """Return when each token last made an audited request (derived, never stored)."""
    if not token_ids:
        return {}
    rows = session.execute(
        select(AuditEntry.token_id, func.max(AuditEntry.at))
        .where(AuditEntry.token_id.in_(token_ids))
        .group_by(AuditEntry.token_id)
    ).all()
    return {token_id: at for token_id, at in rows if token_id is not None}


def revocable_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    """Return the token ``principal`` may revoke: their own (``token.own``), or with
    ``token.admin`` one of a user whose profile they may read. Raise ``API-106`` alike
    for a token that does not exist and one they may not revoke."""
    row = session.get(ApiToken, token_id)
    if row is not None and row.user_id == principal.user_id:
        authorize(principal, "token.own")
        return row
    if row is None or not principal.may("token.admin"):
        raise DomainError("API-106")
    owner = session.get(User, row.user_id)
    assert owner is not None
    authorize_found(principal, "token.admin", user_scope(owner))
    return row


def revoke_token(session: Session, ctx: AuditContext, row: ApiToken) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    audit.record(session, ctx, "token.revoke", object_type="token", object_id=row.id)


def principal_for(
    user: User, token_id: int | None = None, session_id: int | None = None
) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        agency_id=user.agency_id,
        agency_code=user.agency.code,
        agency_level=AgencyLevel(user.agency.level),
        jurisdiction_path=user.agency.area.path,
        roles=user.roles,
        token_id=token_id,
        session_id=session_id,
        language=user.language,
    )


def actor_for(principal: Principal) -> Actor:
    return Actor(
        type="token" if principal.token_id else "user",
        user_id=principal.user_id,
        username=principal.username,
        agency_code=principal.agency_code,
        area_path=principal.jurisdiction_path,
        token_id=principal.token_id,
    )


def visible_agencies(principal: Principal) -> Select[Agency]:
    """Return a select of the agencies in ``principal``'s jurisdiction."""
    return (
        select(Agency)
        .join(Area, Area.code == Agency.area_code)
        .where(Area.path.startswith(principal.jurisdiction_path, autoescape=True))
    )


def visible_users(principal: Principal) -> Select[User]:
    """Return a select of the users whose profiles ``principal`` may read.

    The same rule as ``user_scope`` with ``authorize``: inside the jurisdiction, and
    either in the principal's own agency or in an agency of a lower rank.
    """
    lower = [lv for lv, rank in RANK.items() if rank < RANK[principal.agency_level]]
    return (
        select(User)
        .join(Agency, Agency.id == User.agency_id)
        .join(Area, Area.code == Agency.area_code)
        .where(Area.path.startswith(principal.jurisdiction_path, autoescape=True))
        .where((Agency.id == principal.agency_id) | Agency.level.in_(lower))
    )
