"""Settings, read from the environment with the ECOBRIDGE_ prefix."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECOBRIDGE_", extra="ignore")

    home: Path = Field(default=Path("var/ecobridge"), description="Folder of this deployment")
    host: str = "127.0.0.1"
    port: int = 8000
    # DuckDB spills to disk past this, which keeps a 10-million-row ingest under 2 GiB.
    memory_limit: str = "1GB"
    threads: int = 2
    # Per-query time limit for reads through the HTTP API, in seconds.
    query_timeout: float = 30.0
    default_language: str = "en"

    @cached_property
    def database_path(self) -> Path:
        return self.home / "ecobridge.duckdb"


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)
