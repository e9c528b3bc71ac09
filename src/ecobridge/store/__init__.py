"""The only package that knows the database engine (DuckDB today, PostgreSQL/PostGIS later)."""

from ecobridge.store.connection import Store, int_array, open_store

__all__ = ["Store", "int_array", "open_store"]
