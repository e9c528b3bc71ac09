"""OGC API - Features under /ogcapi: sites, areas and occurrences (see docs/ogcapi.md)."""

from __future__ import annotations

from ecobridge.api.ogcapi.routes import router

__all__ = ["router"]
