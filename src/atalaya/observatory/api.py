"""JSON routes of the observatory: indicator values, public where they are published."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from atalaya.accounts.deps import OptionalSignInRoute, SessionDep, audit_read, caller
from atalaya.db import utcnow
from atalaya.observatory import exports, sdmx
from atalaya.observatory.models import TOTAL
from atalaya.observatory.query import PUBLIC, IndicatorQuery, Visibility
from atalaya.observatory.reconcile import BAND, HOMICIDE, as_dict, reconcile
from atalaya.observatory.schemas import IndicatorOut
from atalaya.observatory.service import indicator_values
from atalaya.observatory.targets import (
    PlanOut,
    PlanProgressOut,
    progress_out,
    readable_plan,
    readable_plans,
    targets_of,
)
from atalaya.web.language import request_language
from atalaya.web.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from atalaya.web.problems import PROBLEM_RESPONSES

# Indicators are public; signed-in callers see more of them (``caller(request)``).
router = APIRouter(
    prefix="/api/v1",
    tags=["observatory"],
    responses=PROBLEM_RESPONSES,
    route_class=OptionalSignInRoute,
)
Code = Annotated[str | None, Query(max_length=40)]
Breakdown = Annotated[str, Query(max_length=20)]


async def indicator_query(
    indicator: Code = None,
    iccs: Annotated[str | None, Query(max_length=6)] = None,
    national_category: Annotated[str | None, Query(max_length=300)] = None,
    area: Code = None,
    period: Annotated[str | None, Query(max_length=7)] = None,
    frequency: Annotated[str | None, Query(max_length=1)] = None,
    sex: Breakdown = TOTAL,
    age_group: Breakdown = TOTAL,
    weapon: Breakdown = TOTAL,
    source_type: Code = None,
    by: Annotated[list[str] | None, Query(max_length=4)] = None,
) -> IndicatorQuery:
    """The filters of an indicator query (see docs/observatory.md)."""
    return IndicatorQuery(
        indicator,
        iccs,
        national_category,
        area,
        period,
        frequency,
        sex,
        age_group,
        weapon,
        source_type,
        tuple(by or ()),
    )


QueryDep = Annotated[IndicatorQuery, Depends(indicator_query)]


@router.get("/indicators", response_model=Page[IndicatorOut])
def list_indicators(
    request: Request,
    session: SessionDep,
    q: QueryDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Page[IndicatorOut]:
    """Indicator values rolled up to the ICCS code, area and period asked for, with rates
    per 100,000. Anonymous callers see published series only; signed-in users with
    ``stats.read_unpublished`` also see the unpublished ones of their jurisdiction."""
    who = caller(request)
    values = indicator_values(session, q, Visibility.of(who))
    start = decode_cursor(cursor) if cursor else 0
    language = request_language(request)
    items = [IndicatorOut.of(v, language) for v in values[start : start + limit]]
    more = start + limit < len(values)
    return Page[IndicatorOut](
        items=items, total=len(values), next=encode_cursor(start + limit) if more else None
    )


@router.get(
    "/indicators/export",
    response_class=Response,
    responses={
        200: {
            "description": "The values in the format asked for, as a file to save.",
            "content": {exports.FORMATS[f].media_type.split(";")[0]: {} for f in exports.FORMATS},
        }
    },
)
def export_indicators(
    request: Request,
    session: SessionDep,
    q: QueryDep,
    format: Annotated[str, Query(max_length=10)] = "csv",
) -> Response:
    """The values of ``GET /indicators`` (the same filters, the same visibility, all of
    them) as a file: ``csv``, ``xlsx``, ``sdmx-csv`` (SDMX-CSV 1.0) or ``sdmx-json``
    (SDMX-JSON 1.0 data message), each naming the sources and vintages of its values.
    Labels come in the caller's language. An export by a signed-in user is audited."""
    who = caller(request)
    kind = exports.check_format(format)
    values = indicator_values(session, q, Visibility.of(who))
    body = exports.export(session, values, format, request_language(request), q)
    if who is not None:
        detail = exports.audit_detail(format, values, q)
        audit_read(request, "stats.export", object_type="indicator", detail=detail)
    name = exports.file_name(format, utcnow().date())
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=kind.media_type, headers=disposition)


@router.get(
    "/indicators/structure",
    response_class=Response,
    responses={200: {"content": {"application/vnd.sdmx.structure+xml": {}}}},
)
def indicator_structure(session: SessionDep) -> Response:
    """The SDMX-ML 2.1 structure message that SDMX exports are made against: dataflow
    ``ATALAYA:DF_CRIME(1.0)``, its data structure, concepts and code lists. Public."""
    return Response(
        sdmx.structure_message(session),
        media_type="application/vnd.sdmx.structure+xml; version=2.1",
    )


class PlansPage(BaseModel):
    items: list[PlanOut]
    total: int
    next: str | None = None


@router.get("/plans", response_model=PlansPage)
def list_plans(session: SessionDep, request: Request) -> PlansPage:
    """National plans with their targets: published plans whose series are all published
    for anyone; the others for users with ``stats.read`` in the plan's country."""
    who = caller(request)
    found = readable_plans(session, who)
    items = [PlanOut.of(p, targets_of(session, p)) for p in found]
    return PlansPage(items=items, total=len(items))


@router.get("/plans/{code}/progress", response_model=PlanProgressOut)
def plan_progress(
    request: Request,
    session: SessionDep,
    code: Annotated[str, Path(max_length=40)],
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
) -> PlanProgressOut:
    """A plan's progress (see docs/observatory.md). A plan the caller may not read is
    answered as one that does not exist (404, ``OBS-118``)."""
    who = caller(request)
    plan = readable_plan(session, code, who)
    visibility = Visibility.of(who) if who is not None else PUBLIC
    return progress_out(session, plan, visibility, request_language(request), year)


class ReconciliationPage(BaseModel):
    items: list[dict[str, Any]]
    total: int


@router.get("/indicators/reconciliation", response_model=ReconciliationPage)
def reconciliation(
    session: SessionDep,
    request: Request,
    area: Code = None,
    year: Annotated[list[int] | None, Query(max_length=50)] = None,
    iccs: Annotated[str, Query(max_length=6)] = HOMICIDE,
    by_area: bool = False,
    low: float = BAND[0],
    high: float = BAND[1],
) -> ReconciliationPage:
    """Police and health homicide victims per area and year side by side, with their ratio
    (police over health) and whether it lies outside the band ``low`` to ``high``; never
    added together (see docs/observatory.md). The same visibility as ``/indicators``."""
    who = caller(request)
    found = reconcile(
        session, Visibility.of(who), area, year or (), iccs, (low, high), by_area=by_area
    )
    return ReconciliationPage(items=[as_dict(r) for r in found], total=len(found))
