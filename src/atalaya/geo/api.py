"""Areas as public reference data: countries, subdivisions, municipalities."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from atalaya.accounts.deps import SessionDep, SessionRoute
from atalaya.errors import DomainError
from atalaya.geo.models import Area, AreaCode
from atalaya.geo.service import children, get_area
from atalaya.web.language import request_language
from atalaya.web.pagination import Page
from atalaya.web.problems import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["areas"], responses=PROBLEM_RESPONSES, route_class=SessionRoute
)


class AreaOut(BaseModel):
    code: str
    level: str
    parent: str | None
    name: str
    names: dict[str, str]
    national_codes: dict[str, str]


def _out(session: SessionDep, area: Area, language: str) -> AreaOut:
    codes = session.execute(
        select(AreaCode.scheme, AreaCode.value).where(AreaCode.area_code == area.code)
    ).all()
    return AreaOut(
        code=area.code,
        level=area.level,
        parent=area.parent_code,
        name=area.name_in(language),
        names=area.names,
        national_codes=dict(codes),
    )


@router.get("/areas", response_model=Page[AreaOut])
def list_areas(request: Request, session: SessionDep, parent: str | None = None) -> Page[AreaOut]:
    """List the areas directly under ``parent`` (the countries when it is omitted)."""
    if parent:
        get_area(session, parent)
    lang = request_language(request)
    items = [_out(session, a, lang) for a in children(session, parent)]
    return Page[AreaOut](items=items, total=len(items), next=None)


@router.get("/areas/{code}", response_model=AreaOut)
def read_area(code: str, request: Request, session: SessionDep) -> AreaOut:
    area = session.get(Area, code)
    if area is None:
        raise DomainError("API-106")
    return _out(session, area, request_language(request))
