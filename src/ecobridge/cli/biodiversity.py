"""`ecobridge import-dwca`, `export-dwca`, `import-camtrap-dp` and `export-camtrap-dp`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ecobridge.cli import app
from ecobridge.cli.governance import _principal, _store

AS = typer.Option(None, "--as", help="Act as this user (its roles and view); default: operator")
DATASET = typer.Option(..., "--dataset", help="Dataset slug or id")


@app.command("import-dwca")
def import_dwca_command(archive: Path = typer.Argument(..., help="Darwin Core Archive: zip or "
                                                                 "folder"),
                        dataset: str = DATASET, as_user: str = AS) -> None:
    """Import a Darwin Core Archive (core and extensions); rejected rows go to the quarantine."""
    from ecobridge.biodiversity.dwca import import_dwca

    with _store() as store:
        report = import_dwca(store, archive, dataset=dataset,
                             principal=_principal(store, as_user))
    _summary(report)


@app.command("import-camtrap-dp")
def import_camtrap_dp_command(package: Path = typer.Argument(..., help="Camtrap DP package: "
                                                                       "folder or zip"),
                              dataset: str = DATASET, as_user: str = AS) -> None:
    """Import a Camtrap DP 1.0-1.0.2 package, validated offline against the vendored profile."""
    from ecobridge.biodiversity.camtrap import import_camtrap_dp

    with _store() as store:
        report = import_camtrap_dp(store, package, dataset=dataset,
                                   principal=_principal(store, as_user))
    _summary(report)


@app.command("export-dwca")
def export_dwca_command(out: Path = typer.Argument(..., help="The zip file to write"),
                        dataset: str = DATASET, as_user: str = AS) -> None:
    """Export a dataset's occurrences as a Darwin Core Archive with EML."""
    from ecobridge.biodiversity.dwca import export_dwca

    with _store() as store:
        data = export_dwca(store, _principal(store, as_user), dataset)
    out.write_bytes(data)
    Console().print(f"wrote {out} ({len(data):,} bytes)")


@app.command("export-camtrap-dp")
def export_camtrap_dp_command(out: Path = typer.Argument(..., help="The zip file to write"),
                              dataset: str = DATASET, as_user: str = AS) -> None:
    """Export a dataset's camera-trap data as a Camtrap DP 1.0.2 package (zip)."""
    from ecobridge.biodiversity.camtrap import export_camtrap_dp

    with _store() as store:
        data = export_camtrap_dp(store, _principal(store, as_user), dataset)
    out.write_bytes(data)
    Console().print(f"wrote {out} ({len(data):,} bytes)")


def _summary(report, limit: int = 20) -> None:
    console = Console()
    colour = "green" if report.status == "done" else "red"
    console.print(f"run [bold]{report.run_id}[/bold]: {report.kind} from {report.file} "
                  f"[{colour}]{report.status}[/{colour}]")
    console.print(f"  in {report.rows_in:,}  accepted {report.rows_accepted:,}  rejected "
                  f"{report.rows_rejected:,}  inserted {report.rows_inserted:,}  unchanged "
                  f"{report.rows_unchanged:,}")
    for note in (report.message.split("; ") if report.message else []):
        console.print(f"  [yellow]note:[/yellow] {note}")
    if report.rejects:
        table = Table("file", "row", "field", "reason", title="Rejected rows")
        for r in report.rejects[:limit]:
            table.add_row(r["file"] or "", str(r["row_number"]), r["field"] or "", r["reason"])
        console.print(table)
        console.print(f"  all rejected rows: ecobridge ingest-report {report.run_id}")
