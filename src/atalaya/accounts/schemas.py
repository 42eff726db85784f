"""JSON shapes of the accounts API. Requests refuse unknown fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from atalaya.accounts.models import Agency, ApiToken, User
from atalaya.accounts.profiles import Profile


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so is text with NUL characters."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("nul_character", "NUL characters are not allowed")
        if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
            raise PydanticCustomError("nul_character", "NUL characters are not allowed")
        return value


class TokenLogin(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=12)
    name: str = Field(default="", max_length=100)


class TokenCreate(Strict):
    name: str = Field(default="", max_length=100)
    days: float = Field(default=30, gt=0, le=366)


class AgencyCreate(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    level: str
    area: str
    parent: str | None = None


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    full_name: str = Field(default="", max_length=200)
    agency: str
    roles: list[str] = Field(min_length=1)
    password: str = Field(min_length=1, max_length=1024)


class AgencyOut(BaseModel):
    code: str
    name: str
    level: str
    area: str
    parent: str | None

    @classmethod
    def of(cls, agency: Agency) -> AgencyOut:
        parent = agency.parent.code if agency.parent else None
        return cls(
            code=agency.code,
            name=agency.name,
            level=agency.level,
            area=agency.area_code,
            parent=parent,
        )


class UserOut(BaseModel):
    username: str
    full_name: str
    agency: str
    roles: list[str]
    active: bool
    second_factor: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            username=user.username,
            full_name=user.full_name,
            agency=user.agency.code,
            roles=sorted(user.roles),
            active=user.active,
            second_factor=user.totp_secret is not None,
        )

    @staticmethod
    def document(profile: Profile) -> dict[str, Any]:
        """Return the profile as this model's JSON document, for ``DocumentResponse``."""
        return {
            "username": profile.username,
            "full_name": profile.full_name,
            "agency": profile.agency,
            "roles": profile.roles,
            "active": profile.active,
            "second_factor": profile.second_factor,
        }


class TokenOut(BaseModel):
    id: int
    prefix: str
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    # The token's most recent audited request, read from the audit log.
    last_used_at: dt.datetime | None = None

    @classmethod
    def of(cls, row: ApiToken, last_used_at: dt.datetime | None = None) -> TokenOut:
        return cls(
            id=row.id,
            prefix=row.prefix,
            name=row.name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=last_used_at,
        )


class NewToken(TokenOut):
    token: str
