"""Rendering server-side pages: one Jinja2 environment, translated through ``_()``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from atalaya.accounts.deps import CSRF_COOKIE, csrf_token, secure_cookies
from atalaya.errors import DomainError, message_for
from atalaya.i18n import LANGUAGE_NAMES, translator
from atalaya.web.language import request_language

PACKAGE = Path(__file__).parent.parent
TEMPLATE_DIRS = [
    PACKAGE / "web" / "templates",
    PACKAGE / "accounts" / "templates",
    PACKAGE / "audit" / "templates",
    PACKAGE / "records" / "templates",
    PACKAGE / "alerts" / "templates",
    PACKAGE / "observatory" / "templates",
    PACKAGE / "federation" / "templates",
]


@cache
def environment() -> Environment:
    """Return the shared template environment (built once per process)."""
    return Environment(
        loader=FileSystemLoader([str(p) for p in TEMPLATE_DIRS]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render ``template`` in the request's language, with CSRF token and signed-in user."""
    lang = request_language(request)
    tr = translator(lang)
    token = csrf_token(request)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            lang=lang,
            _=tr.gettext,
            ngettext=tr.ngettext,
            languages=LANGUAGE_NAMES,
            csrf_token=token,
            principal=getattr(request.state, "principal", None),
            **(context or {}),
        )
    )
    response = HTMLResponse(html, status_code=status)
    new_cookie = getattr(request.state, "new_csrf_cookie", None)
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            new_cookie,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
            path="/",
        )
    return response


def render_error(request: Request, error: DomainError) -> HTMLResponse:
    message = message_for(error.code, translator(request_language(request)), error.params)
    return render(
        request, "error.html", {"code": error.code, "message": message}, status=error.status
    )


def field_messages(request: Request, error: DomainError) -> dict[str, str]:
    """Return ``{field: message}`` for showing errors beside form fields."""
    tr = translator(request_language(request))
    messages = {e.field: message_for(e.code, tr, e.params) for e in error.errors}
    messages.setdefault(error.field or "form", message_for(error.code, tr, error.params))
    return messages
