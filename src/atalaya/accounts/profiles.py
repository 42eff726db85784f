"""Who holds a token, and a user's profile: read on every API request, so they are read
as columns with statements prepared once (``atalaya.db.Prepared``), not as ORM objects,
usually on the process's own read connection (``Database.reader``).

A process keeps the holders of the tokens it has seen (``HolderCache``) for as long as
the credential epoch, a counter that database triggers bump on every change to tokens,
users, roles, agencies and areas, stands still: each request then reads one small row
instead of joining five tables, and a revocation still takes effect on the next request,
in every process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Connection, bindparam, select

from atalaya.accounts.authz import Principal, Scope
from atalaya.accounts.credentials import token_digest
from atalaya.accounts.models import (
    Agency,
    AgencyLevel,
    ApiToken,
    CredentialEpoch,
    Role,
    User,
    UserRole,
)
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


_EPOCH = Prepared(select(CredentialEpoch.value).where(CredentialEpoch.id == 1))

K = TypeVar("K")
V = TypeVar("V")


def _roles(joined: str | None) -> list[str]:
    return sorted(joined.split(",")) if joined else []


@dataclass(frozen=True)
class Profile:
    """A user's profile as the API shows it, with where it lives for ``authorize``."""

    user_id: int
    username: str
    full_name: str
    agency: str
    roles: tuple[str, ...]  # a tuple: cached profiles are shared between requests
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
        user_id, name, full_name, agency_code, tuple(_roles(roles)), bool(active), bool(totp), scope
    )


class EpochCache(Generic[K, V]):
    """Values this process has looked up, each kept with the credential epoch read
    *before* its lookup, and used only while the epoch is unchanged.

    Every ``get`` reads the epoch first, so no process serves a value that a committed
    change has made stale. A lookup that raises ``DomainError`` is not kept, and the key
    is forgotten. Bounded: past ``size`` entries the oldest goes.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: dict[K, tuple[int, V]] = {}

    def get(self, connection: Connection | DirectConnection, key: K, load: Callable[[], V]) -> V:
        epoch = _EPOCH.rows(connection)[0][0]
        entry = self._entries.get(key)
        if entry is not None and entry[0] == epoch:
            return entry[1]
        try:
            value = load()
        except DomainError:
            self._entries.pop(key, None)
            raise
        if entry is None and len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (epoch, value)
        return value


class ProfileCache(EpochCache[str, Profile]):
    """The profiles this process has read, each with the credential epoch read before it
    was looked up; an entry is used only while the epoch is unchanged.

    The epoch's triggers watch every column a profile is made of (migrations 0015 and
    0018): a profile served from here is the one the database holds as of the epoch
    read of the same call, as a fresh read would be. Keyed by user name; only found
    profiles are kept; bounded like ``HolderCache``.
    """

    def profile(self, connection: Connection | DirectConnection, username: str) -> Profile:
        """Return the profile of ``username``; raise ``ACC-109`` when there is none."""
        return self.get(connection, username, lambda: user_profile(connection, username))


def _unexpired(principal: Principal, expires_at: dt.datetime) -> Principal:
    if expires_at <= utcnow():
        raise DomainError("AUTH-106")
    return principal


def _holder(
    connection: Connection | DirectConnection, digest: str
) -> tuple[Principal, dt.datetime]:
    found = _TOKEN_HOLDER.rows(connection, digest=digest)
    if not found:
        raise DomainError("AUTH-108")
    token_id, expires_at, revoked_at, user_id, username, active, language, *agency = found[0]
    if revoked_at is not None:
        raise DomainError("AUTH-107")
    if not active:
        raise DomainError("AUTH-114")
    agency_id, agency_code, agency_level, jurisdiction, roles = agency
    principal = Principal(
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
    return principal, expires_at


class HolderCache(EpochCache[str, tuple[Principal, dt.datetime]]):
    """The holders of the tokens this process has seen, each with the credential epoch
    read before it was looked up; an entry is used only while the epoch is unchanged.

    Only valid tokens are kept, and their expiry is checked on every use. Keyed by the
    token's digest, so the process holds no token. Bounded: past ``size`` entries the
    oldest goes. Several processes each keep their own; none can serve a holder that a
    committed change has made stale, because every lookup reads the epoch first.
    """

    def principal(self, connection: Connection | DirectConnection, token: str) -> Principal:
        """Return who ``token`` belongs to.

        Raises ``AUTH-108`` (unknown), ``AUTH-106`` (expired), ``AUTH-107`` (revoked),
        ``AUTH-114`` (user disabled).
        """
        digest = token_digest(token)
        principal, expires_at = self.get(connection, digest, lambda: _holder(connection, digest))
        return _unexpired(principal, expires_at)
