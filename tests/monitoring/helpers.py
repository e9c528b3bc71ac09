"""Helpers for ingest tests: file writers and store readers."""

from __future__ import annotations

from pathlib import Path

HEADER = "station,variable,time,value,unit"
STATIONS = "code,name,lat,lon\nALM1,Almaty 1,43.25,76.95\nALM2,Almaty 2,43.2,76.9\n" \
           "AST1,Astana 1,51.17,71.45\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def csv_rows(path: Path, rows: list[str], header: str = HEADER) -> Path:
    return write(path, header + "\n" + "".join(r + "\n" for r in rows))


def observations(store, dataset: str = "kz-air") -> list[tuple]:
    """(station, variable, time UTC iso, result, flag) of a dataset, sorted."""
    return store.rows(
        "SELECT t.code, p.code, strftime(o.phenomenon_time, '%Y-%m-%dT%H:%M:%SZ'), o.result,"
        " o.quality_flag FROM observations o JOIN datastreams s ON s.id = o.datastream_id"
        " JOIN things t ON t.id = s.thing_id JOIN observed_properties p"
        " ON p.id = s.observed_property_id JOIN datasets d ON d.id = t.dataset_id"
        " WHERE d.slug = ? ORDER BY 1, 2, 3", [dataset])


def rejects(store, run_id: int) -> list[tuple]:
    return store.rows("SELECT row_number, field, value, reason FROM quarantine"
                      " WHERE run_id = ? ORDER BY row_number", [run_id])


def assert_balanced(report) -> None:
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    assert report.rows_accepted == (report.rows_inserted + report.rows_updated
                                    + report.rows_unchanged)
