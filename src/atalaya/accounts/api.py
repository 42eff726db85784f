"""JSON routes for signing in with a token, agencies, users and API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from atalaya.accounts import login, service
from atalaya.accounts.authz import authorize, authorize_found
from atalaya.accounts.deps import (
    JsonBodyRoute,
    RuntimeDep,
    SessionDep,
    SignedInRoute,
    audit_context,
    audit_read,
    audit_read_async,
    get_runtime,
    reader,
    signed_in,
)
from atalaya.accounts.models import ApiToken, User
from atalaya.accounts.schemas import (
    AgencyCreate,
    AgencyOut,
    NewToken,
    TokenCreate,
    TokenLogin,
    TokenOut,
    UserCreate,
    UserOut,
)
from atalaya.errors import DomainError
from atalaya.web.pagination import MAX_LIMIT, Page, RowId, paginate
from atalaya.web.problems import PROBLEM_RESPONSES, problem_response
from atalaya.web.responses import DocumentResponse

# Signing in is open to anyone; everything else is for signed-in callers only.
public_router = APIRouter(
    prefix="/api/v1", tags=["accounts"], responses=PROBLEM_RESPONSES, route_class=JsonBodyRoute
)
router = APIRouter(
    prefix="/api/v1", tags=["accounts"], responses=PROBLEM_RESPONSES, route_class=SignedInRoute
)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@public_router.post("/auth/token", status_code=201, response_model=NewToken)
def sign_in_for_token(
    body: TokenLogin, request: Request, session: SessionDep, runtime: RuntimeDep
) -> NewToken | JSONResponse:
    """Exchange username, password and (where set up) a TOTP code for a short-lived token."""
    ctx = audit_context(request)
    creds, policy = runtime.credentials, runtime.login_policy
    outcome = login.check_password(session, creds, policy, ctx, body.username, body.password)
    session.commit()  # the failure count holds whatever happens next
    if outcome.user and outcome.enrollment_due:
        outcome = login.LoginOutcome(error="AUTH-113")
    elif (user := outcome.user) is not None and outcome.second_factor_due:
        if not body.totp:
            outcome = login.LoginOutcome(error="AUTH-103", params={})
        else:
            outcome = login.check_second_factor(session, creds, policy, ctx, user, body.totp)
    if outcome.error or outcome.user is None:
        # Answer without raising, so that the failure count above is committed.
        return problem_response(
            request, DomainError(outcome.error or "AUTH-102", params=outcome.params or {})
        )
    login.succeed(session, runtime.login_policy, ctx, outcome.user, "token")
    days = runtime.settings.session_hours / 24
    token, row = service.create_token(session, ctx, outcome.user, days=days, name=body.name)
    return NewToken(token=token, **TokenOut.of(row).model_dump())


@router.get("/me", response_model=UserOut)
async def me(request: Request) -> DocumentResponse:
    """Return the caller's own profile."""
    principal = signed_in(request)
    authorize(principal, "profile.read")
    profile = get_runtime(request).profiles.profile(reader(request), principal.username)
    return DocumentResponse(UserOut.document(profile))


@router.get("/agencies", response_model=Page[AgencyOut])
def list_agencies(
    request: Request, session: SessionDep, cursor: str | None = None, limit: Limit = 100
) -> Page[AgencyOut]:
    principal = signed_in(request)
    authorize(principal, "agency.read")
    stmt = service.visible_agencies(principal)
    return paginate(session, stmt, service.Agency.id, cursor, limit, AgencyOut.of)


@router.get("/agencies/{code}", response_model=AgencyOut)
def read_agency(code: str, request: Request, session: SessionDep) -> AgencyOut:
    principal = signed_in(request)
    return AgencyOut.of(service.visible_agency(session, principal, code))


@router.post("/agencies", status_code=201, response_model=AgencyOut)
def create_agency(body: AgencyCreate, request: Request, session: SessionDep) -> AgencyOut:
    principal = signed_in(request)
    ctx = audit_context(request)
    agency = service.create_agency(session, ctx, by=principal, **body.model_dump())
    return AgencyOut.of(agency)


@router.get("/users", response_model=Page[UserOut])
def list_users(
    request: Request,
    session: SessionDep,
    cursor: str | None = None,
    limit: Limit = 100,
) -> Page[UserOut]:
    principal = signed_in(request)
    authorize(principal, "user.read")
    page = paginate(session, service.visible_users(principal), User.id, cursor, limit, UserOut.of)
    usernames = [u.username for u in page.items]
    audit_read(request, "user.list", object_type="user", detail={"usernames": usernames})
    return page


@router.get("/users/{username}", response_model=UserOut)
async def read_user(username: str, request: Request) -> DocumentResponse:
    """Read a user's profile (personal data: every read is audited)."""
    principal = signed_in(request)
    # Another user's profile: the role first, so that a refusal tells nothing of the name.
    action = "profile.read" if username == principal.username else "user.read"
    authorize(principal, action)
    profile = get_runtime(request).profiles.profile(reader(request), username)
    authorize_found(principal, action, profile.scope, missing="ACC-109", field="username")
    await audit_read_async(request, "user.read", object_type="user", object_id=username)
    return DocumentResponse(UserOut.document(profile))


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(
    body: UserCreate,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
) -> UserOut:
    principal = signed_in(request)
    user = service.create_user(
        session, audit_context(request), runtime.credentials, by=principal, **body.model_dump()
    )
    return UserOut.of(user)


@router.get("/tokens", response_model=Page[TokenOut])
def list_tokens(
    request: Request, session: SessionDep, cursor: str | None = None, limit: Limit = 100
) -> Page[TokenOut]:
    principal = signed_in(request)
    authorize(principal, "token.own")
    stmt = select(ApiToken).where(ApiToken.user_id == principal.user_id)
    page = paginate(session, stmt, ApiToken.id, cursor, limit, TokenOut.of)
    used = service.last_audited_use(session, [t.id for t in page.items])
    for item in page.items:
        item.last_used_at = used.get(item.id)
    return page


@router.post("/tokens", status_code=201, response_model=NewToken)
def create_token(body: TokenCreate, request: Request, session: SessionDep) -> NewToken:
    principal = signed_in(request)
    authorize(principal, "token.own")
    user = service.get_user(session, principal.username)
    token, row = service.create_token(
        session, audit_context(request), user, days=body.days, name=body.name
    )
    return NewToken(token=token, **TokenOut.of(row).model_dump())


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: RowId, request: Request, session: SessionDep) -> None:
    principal = signed_in(request)
    row = service.revocable_token(session, principal, token_id)
    service.revoke_token(session, audit_context(request), row)
