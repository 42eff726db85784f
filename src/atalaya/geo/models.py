"""Areas: countries, their ISO 3166-2 subdivisions, municipalities, and national codes."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atalaya.db import Base


class AreaLevel(StrEnum):
    COUNTRY = "country"
    SUBDIVISION = "subdivision"
    MUNICIPALITY = "municipality"


class Area(Base):
    """A place with a code: ``MX``, ``MX-CHH``, ``MX-08-037``.

    ``path`` lists the codes from the country down, as ``/MX/MX-CHH/MX-08-037/``, so
    "is this inside that" is a prefix test both in Python and in SQL.
    """

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[AreaLevel] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("areas.code"), index=True)
    country_code: Mapped[str] = mapped_column(String(2), index=True)
    path: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    def name_in(self, language: str) -> str:
        """Return the area's name in ``language``, falling back to its official name."""
        return self.names.get(language) or self.name


class AreaCode(Base):
    """A national statistical code attached to an area (INEGI ``08``, DANE ``05001``...)."""

    __tablename__ = "area_codes"
    __table_args__ = (UniqueConstraint("scheme", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(32))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code", ondelete="CASCADE"), index=True)
