"""The only package that knows the database engine (DuckDB today, PostgreSQL/PostGIS later)."""

from ecobridge.store.connection import Store, open_store

__all__ = ["Store", "open_store"]
