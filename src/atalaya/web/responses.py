"""``DocumentResponse``: JSON that a route builds itself from typed values, sent as it is.

FastAPI validates whatever a route returns against the route's response model and then
encodes it, which is right for values that come from elsewhere. A document built field
by field from typed columns (a profile read on every audited request) needs neither
step, and orjson writes the same bytes as Starlette's ``JSONResponse`` several times
faster. The route still declares its ``response_model``: the OpenAPI document shows it,
and tests hold the body to it (decision 0006).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class DocumentResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
