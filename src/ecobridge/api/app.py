"""create_app(settings): the FastAPI application with every router mounted."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecobridge import __version__
from ecobridge.config import Settings, get_settings
from ecobridge.errors import EcobridgeError
from ecobridge.store import Store, open_store

PROBLEM = "application/problem+json"


def _problem(status: int, title: str, detail: str, type_: str, **extra) -> JSONResponse:
    body = {"type": f"https://ecobridge.invalid/problems/{type_}", "title": title,
            "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install_error_handlers(app: FastAPI) -> None:
    """RFC 9457 problem+json for every error, from one place."""

    @app.exception_handler(EcobridgeError)
    async def _domain(request: Request, exc: EcobridgeError):
        return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        return _problem(422, "Invalid request", detail, "invalid-request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and _wants_page(request):
            # a browser at a wrong address gets the site's page, not JSON
            from ecobridge.web.render import render

            return render(request, "catalog/not_found.html", status=404)
        return _problem(exc.status_code, str(exc.detail), str(exc.detail), "http-error")


MACHINE_PREFIXES = ("/api/", "/ogcapi", "/sta/", "/static/")


def _wants_page(request: Request) -> bool:
    """A browser's navigation (it asks for HTML first) outside the machine interfaces."""
    accept = request.headers.get("accept", "")
    return (accept.startswith("text/html")
            and not request.url.path.startswith(MACHINE_PREFIXES))


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the app. A `store` passed in stays the caller's; else the app opens and closes one."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = store is None
        app.state.store = store or open_store(settings)
        from ecobridge.alerts.scheduler import start_workers, stop_workers

        workers = start_workers(app.state.store)  # webhook outbox and silence check
        try:
            yield
        finally:
            stop_workers(workers)
            if own:
                app.state.store.close()

    app = FastAPI(title="ecobridge", version=__version__, lifespan=lifespan,
                  openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)

    @app.get("/api/v1/health", tags=["meta"])
    def health(request: Request) -> dict:
        """Liveness and the store's schema version."""
        version = request.app.state.store.scalar("SELECT max(version) FROM schema_migrations")
        return {"status": "ok", "version": __version__, "schema": version}

    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list:
    """Every router, in one place. Each domain package owns its own `api.py`."""
    from ecobridge.alerts.api import router as alerts_router
    from ecobridge.api.ogcapi import router as ogcapi_router
    from ecobridge.biodiversity.api import router as biodiversity_router
    from ecobridge.catalog.api import router as catalog_router
    from ecobridge.catalog.areas_api import router as areas_router
    from ecobridge.governance.api import routers as governance_routers
    from ecobridge.monitoring.api import router as monitoring_router
    from ecobridge.monitoring.ingest_api import router as ingest_router
    from ecobridge.monitoring.sta.api import router as sta_router
    from ecobridge.monitoring.sta.write_api import router as sta_write_router
    from ecobridge.web import routers as web_routers

    return [*governance_routers(), ingest_router, catalog_router, monitoring_router, alerts_router,
            biodiversity_router, sta_router, sta_write_router, ogcapi_router, *web_routers(),
            areas_router]
