"""``authorize(principal, action, resource)``: the one place that decides every access.

Two questions, both must say yes:

1. *Role*: does one of the principal's roles grant ``action``? (``data/roles.toml``)
2. *Jurisdiction*: does the resource lie in the area the principal's agency covers?
   A municipal agency covers its municipality; a state agency the state and its
   municipalities; a federal agency the country. Restricted objects of an agency are
   further kept from other agencies of the same or a lower level in the same area.

Lists apply the same rule in SQL through ``jurisdiction_prefix``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from atalaya.accounts.models import AgencyLevel, Role
from atalaya.errors import DomainError

ROLES_FILE = Path(__file__).parent / "data" / "roles.toml"

# How far up the chain of command an agency sits; higher sees restricted objects below.
# Central and competent authorities are national bodies, so they rank with federal ones.
# Nobody creates an agency ranked above their own or above its parent, nor adds users to
# another agency unless it ranks below their own (``outranks``; ``accounts/service.py``).
RANK = {
    AgencyLevel.MUNICIPAL: 1,
    AgencyLevel.STATE: 2,
    AgencyLevel.FEDERAL: 3,
    AgencyLevel.CENTRAL_AUTHORITY: 3,
    AgencyLevel.COMPETENT_AUTHORITY: 3,
}


@dataclass(frozen=True)
class RolePolicy:
    actions: frozenset[str]
    second_factor: bool


@cache
def role_policies() -> dict[Role, RolePolicy]:
    """Return the policy of every role, read once from ``roles.toml``."""
    with ROLES_FILE.open("rb") as f:
        data = tomllib.load(f)
    policies = {
        Role(name): RolePolicy(frozenset(spec["actions"]), bool(spec.get("second_factor")))
        for name, spec in data.items()
    }
    missing = set(Role) - set(policies)
    if missing:
        raise RuntimeError(f"roles.toml lacks {sorted(missing)}")
    return policies


def requires_second_factor(roles: frozenset[Role]) -> bool:
    policies = role_policies()
    return any(policies[r].second_factor for r in roles)


@dataclass(frozen=True)
class Principal:
    """Who is acting: a signed-in user (by session or token)."""

    user_id: int
    username: str
    agency_id: int
    agency_code: str
    agency_level: AgencyLevel
    jurisdiction_path: str
    roles: frozenset[Role]
    token_id: int | None = None
    session_id: int | None = None
    language: str | None = None

    def may(self, action: str) -> bool:
        policies = role_policies()
        return any(action in policies[r].actions for r in self.roles)


@dataclass(frozen=True)
class Scope:
    """Where an object lives and who owns it, which is all ``authorize`` needs to know."""

    area_path: str
    agency_id: int | None = None
    agency_level: AgencyLevel | None = None
    restricted: bool = False


def outranks(level: AgencyLevel, other: AgencyLevel) -> bool:
    """Return whether an agency of ``level`` ranks above one of ``other``."""
    return RANK[level] > RANK[other]


def authorize(principal: Principal, action: str, resource: Scope | None = None) -> None:
    """Return if ``principal`` may take ``action`` on ``resource``; raise otherwise.

    Raises ``AUTH-111`` when no role grants the action, ``AUTH-112`` when the resource
    lies outside the principal's jurisdiction. ``resource=None`` asks about the action
    alone (creating, or listing with ``jurisdiction_prefix``).
    """
    if not principal.may(action):
        raise DomainError("AUTH-111", params={"action": action})
    if resource is None:
        return
    if not resource.area_path.startswith(principal.jurisdiction_path):
        raise DomainError("AUTH-112", params={"action": action})
    if resource.restricted and not _may_see_restricted(principal, resource):
        raise DomainError("AUTH-112", params={"action": action})


def authorize_found(
    principal: Principal,
    action: str,
    resource: Scope,
    *,
    missing: str = "API-106",
    field: str | None = None,
) -> None:
    """Return if ``principal`` may take ``action`` on ``resource``, an object asked for
    by its id or name; raise otherwise.

    Like ``authorize``, except that an object outside the jurisdiction answers as one
    that does not exist (the error ``missing`` on ``field``, as the lookup raises it, with
    ``AUTH-112`` as its ``concealed`` code for the audit log), so that a refusal does not
    reveal which ids exist. Check the role (``authorize(principal, action)``) before
    looking the object up, for the same reason.
    """
    try:
        authorize(principal, action, resource)
    except DomainError as refused:
        if refused.code != "AUTH-112":
            raise
        params = refused.params
        raise DomainError(missing, field=field, params=params, concealed="AUTH-112") from None


def _may_see_restricted(principal: Principal, resource: Scope) -> bool:
    if resource.agency_id is None or resource.agency_id == principal.agency_id:
        return True
    owner_rank = RANK.get(resource.agency_level, 0) if resource.agency_level else 0
    return RANK[principal.agency_level] > owner_rank


def jurisdiction_prefix(principal: Principal, action: str) -> str:
    """Return the area-path prefix that rows must match for ``principal`` to list them.

    Raises ``AUTH-111`` when no role grants the action at all.
    """
    authorize(principal, action)
    return principal.jurisdiction_path
