"""`ecobridge serve`: run the HTTP server."""

from __future__ import annotations

import typer

from ecobridge.cli import app


@app.command()
def serve(host: str = typer.Option(None, help="Address to bind (default 127.0.0.1)"),
          port: int = typer.Option(None, help="Port (default 8000)")) -> None:
    """Serve the API and web pages from this deployment's store."""
    import uvicorn

    from ecobridge.api.app import create_app
    from ecobridge.config import get_settings

    settings = get_settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = get_settings(**overrides) if overrides else settings
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
