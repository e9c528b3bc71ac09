"""`ecobridge ingest` and `ecobridge ingest-report`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from ecobridge.cli import app

_COUNTS = ("rows_in", "rows_accepted", "rows_rejected", "rows_inserted", "rows_updated",
           "rows_unchanged", "rows_flagged", "rows_reflagged")


@app.command()
def ingest(file: Path = typer.Argument(..., help="CSV, Parquet, GeoJSON, GeoPackage or Shapefile"),
           dataset: str = typer.Option(..., "--dataset", help="Dataset slug or id"),
           mapping: Path = typer.Option(None, "--mapping", help="YAML mapping of the layout"),
           timezone: str = typer.Option(None, "--timezone",
                                        help="IANA zone of times without a UTC offset"),
           kind: str = typer.Option(None, "--kind", help="observations, stations or areas")
           ) -> None:
    """Ingest one file into a dataset; rejected rows go to the quarantine."""
    from ecobridge.config import get_settings
    from ecobridge.monitoring.ingest import ingest_file
    from ecobridge.store import open_store

    console = Console(stderr=True)
    store = open_store(get_settings())
    try:
        with Progress("[progress.description]{task.description}", BarColumn(),
                      DownloadColumn(), TimeRemainingColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task(f"ingest {file.name}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = ingest_file(store, file, dataset=dataset, mapping=mapping,
                                 timezone=timezone, kind=kind, progress=progress)
    finally:
        store.close()
    _summary(Console(), report)


@app.command("ingest-report")
def ingest_report(run: int = typer.Argument(..., help="Run id printed by `ecobridge ingest`"),
                  limit: int = typer.Option(50, "--limit", help="Rejected rows to show")) -> None:
    """Show an ingest run and its rejected rows."""
    from ecobridge.config import get_settings
    from ecobridge.monitoring.ingest import load_report
    from ecobridge.store import open_store

    store = open_store(get_settings())
    try:
        report = load_report(store, run, limit=limit)
    finally:
        store.close()
    console = Console()
    _summary(console, report)
    if report.message:
        console.print(f"[red]{report.message}[/red]")
    if report.rejects:
        table = Table("row", "field", "value", "reason", title="Rejected rows")
        for r in report.rejects:
            table.add_row(str(r["row_number"]), r["field"] or "", _short(r["value"]),
                          r["reason"])
        console.print(table)
        if report.rows_rejected > len(report.rejects):
            console.print(f"... and {report.rows_rejected - len(report.rejects)} more "
                          "(--limit N to see more)")


def _summary(console: Console, report) -> None:
    colour = "green" if report.status == "done" else "red"
    console.print(f"run [bold]{report.run_id}[/bold]: {report.kind} from {report.file} "
                  f"[{colour}]{report.status}[/{colour}]")
    console.print("  " + "  ".join(f"{name.removeprefix('rows_')} {getattr(report, name):,}"
                                   for name in _COUNTS))
    if report.rows_rejected:
        console.print(f"  rejected rows: ecobridge ingest-report {report.run_id}")
    if report.alerts_pending:
        why = report.alerts_error or "pending"
        console.print(f"  [yellow]alerts not yet evaluated[/yellow] ({why}): the server"
                      " evaluates them, or `ecobridge alerts evaluate`")


def _short(value, width: int = 40) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
