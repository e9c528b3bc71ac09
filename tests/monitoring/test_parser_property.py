"""Property test of the observation parser: random valid rows round-trip exactly; random junk
is rejected with a reason, its raw fields kept, and no row is lost."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecobridge.catalog.service import create_dataset
from ecobridge.monitoring.ingest import ingest_file

from .helpers import STATIONS, write

_counter = itertools.count()

times = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2040, 1, 1))
offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(
    lambda q: dt.timedelta(minutes=15 * q))
valid = st.tuples(st.sampled_from(["ALM1", "ALM2", "AST1"]), st.sampled_from(["pm25", "no2"]),
                  times, offsets,
                  st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(
                      lambda x: round(x, 6)))
text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
junk = st.tuples(text, text, text, text, text)


def _iso(t: dt.datetime, off: dt.timedelta) -> str:
    return t.replace(tzinfo=dt.timezone(off)).isoformat()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.one_of(valid.map(lambda v: ("ok", v)), junk.map(lambda j: ("junk", j))),
                     min_size=1, max_size=40))
def test_rows_round_trip_or_are_rejected(store, air, tmp_path, rows):
    slug = f"prop-{next(_counter)}"
    create_dataset(store, slug=slug, owner="kz-hydromet", domain="air", title="p",
                   licence="CC0-1.0")
    ingest_file(store, write(tmp_path / "st.csv", STATIONS), dataset=slug)
    out, expected, seen = io.StringIO(), {}, set()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["station", "variable", "time", "value", "unit"])
    written = []
    for kind, r in rows:
        if kind == "ok":
            station, variable, t, off, value = r
            utc = (t - off).replace(microsecond=t.microsecond)
            key = (station, variable, utc)
            if key in seen:
                continue  # duplicates are tested elsewhere
            seen.add(key)
            expected[(station, variable, utc.strftime("%Y-%m-%dT%H:%M:%S.%f"))] = value
            line = [station, variable, _iso(t, off), repr(value), "ug/m3"]
        else:
            line = ["J" + r[0], r[1], r[2], r[3], r[4]]  # an unknown station, whatever else
        writer.writerow(line)
        written.append((kind, line))
    path = write(tmp_path / f"{slug}.csv", out.getvalue())
    report = ingest_file(store, path, dataset=slug)
    assert report.rows_in == len(written)
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    stored = {(s, v, t): r for s, v, t, r in store.rows(
        "SELECT t.code, p.code, strftime(o.phenomenon_time, '%Y-%m-%dT%H:%M:%S.%f'), o.result"
        " FROM observations o JOIN datastreams s ON s.id = o.datastream_id"
        " JOIN things t ON t.id = s.thing_id JOIN observed_properties p"
        " ON p.id = s.observed_property_id JOIN datasets d ON d.id = t.dataset_id"
        " WHERE d.slug = ?", [slug])}
    assert {k: v for k, v in stored.items()} == expected
    quarantined = store.rows("SELECT row_number, reason, raw FROM quarantine WHERE run_id = ?"
                             " ORDER BY row_number", [report.run_id])
    junk_rows = [i for i, (kind, _) in enumerate(written, start=1) if kind == "junk"]
    assert [q[0] for q in quarantined] == junk_rows
    for (_row, reason, raw), i in zip(quarantined, junk_rows, strict=True):
        assert reason
        line = written[i - 1][1]
        fields = json.loads(raw)
        assert fields["station"] == line[0]
        assert [fields[k] or "" for k in ("variable", "time", "value", "unit")] == line[1:]
