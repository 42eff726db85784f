"""Which language to answer in: the user's choice, then the cookie, then the browser's."""

from __future__ import annotations

from fastapi import Request

from atalaya.i18n import negotiate
from atalaya.settings import LANGUAGES


def request_language(request: Request) -> str:
    """Return the language for this request.

    In order: the signed-in user's saved language, the ``atalaya_lang`` cookie, the
    ``Accept-Language`` header, the node's default (``ATALAYA_LANGUAGE``).
    """
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.language in LANGUAGES:
        return str(principal.language)
    cookie = request.cookies.get("atalaya_lang")
    if cookie in LANGUAGES:
        return str(cookie)
    default = request.app.state.runtime.settings.language
    return negotiate(request.headers.get("accept-language"), default)
