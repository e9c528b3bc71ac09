"""The store: migrations, extensions from wheels with no network, one file per deployment."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ecobridge.errors import StoreLocked
from ecobridge.store.migrations import apply_migrations, available


def test_migrations_applied_once_and_recorded(store):
    versions = [v for (v,) in store.rows("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [v for v, _, _ in available()]
    assert apply_migrations(store) == []  # second run applies nothing


def test_one_file_per_deployment(settings, store):
    assert settings.database_path.is_file()
    assert settings.database_path.parent == settings.home


def test_spatial_and_fts_loaded_from_wheels(store):
    loaded = dict(store.rows(
        "SELECT extension_name, install_path FROM duckdb_extensions() WHERE loaded"))
    for name in ("spatial", "fts"):
        assert "site-packages" in loaded[name], loaded[name]
    assert store.scalar("SELECT ST_AsText(ST_Point(1, 2))") == "POINT (1 2)"


def test_extensions_load_with_network_unreachable(tmp_path):
    """Run in a child whose every socket call fails: loading must not touch the network."""
    code = textwrap.dedent(f"""
        import socket
        def refuse(*a, **k):
            raise OSError("network unreachable (test)")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        import os
        os.environ["http_proxy"] = os.environ["https_proxy"] = "http://127.0.0.1:9"
        from ecobridge.config import Settings
        from ecobridge.store import open_store
        s = open_store(Settings(home={str(tmp_path)!r}))
        print(s.scalar("SELECT ST_AsText(ST_Buffer(ST_Point(0, 0), 1)) IS NOT NULL"))
        s.cursor().execute("PRAGMA create_fts_index('organisations', 'id', 'slug')")
        s.close()
    """)
    # unshare gives a namespace with no network at all where the kernel allows it
    cmd = [sys.executable, "-c", code]
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode == 0:
        cmd = ["unshare", "-rn", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_second_writer_gets_clear_locked_error(settings, store):
    code = textwrap.dedent(f"""
        import sys
        from ecobridge.config import Settings
        from ecobridge.errors import StoreLocked
        from ecobridge.store import open_store
        try:
            open_store(Settings(home={str(settings.home)!r}))
        except StoreLocked as exc:
            print(exc.detail); sys.exit(7)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 7, out.stderr
    assert "in use by another ecobridge process" in out.stdout


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as cur:
            cur.execute("INSERT INTO organisations (slug, name, country) VALUES ('x', '{}', 'CHN')")
            raise RuntimeError("boom")
    assert store.scalar("SELECT count(*) FROM organisations") == 0


def test_locked_error_class_maps_to_exit_code():
    assert StoreLocked("x").exit_code == 7


def test_no_progress_bar_on_stdout(store):
    """A slow statement (a big ingest on a busy machine) must not draw into CLI output."""
    assert store.scalar("SELECT current_setting('enable_progress_bar')") is False
    assert store.cursor().execute(
        "SELECT current_setting('enable_progress_bar')").fetchone()[0] is False
