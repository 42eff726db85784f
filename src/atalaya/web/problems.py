"""Errors as RFC 9457 problem+json for the API, and as pages for the browser.

Every error carries a stable code (see ``atalaya.errors.CODES``) and a message in the
caller's language. Refusals by ``authorize`` are audited here, in their own
transaction, because the request's own work is rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from atalaya.accounts.deps import get_runtime
from atalaya.audit import service as audit
from atalaya.audit.service import Outcome
from atalaya.db import WriterLockTimeout, statement_timed_out
from atalaya.errors import DomainError, FieldError, field_errors_from_pydantic, message_for
from atalaya.i18n import translator
from atalaya.web.language import request_language

log = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem, as every error of the API is answered."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    request_id: str | None
    errors: list[FieldProblem]


def _described(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": Problem,
        "content": {"application/problem+json": {}},
    }


# What the OpenAPI description says every API route may answer besides success.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Malformed request (API-101, API-108)"),
    401: _described("No valid credentials (AUTH-101 to AUTH-109)"),
    403: _described("Refused by role or jurisdiction (AUTH-110 to AUTH-114)"),
    404: _described("Not found (API-106)"),
    413: _described("Request body too large (API-105)"),
    415: _described("Request body not sent as application/json (API-109)"),
    422: _described("Invalid fields, all of them listed in `errors`"),
    503: _described("Over the node's time budget per statement (API-111)"),
}
PROBLEM_TYPE = "/problems/"
DENIALS = frozenset({"AUTH-111", "AUTH-112", "AUTH-113", "AUTH-110"})


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/federation/", "/.well-known/")) or path == "/healthz"


def problem_response(request: Request, error: DomainError) -> JSONResponse:
    """Return the problem+json response for ``error`` in the caller's language."""
    tr = translator(request_language(request))
    message = message_for(error.code, tr, _summary_params(error))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + error.code,
        "title": message,
        "status": error.status,
        "code": error.code,
        "detail": message,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        "errors": [_field_error(e, tr) for e in _field_errors(error)],
    }
    headers: dict[str, str] = {}
    if error.code == "AUTH-105":
        headers["Retry-After"] = str(int(str(error.params.get("minutes", 15))) * 60)
    if "retry_after" in error.params:  # seconds, e.g. until a daily quota frees up
        headers["Retry-After"] = str(error.params["retry_after"])
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="atalaya"'
    return JSONResponse(body, error.status, headers, media_type="application/problem+json")


def _summary_params(error: DomainError) -> dict[str, object]:
    """The parameters of the summary message: the error's own, or those of the first
    field error of the same code (an error raised for several fields names no value)."""
    if error.params:
        return error.params
    same = [e for e in error.errors if e.code == error.code]
    return same[0].params if same else {}


def _field_errors(error: DomainError) -> list[FieldError]:
    if error.errors:
        return error.errors
    if error.field:
        return [FieldError(error.field, error.code, error.params)]
    return []


def _field_error(error: FieldError, tr: Any) -> dict[str, str]:
    return {
        "field": error.field,
        "code": error.code,
        "message": message_for(error.code, tr, error.params),
    }


def _from_validation(exc: RequestValidationError) -> DomainError:
    errors = field_errors_from_pydantic(exc.errors())
    if any(e.code == "API-101" for e in errors):
        return DomainError("API-101", field="body")
    return DomainError(errors[0].code if errors else "API-104", errors=errors)


def _from_http(exc: HTTPException) -> DomainError:
    code = {404: "API-106", 405: "API-107", 413: "API-105", 415: "API-109"}.get(
        exc.status_code, "API-104" if exc.status_code == 422 else "API-101"
    )
    if exc.status_code >= 500:
        code = "API-500"
    return DomainError(code)


async def _audit_denial(request: Request, error: DomainError) -> None:
    from atalaya.accounts.deps import audit_context

    entry = audit.draft(
        audit_context(request),
        str(error.params.get("action", "access")),
        object_type="route",
        object_id=request.url.path,
        outcome=Outcome.DENIED,
        detail={"code": error.concealed or error.code},
    )
    await get_runtime(request).audit.write(entry)


async def respond(request: Request, error: DomainError) -> Response:
    """Answer ``error`` as problem+json, or for a browser as a page or a redirect."""
    if error.code in DENIALS or error.concealed in DENIALS:
        try:
            await _audit_denial(request, error)
        except WriterLockTimeout:
            # A refusal that cannot be recorded now is still a refusal: answered as
            # the node being too busy, never as the resource.
            error = DomainError("API-111")
    if wants_json(request):
        return problem_response(request, error)
    if error.code in ("AUTH-101", "AUTH-109", "AUTH-103"):
        response = RedirectResponse("/login", status_code=303)
        if error.code == "AUTH-109":
            response.delete_cookie("atalaya_session")
        return response
    from atalaya.web.pages import render_error

    return render_error(request, error)


def describe_problems_in_openapi(app: FastAPI) -> None:
    """Make the OpenAPI description say that errors come as ``application/problem+json``.

    FastAPI files a response model under ``application/json``; for error statuses the
    schema is moved to the media type the API actually sends.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status.isdigit() and int(status) >= 400 and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem or an error page."""

    async def domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return await respond(request, exc)

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await respond(request, _from_validation(exc))

    async def http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return await respond(request, _from_http(exc))

    async def unstorable(request: Request, exc: Exception) -> Response:
        # The database refused a value (a NUL character, say): the client's data, not us.
        log.info("database refused a value on %s %s: %s", request.method, request.url.path, exc)
        return await respond(request, DomainError("API-110"))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return await respond(request, DomainError("API-500"))

    async def over_budget(request: Request, exc: Exception) -> Response:
        if not statement_timed_out(exc):
            return await unexpected(request, exc)
        route = getattr(request.scope.get("route"), "path", request.url.path)
        log.warning(
            "statement stopped at the node's budget (%ss) on %s %s (route %s)",
            get_runtime(request).settings.statement_timeout_seconds,
            request.method,
            request.url.path,
            route,
        )
        return await respond(request, DomainError("API-111"))

    app.add_exception_handler(DomainError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http)
    describe_problems_in_openapi(app)
    app.add_exception_handler(DataError, unstorable)
    app.add_exception_handler(OperationalError, over_budget)
    app.add_exception_handler(WriterLockTimeout, over_budget)
    app.add_exception_handler(Exception, unexpected)
