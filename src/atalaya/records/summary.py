"""Counts of incidents, offences and victims, grouped, within what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
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
    stmt = _GROUPINGS[by](visible.c.id)
    rows = session.execute(stmt).all()
    counts = [Count(key, int(i or 0), int(o or 0), int(v or 0)) for key, i, o, v in rows]
    return sorted(counts, key=lambda c: (-c.incidents, c.key or ""))


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


def _by_incident(key: Any) -> Any:
    def build(visible_id: Any) -> Select[Any]:
        return (
            select(
                key,
                func.count(Incident.id),
                func.sum(_offences_of(Incident.id)),
                func.sum(_victims_of(Incident.id)),
            )
            .where(Incident.id.in_(select(visible_id)))
            .group_by(key)
        )

    return build


def _by_offence(key: Any) -> Any:
    def build(visible_id: Any) -> Select[Any]:
        # Victims: of the incidents that have an offence in the group, each counted once.
        inner = Offence.__table__.alias("grouped")
        # Correlated with the grouped row of the outer query, two levels up.
        incidents_in_group = (
            select(inner.c.incident_id)
            .where(
                inner.c.incident_id.in_(select(visible_id)),
                getattr(inner.c, key.key).is_not_distinct_from(key),
            )
            .correlate(Offence)
        )
        victims = (
            select(func.count(Involvement.id))
            .where(Involvement.role == "victim", Involvement.incident_id.in_(incidents_in_group))
            .scalar_subquery()
        )
        return (
            select(
                key, func.count(func.distinct(Offence.incident_id)), func.count(Offence.id), victims
            )
            .where(Offence.incident_id.in_(select(visible_id)))
            .group_by(key)
        )

    return build


def _by_victim(key: Any) -> Any:
    def build(visible_id: Any) -> Select[Any]:
        inner = Involvement.__table__.alias("grouped")
        # Correlated with the grouped row of the outer query, two levels up.
        incidents_in_group = (
            select(inner.c.incident_id)
            .where(
                inner.c.incident_id.in_(select(visible_id)),
                inner.c.role == "victim",
                getattr(inner.c, key.key).is_not_distinct_from(key),
            )
            .correlate(Involvement)
        )
        offences = (
            select(func.count(Offence.id))
            .where(Offence.incident_id.in_(incidents_in_group))
            .scalar_subquery()
        )
        return (
            select(
                key,
                func.count(func.distinct(Involvement.incident_id)),
                offences,
                func.count(Involvement.id),
            )
            .where(Involvement.incident_id.in_(select(visible_id)), Involvement.role == "victim")
            .group_by(key)
        )

    return build


_GROUPINGS = {
    GroupBy.AREA: _by_incident(Incident.area_code),
    GroupBy.MONTH: _by_incident(year_month(Incident.occurred_start)),
    GroupBy.ICCS: _by_offence(Offence.iccs_code),
    GroupBy.WEAPON: _by_offence(Offence.weapon),
    GroupBy.SEX: _by_victim(Involvement.sex),
    GroupBy.AGE_GROUP: _by_victim(Involvement.age_group),
}
