"""Loading areas from data files and answering "is this area inside that one"."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.datafiles import read_commented_csv
from atalaya.errors import DomainError
from atalaya.geo.models import Area, AreaCode, AreaLevel

DATA_DIR = Path(__file__).parent / "data"
# Loaded by ``atalaya db upgrade``, in this order (parents first).
REFERENCE_FILES = (DATA_DIR / "areas.csv", DATA_DIR / "co-municipalities.csv")
LANG_COLUMNS = ("en", "es", "pt", "fr")


@dataclass(frozen=True)
class AreaRow:
    line: int
    code: str
    level: AreaLevel
    parent: str | None
    name: str
    names: dict[str, str]
    national_codes: tuple[tuple[str, str], ...]


def read_area_file(text: str) -> list[AreaRow]:
    """Return the rows of an area CSV (comment lines start with ``#``).

    Raises ``GEO-101`` naming the first bad line; nothing is returned half-read.
    """
    return [_parse_row(line, record) for line, record in read_commented_csv(text).rows]


def _parse_row(line: int, record: dict[str, str]) -> AreaRow:
    def fail(problem: str) -> DomainError:
        return DomainError("GEO-101", params={"line": line, "problem": problem})

    code = (record.get("code") or "").strip()
    name = (record.get("name") or "").strip()
    if not code or not name:
        raise fail("code and name are required")
    try:
        level = AreaLevel((record.get("level") or "").strip())
    except ValueError:
        raise fail(f"unknown level {record.get('level')!r}") from None
    parent = (record.get("parent") or "").strip() or None
    if (level is AreaLevel.COUNTRY) != (parent is None):
        raise fail("a country has no parent; every other area has one")
    codes = []
    for pair in filter(None, (record.get("national_codes") or "").split(";")):
        scheme, sep, value = pair.strip().partition(":")
        if not sep or not scheme or not value:
            raise fail(f"national code {pair!r} is not SCHEME:VALUE")
        codes.append((scheme, value))
    names = {lang: v.strip() for lang in LANG_COLUMNS if (v := record.get(f"name_{lang}") or "")}
    return AreaRow(line, code, level, parent, name, names, tuple(codes))


def load_areas(session: Session, rows: Iterable[AreaRow]) -> int:
    """Insert or update ``rows`` (parents before children); return how many changed.

    Loading the same rows twice changes nothing. Raises ``GEO-101`` for a row whose
    parent is neither in the database nor earlier in ``rows``.
    """
    areas = {area.code: area for area in session.scalars(select(Area))}
    codes = {(c.scheme, c.value): c for c in session.scalars(select(AreaCode))}
    changed = 0
    for row in rows:
        path = _path_for(row, areas)
        changed += _upsert_area(session, row, path, areas)
        changed += _upsert_codes(session, row, codes)
    session.flush()
    return changed


def _path_for(row: AreaRow, areas: dict[str, Area]) -> str:
    if row.parent is None:
        return f"/{row.code}/"
    parent = areas.get(row.parent)
    if parent is None:
        raise DomainError(
            "GEO-101", params={"line": row.line, "problem": f"unknown parent {row.parent}"}
        )
    return f"{parent.path}{row.code}/"


def _upsert_area(session: Session, row: AreaRow, path: str, areas: dict[str, Area]) -> int:
    country = path.strip("/").split("/")[0]
    values = {
        "level": row.level,
        "parent_code": row.parent,
        "country_code": country,
        "path": path,
        "name": row.name,
        "names": row.names,
    }
    area = areas.get(row.code)
    if area is None:
        areas[row.code] = Area(code=row.code, **values)
        session.add(areas[row.code])
        return 1
    if all(getattr(area, k) == v for k, v in values.items()):
        return 0
    for key, value in values.items():
        setattr(area, key, value)
    return 1


def _upsert_codes(session: Session, row: AreaRow, codes: dict[tuple[str, str], AreaCode]) -> int:
    changed = 0
    for scheme, value in row.national_codes:
        existing = codes.get((scheme, value))
        if existing is None:
            codes[(scheme, value)] = AreaCode(scheme=scheme, value=value, area_code=row.code)
            session.add(codes[(scheme, value)])
            changed += 1
        elif existing.area_code != row.code:
            existing.area_code = row.code
            changed += 1
    return changed


def seed_reference_areas(session: Session) -> int:
    """Load the shipped reference areas (the OAS member states, their subdivisions, and
    the municipalities shipped so far); return how many rows changed."""
    return sum(
        load_areas(session, read_area_file(path.read_text(encoding="utf-8")))
        for path in REFERENCE_FILES
    )


def get_area(session: Session, code: str) -> Area:
    """Return the area with ``code`` or raise ``ACC-102``."""
    area = session.get(Area, code)
    if area is None:
        raise DomainError("ACC-102", field="area", params={"code": code})
    return area


def find_by_national_code(session: Session, scheme: str, value: str) -> Area | None:
    return session.scalar(
        select(Area).join(AreaCode).where(AreaCode.scheme == scheme, AreaCode.value == value)
    )


def children(session: Session, code: str | None) -> Iterator[Area]:
    stmt = select(Area).where(Area.parent_code == code if code else Area.parent_code.is_(None))
    yield from session.scalars(stmt.order_by(Area.code))
