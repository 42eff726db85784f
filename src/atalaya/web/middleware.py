"""ASGI middleware: a request id on every request and log line, security headers,
and the request body size limit. Written as plain ASGI (no ``BaseHTTPMiddleware``)
because it sits on every request's path.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import os
import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atalaya.settings import Settings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("atalaya.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class BodyTooLarge(HTTPException):
    """Raised while reading a body past the limit; FastAPI lets HTTPExceptions through."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every log record as ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestMiddleware:
    """Assigns the request id, enforces the body limit and adds security headers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.hsts = settings.served_over_tls
        self.trusted_proxies = tuple(settings.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _VALID_REQUEST_ID.match(given) else os.urandom(16).hex()
        token = request_id_var.set(request_id)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_address"] = self._client_address(scope)
        started = time.perf_counter()
        status = 500
        tls = self.hsts or scope.get("scheme") == "https"
        added = [(b"x-request-id", request_id.encode()), *(TLS_HEADERS if tls else HEADERS)]

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        try:
            await self.app(scope, self._limited(receive, headers), send_with_headers)
        finally:
            access_log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )
            request_id_var.reset(token)

    def _client_address(self, scope: Scope) -> str:
        """Return the address of the client, for sign-in locks and the audit log.

        The peer's, unless the peer is a trusted proxy: then the rightmost address of
        ``X-Forwarded-For`` that is not a trusted proxy, the one the last trusted proxy
        saw. Addresses further left were written by the client and prove nothing.
        """
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        if not self._trusted(peer):
            return peer[:64]
        hops = [
            hop.strip()
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
        ]
        for hop in reversed(hops):
            if not self._trusted(hop):
                # A proxy writes an address; anything else is not one: keep the proxy's.
                return hop[:64] if _is_address(hop) else peer[:64]
        # Every hop a trusted proxy: the leftmost was still written by whoever called the
        # first proxy, so it proves nothing; the peer does.
        return peer[:64]

    def _trusted(self, address: str) -> bool:
        if not self.trusted_proxies or not _is_address(address):
            return False
        ip = ipaddress.ip_address(address)
        # A proxy reached over IPv6 may show as ::ffff:10.0.0.5: the same proxy.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.trusted_proxies)

    def _limited(self, receive: Receive, headers: dict[bytes, bytes]) -> Receive:
        length = headers.get(b"content-length")
        declared_too_large = bool(length and length.isdigit() and int(length) > self.max_body)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared_too_large:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge()
            return message

        return limited_receive


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# Sent with every response (besides the request id).
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
TLS_HEADERS = (*HEADERS, (b"strict-transport-security", b"max-age=31536000; includeSubDomains"))


class LineFormatter(logging.Formatter):
    """The standard formatter, with each second's timestamp text made once.

    ``formatTime`` converts and formats the time for every record: a few microseconds
    on every request's access line (``time.localtime`` may consult the time zone file).
    Records within one second share the text up to the milliseconds.
    """

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached_second, text = self._second
        if second != cached_second:
            text = time.strftime(self.default_time_format, self.converter(second))
            self._second = (second, text)  # one assignment: safe across threads
        if self.default_msec_format:
            return self.default_msec_format % (text, record.msecs)
        return text


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with the request id on every line."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        LineFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Every request writes an access line: leave out of each record what no line shows
    # (the logging HOWTO's "Optimization" section).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
