"""``create_app(settings)``: the node's web application, with every domain mounted."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from atalaya import __version__
from atalaya.accounts import api as accounts_api
from atalaya.accounts import views as accounts_views
from atalaya.accounts.deps import SessionRoute
from atalaya.alerts import api as alerts_api
from atalaya.alerts import views as alerts_views
from atalaya.audit import api as audit_api
from atalaya.audit import views as audit_views
from atalaya.db import Database
from atalaya.federation import api as federation_api
from atalaya.federation import hits_api
from atalaya.federation import status as federation_status
from atalaya.geo import api as geo_api
from atalaya.observatory import api as observatory_api
from atalaya.observatory import dashboard as observatory_dashboard
from atalaya.records import api as records_api
from atalaya.records import views as records_views
from atalaya.runtime import Runtime
from atalaya.settings import Settings
from atalaya.web import problems
from atalaya.web.health import DeepHealth
from atalaya.web.middleware import RequestMiddleware, configure_logging
from atalaya.web.problems import PROBLEM_RESPONSES

STATIC_DIR = Path(__file__).parent / "web" / "static"


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """Return the application for ``settings``; ``db`` lets tests share a connection."""
    app = FastAPI(
        title="Atalaya",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        # The interactive docs load scripts from a CDN; nothing may come from another host.
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry provider is configured, and a node sends nothing elsewhere;
        # FastAPI would otherwise look the providers up on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.router.route_class = SessionRoute  # the node's own routes (/healthz), as the rest
    db = db or Database.from_settings(settings, serving=True)
    app.state.runtime = Runtime.from_settings(settings, db)
    problems.install(app)
    app.add_middleware(RequestMiddleware, settings=settings)

    deep_health = DeepHealth(app.state.runtime.db.engine)

    invalid = PROBLEM_RESPONSES[422]
    damaged = {**invalid, "description": "The database failed its integrity check (DB-101)"}

    @app.get("/healthz", tags=["node"], responses={422: invalid, 503: damaged})
    async def healthz(deep: bool = False) -> dict[str, str]:
        """Return ``ok`` while the process serves requests; with ``deep=1``, once the
        database also passed its integrity check (503 with ``DB-101`` otherwise), run
        at most every 30 seconds (``web.health``)."""
        if not deep:
            return {"status": "ok", "version": __version__}
        await deep_health.ensure()
        return {"status": "ok", "version": __version__, "database": "ok"}

    for router in (
        accounts_api.public_router,
        accounts_api.router,
        audit_api.router,
        geo_api.router,
        records_api.router,
        alerts_api.router,
        observatory_api.router,
        federation_api.router,
        hits_api.peer_router,
        hits_api.router,
        federation_status.router,
        federation_status.pages,
        accounts_views.router,
        audit_views.router,
        records_views.router,
        alerts_views.router,
        observatory_dashboard.router,
    ):
        mount_routes(app, router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def mount_routes(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to the application's own list, in order.

    ``include_router`` would wrap them in an included-router layer that FastAPI walks
    route by route on every request, a few microseconds per route passed over (a third
    of the work of the audited GET of docs/performance.md went to finding its route).
    Our routers carry their prefix, tags and responses themselves and add nothing at
    inclusion, so the routes are the same ones, and so is the OpenAPI document (a test
    compares it with the included form).
    """
    app.router.routes.extend(router.routes)


def app_from_environment() -> FastAPI:
    """Return the application configured from ``ATALAYA_*`` variables (for ``serve``).

    Each worker process calls it, so each sets up its own logging: a worker started by
    ``serve --workers N`` is a fresh interpreter that inherits none.
    """
    configure_logging()
    app = create_app(Settings())
    # What exists now (modules, routes, models, compiled statements) lives as long as the
    # worker: move it out of the collector's sight, so that a full collection, which
    # otherwise walks all of it every few hundred requests, costs little.
    gc.collect()
    gc.freeze()
    return app
