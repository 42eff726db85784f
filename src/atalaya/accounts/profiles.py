"""Who holds a token, and a user's profile: read on every API request, so they are read
as columns with statements prepared once (``atalaya.db.Prepared``), not as ORM objects,
usually on the process's own read connection (``Database.reader``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from atalaya.accounts.authz import Principal, Scope
from atalaya.accounts.credentials import token_digest
from atalaya.accounts.models import Agency, AgencyLevel, ApiToken, Role, User, UserRole
from atalaya.db import DirectConnection, Prepared, comma_joined, utcnow
from atalaya.errors import DomainError
from atalaya.geo.models import Area

# The user's roles as one comma-separated value, so that one statement does.
_ROLES = select(comma_joined(UserRole.role)).where(UserRole.user_id == User.id).scalar_subquery()

_TOKEN_HOLDER = Prepared(
    select(
        ApiToken.id, ApiToken.expires_at, ApiToken.revoked_at, User.id, User.username,
        User.active, User.language, Agency.id, Agency.code, Agency.level, Area.path, _ROLES,
    )
    .join(User, User.id == ApiToken.user_id)
    .join(Agency, Agency.id == User.agency_id)
    .join(Area, Area.code == Agency.area_code)
    .where(ApiToken.token_hash == bindparam("digest"))
)  # fmt: skip

_PROFILE = Prepared(
    select(
        User.id, User.username, User.full_name, User.active, User.totp_secret.is_not(None),
        Agency.id, Agency.code, Agency.level, Area.path, _ROLES,
    )
    .join(Agency, Agency.id == User.agency_id)
    .join(Area, Area.code == Agency.area_code)
    .where(User.username == bindparam("username"))
)  # fmt: skip


def _roles(joined: str | None) -> list[str]:
    return sorted(joined.split(",")) if joined else []


@dataclass(frozen=True)
class Profile:
    """A user's profile as the API shows it, with where it lives for ``authorize``."""

    user_id: int
    username: str
    full_name: str
    agency: str
    roles: list[str]
    active: bool
    second_factor: bool
    scope: Scope


def user_profile(connection: Connection | DirectConnection, username: str) -> Profile:
    """Return the profile of ``username``; raise ``ACC-109`` when there is no such user.

    A profile is personal data: restricted to the user's agency and those above it.
    """
    found = _PROFILE.rows(connection, username=username)
    if not found:
        raise DomainError("ACC-109", field="username")
    user_id, name, full_name, active, totp, agency_id, agency_code, level, path, roles = found[0]
    scope = Scope(path, agency_id, AgencyLevel(level), restricted=True)
    return Profile(
        user_id, name, full_name, agency_code, _roles(roles), bool(active), bool(totp), scope
    )


def principal_for_token(connection: Connection | DirectConnection, token: str) -> Principal:
    """Return who ``token`` belongs to.

    Raises ``AUTH-108`` (unknown), ``AUTH-106`` (expired), ``AUTH-107`` (revoked),
    ``AUTH-114`` (user disabled).
    """
    found = _TOKEN_HOLDER.rows(connection, digest=token_digest(token))
    if not found:
        raise DomainError("AUTH-108")
    token_id, expires_at, revoked_at, user_id, username, active, language, *agency = found[0]
    if revoked_at is not None:
        raise DomainError("AUTH-107")
    if expires_at <= utcnow():
        raise DomainError("AUTH-106")
    if not active:
        raise DomainError("AUTH-114")
    agency_id, agency_code, agency_level, jurisdiction, roles = agency
    return Principal(
        user_id=user_id,
        username=username,
        agency_id=agency_id,
        agency_code=agency_code,
        agency_level=AgencyLevel(agency_level),
        jurisdiction_path=jurisdiction,
        roles=frozenset(Role(r) for r in _roles(roles)),
        token_id=token_id,
        language=language,
    )
