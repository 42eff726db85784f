"""FastAPI dependencies and route classes: the database session, who is asking, and CSRF
checks.

Every route that works with a ``Session`` is a plain ``def``, which FastAPI runs in its
thread pool, and ``SessionDep`` is a plain generator, set up and closed in that pool too
(decision 0009). The event loop only runs the few prepared statements on every request's
path (who holds this token, the audit log's group commits), which never wait for a lock
and take microseconds. A slow statement, or a writer waiting for SQLite's writers' lock,
then holds one thread of the pool, never the loop and every other request with it.

``SessionDep`` commits once, when the route returns without error, before the
response is sent; any error rolls the whole request back.
"""

from __future__ import annotations

import functools
import inspect
import secrets
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Response, params
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from atalaya.accounts.authz import Principal
from atalaya.accounts.login import find_session
from atalaya.accounts.service import actor_for, principal_for
from atalaya.audit.service import ANONYMOUS, AuditContext, draft
from atalaya.db import DirectConnection
from atalaya.errors import DomainError
from atalaya.runtime import Runtime

SESSION_COOKIE = "atalaya_session"
CSRF_COOKIE = "atalaya_csrf"
LANGUAGE_COOKIE = "atalaya_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _runtime(request: Request) -> Runtime:
    # A plain function dependency would be run in the thread pool; this one needs no I/O.
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def reader(request: Request) -> DirectConnection:
    """Return the process's own read connection, for prepared reads such as ``profiles``.

    A plain call rather than a dependency: FastAPI's resolution of one more dependency
    costs more than the read itself.
    """
    return get_runtime(request).db.reader


def get_session(request: Request) -> Iterator[Session]:
    """Yield the request's session: read-only for GET and HEAD, read-write otherwise.

    A plain generator, so that FastAPI opens and closes it in its thread pool, where
    the route that takes it runs too."""
    db = get_runtime(request).db
    factory = db.read_sessions if request.method in SAFE_METHODS else db.sessions
    with factory() as session:
        request.state.db = session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def submitted_form(request: Request) -> dict[str, str]:
    """Return the fields of a submitted form (files left out), read on the event loop
    before a plain ``def`` route runs in its thread."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


SubmittedForm = Annotated[dict[str, str], Depends(submitted_form)]


async def request_body(request: Request) -> bytes:
    """Return the raw body, read on the event loop before a plain ``def`` route runs."""
    return await request.body()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


async def authenticate(request: Request) -> Principal:
    """Return who is calling, by bearer token or (verified) session cookie, and keep it
    on the request (``request.state.principal``) for the audit context.

    Both are checked in the database on every request, so a revoked token or a closed
    session is refused at once. Tokens are looked up on the process's own read
    connection, without a session (decision 0002), through the process's holder cache,
    which one read of the credential epoch validates (``profiles.HolderCache``).

    Raises ``AUTH-101`` with no credentials, ``AUTH-108``/``106``/``107``/``114`` for bad
    tokens, ``AUTH-109`` for a bad cookie, ``AUTH-103`` for a session that still owes its
    second factor, ``AUTH-110`` for a cookie-authenticated unsafe request without its
    CSRF header.
    """
    token = bearer_token(request)
    if token is not None:
        principal = get_runtime(request).holders.principal(reader(request), token)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        # A session cookie is looked up with an ORM session: in a thread, off the loop.
        principal = await run_in_threadpool(_cookie_holder, request, cookie)
    else:
        raise DomainError("AUTH-101")
    request.state.principal = principal
    return principal


def has_credentials(request: Request) -> bool:
    """Return whether the request carries a bearer token or a session cookie."""
    return bearer_token(request) is not None or SESSION_COOKIE in request.cookies


def _cookie_holder(request: Request, cookie: str) -> Principal:
    runtime = get_runtime(request)
    with runtime.db.read_sessions() as session:
        web_session, user = find_session(session, runtime.credentials, cookie)
        if not web_session.verified:
            raise DomainError("AUTH-103")
        if request.method not in SAFE_METHODS:
            check_csrf(request, request.headers.get(CSRF_HEADER))
        return principal_for(user, session_id=web_session.id)


def sends_json(content_type: str | None) -> bool:
    """Return whether ``content_type`` names JSON: ``application/json`` or a
    ``application/...+json`` type, parameters such as ``charset`` allowed."""
    media = (content_type or "").partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def refuse_a_body_not_sent_as_json(request: Request) -> None:
    """Raise ``API-109`` (415) for a request with a body not labelled as JSON, none
    included: FastAPI would otherwise try to read it and answer 422."""
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if has_body and not sends_json(headers.get("content-type")):
        raise DomainError("API-109")


def committed_where_it_ran(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``endpoint`` (a plain ``def`` route) made to commit the sessions it takes
    before it returns, in the thread it ran in; to roll them back if it raises.

    A writing session holds SQLite's writers' lock (PostgreSQL: the audit head's row)
    from its first statement to its commit. Were the commit left to ``SessionDep``'s
    exit, after FastAPI has serialised the answer in another thread of the pool, the
    holder would need a second thread while holding the lock; with every thread of the
    pool taken by requests waiting for that lock, none would ever come (issue 12's
    review). The session's exit then finds nothing left to commit.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        try:
            result = endpoint(*args, **kwargs)
        except BaseException:
            for session in sessions:
                session.rollback()
            raise
        for session in sessions:
            session.commit()
        return result

    return run


class SessionRoute(APIRoute):
    """The route class of every router: a plain ``def`` route commits its session in its
    own thread (``committed_where_it_ran``), so that no lock is held across threads."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, committed_where_it_ran(endpoint), **kwargs)


class JsonBodyRoute(SessionRoute):
    """The route class of the API: a route that reads a JSON body refuses one sent in
    another media type, or with none named, with ``API-109`` (415; docs/errors.md)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None or isinstance(self.body_field.field_info, params.Form):
            return handler

        async def json_body_handler(request: Request) -> Response:
            refuse_a_body_not_sent_as_json(request)
            return await handler(request)

        return json_body_handler


class SignedInRoute(JsonBodyRoute):
    """The route class of the API's routers for signed-in callers (decision 0006).

    Who is calling is settled before FastAPI reads the route's parameters and body: an
    anonymous or badly credentialed client gets its 401 whatever else it sent (never a
    422 first), and no route of such a router can forget to ask. The route reads the
    caller with ``signed_in(request)``. The caller is settled before the body's media
    type is checked too: an anonymous client gets 401, never 415.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def signed_in_handler(request: Request) -> Response:
            await authenticate(request)
            return await handler(request)

        return signed_in_handler


class OptionalSignInRoute(JsonBodyRoute):
    """The route class of routers whose routes answer anyone, and signed-in callers with
    more: credentials are optional, but those sent must be valid (a bad token is refused,
    not taken for anonymous). The route reads the caller with ``caller(request)``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def optional_sign_in_handler(request: Request) -> Response:
            if has_credentials(request):
                await authenticate(request)
            return await handler(request)

        return optional_sign_in_handler


def signed_in(request: Request) -> Principal:
    """Return the caller of a ``SignedInRoute`` route, established before it ran."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise RuntimeError(f"{request.url.path} is not served by a SignedInRoute")
    return principal


def caller(request: Request) -> Principal | None:
    """Return the caller of an ``OptionalSignInRoute`` route: ``None`` when anonymous."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


def audit_context(request: Request) -> AuditContext:
    """Return the audit context of this request (anonymous until a principal is known)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return AuditContext(
        actor=actor_for(principal) if principal else ANONYMOUS,
        request_id=getattr(request.state, "request_id", None),
        client_address=getattr(request.state, "client_address", None),
    )


def audit_read(request: Request, action: str, **fields: Any) -> None:
    """Record a read by this request (through the group-commit writer) and return once
    it is committed; for plain ``def`` routes, which run in the thread pool. ``fields``
    are those of ``atalaya.audit.service.draft``.

    A read request's transaction ends first: what it read is in hand, and a snapshot
    held open while waiting would keep SQLite from checkpointing its write-ahead log.
    A writing request records its reads in its own transaction instead
    (``audit.service.record``): waiting here for the group commit while holding the
    writers' lock would wait for itself.
    """
    session = getattr(request.state, "db", None)
    if request.method not in SAFE_METHODS:
        raise RuntimeError("audit_read is for reading requests; a write records its own entry")
    if session is not None:
        session.commit()
    audit_from_thread(request, draft(audit_context(request), action, **fields))


def audit_from_thread(request: Request, entry: dict[str, Any]) -> None:
    """Append ``entry`` through the group-commit writer from a route's thread, and return
    once it is committed. The request must hold no write transaction (roll back or
    commit first): the writer would wait for the writers' lock this thread holds."""
    anyio.from_thread.run(get_runtime(request).audit.write, entry)


async def audit_read_async(request: Request, action: str, **fields: Any) -> None:
    """``audit_read`` for the ``async`` routes that take no session (prepared reads only)."""
    await get_runtime(request).audit.write(draft(audit_context(request), action, **fields))


def secure_cookies(request: Request) -> bool:
    """Return whether cookies must be ``Secure``: when users reach the node over HTTPS
    (``ATALAYA_PUBLIC_URL``), even if the request came from a TLS-ending proxy as HTTP."""
    return get_runtime(request).settings.served_over_tls or request.url.scheme == "https"


def csrf_cookie_value(request: Request) -> str:
    """Return this browser's CSRF cookie value, minting one if it has none yet."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = value
    return str(value)


def csrf_token(request: Request) -> str:
    """Return the token forms must echo back: an HMAC of the browser's CSRF cookie."""
    return get_runtime(request).credentials.sign("csrf", csrf_cookie_value(request))


def check_csrf(request: Request, given: str | None) -> None:
    """Raise ``AUTH-110`` unless ``given`` matches this browser's CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    expected = get_runtime(request).credentials.sign("csrf", cookie) if cookie else None
    if not given or not expected or not secrets.compare_digest(given, expected):
        raise DomainError("AUTH-110", field=CSRF_FIELD)
