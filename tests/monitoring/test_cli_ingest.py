"""`ecobridge ingest` and `ecobridge ingest-report` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

from ecobridge.catalog.service import create_dataset
from ecobridge.governance.organisations import create_organisation
from ecobridge.store import open_store

from .helpers import STATIONS, csv_rows, write


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ECOBRIDGE_HOME=str(settings.home), COLUMNS="120")
    return subprocess.run([sys.executable, "-c", "from ecobridge.cli import main; main()",
                           *args], env=env, capture_output=True, text=True, timeout=300)


def test_ingest_then_report(settings, tmp_path):
    store = open_store(settings)
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="Air",
                   licence="CC-BY-4.0")
    store.close()
    out = cli(settings, "ingest", str(write(tmp_path / "st.csv", STATIONS)), "--dataset",
              "kz-air")
    assert out.returncode == 0, out.stderr
    assert "inserted 3" in out.stdout
    data = csv_rows(tmp_path / "obs.csv", ["ALM1,pm25,2024-01-01T00:00:00Z,1,ug/m3",
                                           "ALM1,pm25,2024-01-01 01:00,2,ug/m3",
                                           "NOPE,pm25,2024-01-01T00:00:00Z,1,ug/m3"])
    out = cli(settings, "ingest", str(data), "--dataset", "kz-air")
    assert out.returncode == 0, out.stderr  # rejected rows are not a failure
    assert "rejected 2" in out.stdout and "ingest-report 2" in out.stdout
    out = cli(settings, "ingest", str(data), "--dataset", "kz-air", "--timezone", "Asia/Almaty")
    assert out.returncode == 0 and "inserted 1" in out.stdout and "unchanged 1" in out.stdout
    out = cli(settings, "ingest-report", "2", "--limit", "1")
    assert out.returncode == 0, out.stderr
    assert "no UTC offset" in out.stdout and "1 more" in out.stdout


def test_whole_file_failures_print_one_line_and_exit_non_zero(settings, tmp_path):
    open_store(settings).close()
    empty = write(tmp_path / "empty.csv", "")
    out = cli(settings, "ingest", str(empty), "--dataset", "nowhere")
    assert out.returncode == 3 and out.stderr.strip() == "error: no dataset 'nowhere'"
    store = open_store(settings)
    create_organisation(store, slug="kz-hydromet", name="Kazhydromet", country="KAZ")
    create_dataset(store, slug="kz-air", owner="kz-hydromet", domain="air", title="Air",
                   licence="CC-BY-4.0")
    store.close()
    out = cli(settings, "ingest", str(empty), "--dataset", "kz-air")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == f"error: file {empty}: file is empty (0 bytes)"
    out = cli(settings, "ingest-report", "99")
    assert out.returncode == 3 and "no ingest run 99" in out.stderr


def test_a_store_in_use_is_reported_in_one_line(settings, tmp_path):
    holder = open_store(settings)  # as a running server would
    try:
        out = cli(settings, "ingest", str(write(tmp_path / "st.csv", STATIONS)), "--dataset",
                  "kz-air")
    finally:
        holder.close()
    assert out.returncode == 7
    assert "in use" in out.stderr and len(out.stderr.strip().splitlines()) == 1
