"""`ecobridge demo`: build the demo deployment in $ECOBRIDGE_HOME, and optionally serve it."""

from __future__ import annotations

import shutil
import time

import typer

from ecobridge.cli import app


@app.command()
def demo(rebuild: bool = typer.Option(False, "--rebuild",
                                      help="Delete this deployment's store and build it anew"),
         serve: bool = typer.Option(False, "--serve", help="Then run the server on it"),
         host: str = typer.Option(None, help="Address to bind with --serve (default 127.0.0.1)"),
         port: int = typer.Option(None, help="Port with --serve (default 8000)")) -> None:
    """Build a realistic demo deployment (every record marked as demo data)."""
    from rich.console import Console

    from ecobridge.config import get_settings
    from ecobridge.demo.build import build_folder, demo_counts, demo_state
    from ecobridge.errors import Conflict
    from ecobridge.store import open_store

    console = Console()
    settings = get_settings()
    if rebuild:
        _remove_demo_store(settings)
    with open_store(settings) as store:
        state = demo_state(store)
        if state == "partial":
            raise Conflict(f"{settings.database_path} holds a partly built demo; "
                           "run `ecobridge demo --rebuild`")
        if state == "complete":
            console.print(f"The demo is already built in {settings.database_path} "
                          "(--rebuild builds it anew).")
            _print_counts(console, demo_counts(store))
        else:
            started = time.perf_counter()
            counts = _build(console, store)
            console.print(f"Built the demo in {settings.database_path} in "
                          f"{time.perf_counter() - started:.1f} s "
                          f"(generated files in {build_folder(store)}).")
            _print_counts(console, counts)
        _print_accounts(console)
    if serve:
        from ecobridge.cli.serve import serve as run_server

        run_server(host=host, port=port)


def _build(console, store) -> dict:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ecobridge.demo.build import build_demo

    columns = (TextColumn("{task.description:<28}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("demo", total=None)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        return build_demo(store, progress=progress)


def _print_counts(console, counts: dict) -> None:
    from rich.table import Table

    table = Table("records", "count", title="Demo deployment")
    for name, value in counts.items():
        table.add_row(name, f"{value:,}")
    console.print(table)


def _print_accounts(console) -> None:
    from ecobridge.governance.demo_accounts import DEMO_PASSWORD, PLATFORM_ADMIN

    console.print(f"Demo users sign in with the password [bold]{DEMO_PASSWORD}[/]: "
                  f"{PLATFORM_ADMIN}, or <organisation>.<admin|publisher|analyst|viewer>, "
                  "e.g. demo-ru-land-of-leopard.analyst.")


def _remove_demo_store(settings) -> None:
    """Delete the store and the build folder, but only if the store holds nothing but demo."""
    from ecobridge.demo.build import build_folder
    from ecobridge.errors import Conflict
    from ecobridge.store import open_store

    path = settings.database_path
    if not path.exists():
        return
    with open_store(settings) as store:
        real = store.scalar("SELECT (SELECT count(*) FROM organisations WHERE NOT is_demo)"
                            " + (SELECT count(*) FROM datasets WHERE NOT is_demo)"
                            " + (SELECT count(*) FROM users WHERE NOT is_demo)")
        folder = build_folder(store)
    if real:
        raise Conflict(f"{path} holds data that is not demo data; --rebuild deletes only a "
                       "store made by `ecobridge demo` (use an empty ECOBRIDGE_HOME)")
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
