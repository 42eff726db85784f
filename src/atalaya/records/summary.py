"""Counts of incidents, offences and victims, grouped, within what the caller may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.db import year_month
from atalaya.records.models import Incident, Involvement, Offence
from atalaya.records.service import IncidentFilter, visible_incidents


class GroupBy(StrEnum):
    AREA = "area"
    MONTH = "month"
    ICCS = "iccs"
    SEX = "sex"
    AGE_GROUP = "age_group"
    WEAPON = "weapon"


@dataclass(frozen=True)
class Count:
    key: str | None
    incidents: int
    offences: int
    victims: int


def summarise(
    session: Session, principal: Principal, flt: IncidentFilter, by: GroupBy
) -> list[Count]:
    """Return the counts per group, largest first; a missing value groups under ``None``.

    Incidents are those ``principal`` may list with ``flt`` (the same rule as the list,
    so a count never reveals what the caller may not see). Grouped by an offence's or a
    victim's attribute, an incident counts once in each group it has a member in.
    """
    visible = visible_incidents(principal, flt).with_only_columns(Incident.id).subquery()
    rows = _GROUPINGS[by](session, visible.c.id)
    counts = [Count(key, int(i or 0), int(o or 0), int(v or 0)) for key, i, o, v in rows]
    return sorted(counts, key=lambda c: (-c.incidents, c.key or ""))


Rows = list[tuple[Any, int, int, int]]


def _offences_of(incident_id: Any) -> ColumnElement[int]:
    return (
        select(func.count(Offence.id)).where(Offence.incident_id == incident_id).scalar_subquery()
    )


def _victims_of(incident_id: Any) -> ColumnElement[int]:
    return (
        select(func.count(Involvement.id))
        .where(Involvement.incident_id == incident_id, Involvement.role == "victim")
        .scalar_subquery()
    )


def _by_incident(key: Any) -> Callable[[Session, Any], Rows]:
    def count(session: Session, visible_id: Any) -> Rows:
        stmt = (
            select(
                key,
                func.count(Incident.id),
                func.sum(_offences_of(Incident.id)),
                func.sum(_victims_of(Incident.id)),
            )
            .where(Incident.id.in_(select(visible_id)))
            .group_by(key)
        )
        return [tuple(r) for r in session.execute(stmt)]

    return count


def _by_member(
    member: Any, key: Any, other: Any, *, members_first: bool
) -> Callable[[Session, Any], Rows]:
    """Group by ``key``, an attribute of ``member`` rows (offences, or victims): count the
    incidents with a member in the group and the members, then the ``other`` rows
    (victims, or offences) of those incidents, each incident once per group.

    Two statements joined in Python rather than one with a subquery per group, which
    ran for minutes on twenty thousand incidents (issue 12).
    """

    def count(session: Session, visible_id: Any) -> Rows:
        mine = and_(member.incident_id.in_(select(visible_id)), *_members(member))
        groups = select(key, func.count(func.distinct(member.incident_id)), func.count(member.id))
        found = session.execute(groups.where(mine).group_by(key)).all()
        pairs = select(key.label("key"), member.incident_id).where(mine).distinct().subquery()
        per_incident = (
            select(other.incident_id, func.count(other.id).label("n"))
            .where(other.incident_id.in_(select(visible_id)), *_members(other))
            .group_by(other.incident_id)
            .subquery()
        )
        others = dict(
            session.execute(
                select(pairs.c.key, func.sum(per_incident.c.n))
                .join(per_incident, per_incident.c.incident_id == pairs.c.incident_id)
                .group_by(pairs.c.key)
            ).all()
        )
        if members_first:
            return [(k, int(i), int(n), int(others.get(k) or 0)) for k, i, n in found]
        return [(k, int(i), int(others.get(k) or 0), int(n)) for k, i, n in found]

    return count


def _members(model: Any) -> list[ColumnElement[bool]]:
    """The conditions that make a row of ``model`` count: involvements as victims."""
    return [Involvement.role == "victim"] if model is Involvement else []


_GROUPINGS: dict[GroupBy, Callable[[Session, Any], Rows]] = {
    GroupBy.AREA: _by_incident(Incident.area_code),
    GroupBy.MONTH: _by_incident(year_month(Incident.occurred_start)),
    GroupBy.ICCS: _by_member(Offence, Offence.iccs_code, Involvement, members_first=True),
    GroupBy.WEAPON: _by_member(Offence, Offence.weapon, Involvement, members_first=True),
    GroupBy.SEX: _by_member(Involvement, Involvement.sex, Offence, members_first=False),
    GroupBy.AGE_GROUP: _by_member(Involvement, Involvement.age_group, Offence, members_first=False),
}
