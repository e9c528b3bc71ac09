"""Numbered SQL migrations (NNNN_name.sql), applied in order and recorded in schema_migrations."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def available() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(HERE.glob("*.sql")):
        m = NAME.match(path.name)
        if m:
            found.append((int(m.group(1)), m.group(2), path))
    return found


def apply_migrations(store) -> list[int]:
    """Apply every migration not yet recorded; each one in its own transaction."""
    with store.transaction() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
    done = {v for (v,) in store.rows("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, path in available():
        if version in done:
            continue
        with store.transaction() as cur:
            cur.execute(path.read_text(encoding="utf-8"))
            cur.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        [version, name])
        applied.append(version)
    return applied
