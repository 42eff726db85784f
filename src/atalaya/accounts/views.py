"""Browser pages: sign-in (password, then TOTP or its enrollment), home, language."""

from __future__ import annotations

import base64
import io
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from atalaya.accounts import login, service
from atalaya.accounts.authz import Principal, authorize, requires_second_factor, role_policies
from atalaya.accounts.credentials import new_totp_secret, provisioning_uri, totp_step
from atalaya.accounts.deps import (
    CSRF_COOKIE,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    RuntimeDep,
    SessionDep,
    SessionRoute,
    audit_context,
    audit_read,
    check_csrf,
    secure_cookies,
)
from atalaya.accounts.models import ApiToken, User, WebSession
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.runtime import Runtime
from atalaya.settings import LANGUAGES
from atalaya.web.pages import field_messages, render
from atalaya.web.pagination import RowId

router = APIRouter(include_in_schema=False, route_class=SessionRoute)


async def checked_form(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    check_csrf(request, csrf_token)


CsrfDep = Depends(checked_form)


async def session_of(request: Request, runtime: RuntimeDep) -> tuple[WebSession, User]:
    """Return the browser's session and its user, read with a session of their own.

    Not the request's session: on a form's submission that one writes, and its first
    statement would take the writers' lock here, in a thread the route does not run in
    (decision 0009). A route that changes them loads them again (``in_session``).
    """
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise DomainError("AUTH-101")

    def find() -> tuple[WebSession, User]:
        with runtime.db.read_sessions() as session:
            return login.find_session(session, runtime.credentials, cookie)

    return await run_in_threadpool(find)


def in_session(session: Session, current: tuple[WebSession, User]) -> tuple[WebSession, User]:
    """Return the browser's session and its user loaded in ``session``, to change them."""
    web_session = session.get(WebSession, current[0].id)
    user = session.get(User, current[1].id)
    if web_session is None or user is None:
        raise DomainError("AUTH-109")
    return web_session, user


SessionOf = Annotated[tuple[WebSession, User], Depends(session_of)]


async def web_principal(request: Request, current: SessionOf) -> Principal:
    """Return the signed-in user of a page; a session still owing its second factor is not."""
    web_session, user = current
    if not web_session.verified:
        raise DomainError("AUTH-103")
    principal = service.principal_for(user, session_id=web_session.id)
    request.state.principal = principal
    return principal


WebPrincipal = Annotated[Principal, Depends(web_principal)]


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """Set an HttpOnly, SameSite=Lax cookie, Secure when the node is reached over HTTPS."""
    secure = secure_cookies(request)
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(request, "accounts/login.html", {"errors": {}, "username": ""})


@router.post("/login", dependencies=[CsrfDep])
def login_submit(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    ctx = audit_context(request)
    outcome = login.check_password(
        session, runtime.credentials, runtime.login_policy, ctx, username, password
    )
    session.commit()  # the failure count holds whatever happens next
    if outcome.error or outcome.user is None:
        error = DomainError(outcome.error or "AUTH-102", params=outcome.params or {})
        context = {"errors": field_messages(request, error), "username": username}
        return render(request, "accounts/login.html", context, status=error.status)
    user = outcome.user
    verified = not (outcome.second_factor_due or outcome.enrollment_due)
    cookie = login.open_session(
        session,
        runtime.credentials,
        runtime.settings,
        user,
        verified=verified,
        client_address=ctx.client_address or "",
    )
    if verified:
        login.succeed(session, runtime.login_policy, ctx, user, "password")
    target = "/" if verified else "/login/totp" if outcome.second_factor_due else "/login/enroll"
    response = RedirectResponse(target, status_code=303)
    _set_cookie(response, request, SESSION_COOKIE, cookie, runtime.settings.session_hours * 3600)
    # A new CSRF cookie after sign-in, so a token planted before it is worthless.
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/login/totp")
async def totp_page(request: Request, current: SessionOf) -> Response:
    return render(request, "accounts/totp.html", {"errors": {}})


@router.post("/login/totp", dependencies=[CsrfDep])
def totp_submit(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    current: SessionOf,
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    web_session, user = in_session(session, current)
    ctx = audit_context(request)
    outcome = login.check_second_factor(
        session, runtime.credentials, runtime.login_policy, ctx, user, code
    )
    if outcome.error:
        error = DomainError(outcome.error, field="code", params=outcome.params or {})
        return render(
            request,
            "accounts/totp.html",
            {"errors": field_messages(request, error)},
            status=error.status,
        )
    login.succeed(session, runtime.login_policy, ctx, user, "totp")
    renewed = login.renew_session(session, runtime.credentials, runtime.settings, web_session, user)
    return _verified(request, runtime, renewed)


def _verified(request: Request, runtime: Runtime, cookie: str) -> Response:
    """Go home with the new session that the second factor earned."""
    response = RedirectResponse("/", status_code=303)
    _set_cookie(response, request, SESSION_COOKIE, cookie, runtime.settings.session_hours * 3600)
    return response


# An offered TOTP key travels in the form, sealed to the user, for this long.
ENROLLMENT_SECONDS = 600


@router.get("/login/enroll")
async def enroll_page(request: Request, runtime: RuntimeDep, current: SessionOf) -> Response:
    """Offer a new TOTP key. Nothing is stored until the user proves they hold it."""
    return _render_enroll(request, runtime, current[1], new_totp_secret(), {})


def _render_enroll(
    request: Request, runtime: Runtime, user: User, secret: str, errors: dict[str, str]
) -> Response:
    uri = provisioning_uri(secret, user.username)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, dark="#000", light="#fff")
    qr = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
    offer = runtime.credentials.seal(f"{user.id}:{secret}")
    context = {"secret": secret, "uri": uri, "qr": qr, "offer": offer, "errors": errors}
    return render(request, "accounts/enroll.html", context, status=401 if errors else 200)


@router.post("/login/enroll", dependencies=[CsrfDep])
def enroll_submit(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    current: SessionOf,
    code: Annotated[str, Form(max_length=12)] = "",
    offer: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    web_session, user = in_session(session, current)
    opened = runtime.credentials.unseal(offer, max_age=ENROLLMENT_SECONDS)
    owner, _, secret = (opened or "").partition(":")
    if owner != str(user.id) or not secret:
        return RedirectResponse("/login/enroll", status_code=303)
    step = totp_step(secret, code, None)
    if step is None:
        error = DomainError("AUTH-104", field="code")
        return _render_enroll(request, runtime, user, secret, field_messages(request, error))
    user.totp_secret, user.totp_last_step = runtime.credentials.seal(secret), step
    login.succeed(session, runtime.login_policy, audit_context(request), user, "totp-enrolled")
    renewed = login.renew_session(session, runtime.credentials, runtime.settings, web_session, user)
    return _verified(request, runtime, renewed)


@router.post("/logout", dependencies=[CsrfDep])
def logout(request: Request, session: SessionDep, current: SessionOf) -> Response:
    login.close_session(session, in_session(session, current)[0])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language", dependencies=[CsrfDep])
def choose_language(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    language: Annotated[str, Form()] = "en",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Remember the chosen language (cookie, and the user's profile when signed in)."""
    if language not in LANGUAGES:
        raise DomainError("API-104", field="language")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            _, user = login.find_session(session, runtime.credentials, cookie)
            user.language = language
        except DomainError:
            user = None  # a stale session: the cookie alone carries the choice
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    _set_cookie(response, request, LANGUAGE_COOKIE, language, 365 * 86400)
    return response


@router.get("/")
def home(request: Request, principal: WebPrincipal, session: SessionDep) -> Response:
    """The home page: who you are, your jurisdiction, and what each of your roles can do."""
    user = service.get_user(session, principal.username)
    policies = role_policies()
    roles = sorted(principal.roles)
    actions = {r: sorted(policies[r].actions) for r in roles}
    context = {
        "user": user,
        "roles": roles,
        "actions": actions,
        "second_factor_required": requires_second_factor(principal.roles),
    }
    return render(request, "accounts/home.html", context)


@router.get("/admin/agencies")
def agencies_page(request: Request, principal: WebPrincipal, session: SessionDep) -> Response:
    authorize(principal, "agency.read")
    stmt = service.visible_agencies(principal).order_by(service.Agency.code).limit(500)
    return render(request, "accounts/agencies.html", {"agencies": session.scalars(stmt).all()})


@router.get("/admin/users")
def users_page(request: Request, principal: WebPrincipal, session: SessionDep) -> Response:
    authorize(principal, "user.read")
    users = session.scalars(
        service.visible_users(principal).order_by(User.username).limit(500)
    ).all()
    usernames = [u.username for u in users]
    audit_read(request, "user.list", object_type="user", detail={"usernames": usernames})
    return render(request, "accounts/users.html", {"users": users})


@router.get("/account/tokens")
def tokens_page(request: Request, principal: WebPrincipal, session: SessionDep) -> Response:
    """The signed-in user's API tokens: list, create, revoke."""
    authorize(principal, "token.own")
    return _render_tokens(request, session, principal)


def _render_tokens(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    new_token: str | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id.desc())
    ).all()
    context = {
        "tokens": rows,
        "used": service.last_audited_use(session, [row.id for row in rows]),
        "now": utcnow(),
        "new_token": new_token,
        "errors": errors or {},
    }
    return render(request, "accounts/tokens.html", context, status=422 if errors else 200)


@router.post("/account/tokens", dependencies=[CsrfDep])
def tokens_create(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    name: Annotated[str, Form(max_length=100)] = "",
    days: Annotated[str, Form(max_length=10)] = "30",
) -> Response:
    """Create a token and show it, this once."""
    authorize(principal, "token.own")
    user = service.get_user(session, principal.username)
    try:
        lifetime = float(days)
        token, _ = service.create_token(
            session, audit_context(request), user, days=lifetime, name=name.strip()
        )
    except ValueError:
        error = DomainError("ACC-110", field="days", params={"max": service.MAX_TOKEN_DAYS})
        return _render_tokens(request, session, principal, errors=field_messages(request, error))
    except DomainError as error:
        return _render_tokens(request, session, principal, errors=field_messages(request, error))
    return _render_tokens(request, session, principal, new_token=token)


@router.post("/account/tokens/{token_id}/revoke", dependencies=[CsrfDep])
def tokens_revoke(
    token_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    authorize(principal, "token.own")
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != principal.user_id:
        raise DomainError("API-106")
    service.revoke_token(session, audit_context(request), row)
    return RedirectResponse("/account/tokens", status_code=303)
