"""Observations through the HTTP API: paging, time ranges, formats, errors."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .data import T0, add_observations, hourly


def _url(world, name="almaty") -> str:
    return f"/api/v1/datastreams/{world.streams[name]}/observations"


def _all_pages(client, url: str, params: dict) -> tuple[list[dict], int]:
    items, pages, next_url = [], 0, None
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        pages += 1
        next_url = body["next"]
        if next_url is None:
            assert "link" not in response.headers
            return items, pages
        assert response.headers["link"] == f'<{next_url}>; rel="next"'
        response = client.get(next_url)


def test_paging_visits_every_row_once_in_time_order(client, world):
    items, pages = _all_pages(client, _url(world), {"limit": 7})
    assert pages == 8  # 50 rows, 7 a page
    times = [i["phenomenon_time"] for i in items]
    assert len(items) == 50 and len({i["id"] for i in items}) == 50
    assert times == sorted(times)
    assert times[0] == "2024-01-01T00:00:00Z"
    assert [i["result"] for i in items] == [float(i) for i in range(50)]
    assert [i["quality_flag"] for i in items[-6:]] == [1, 3, 3, 3, 3, 4]


def test_rows_inserted_while_paging_neither_lost_nor_repeated(client, store, world):
    url = _url(world)
    first = client.get(url, params={"limit": 10}).json()
    seen = [i["id"] for i in first["items"]]
    # rows behind the cursor (earlier times) and ahead of it, and one tying its time exactly
    last_time = datetime.fromisoformat(first["items"][-1]["phenomenon_time"])
    add_observations(store, world.streams["almaty"],
                     [T0 - timedelta(days=1), last_time, T0 + timedelta(days=30)],
                     [-1.0, 500.0, 600.0])
    next_url = first["next"]
    while next_url:
        body = client.get(next_url).json()
        seen += [i["id"] for i in body["items"]]
        next_url = body["next"]
    assert len(seen) == len(set(seen)), "a row was repeated"
    original = set(range(1, 51))  # ids of the 50 rows present before paging began
    assert original <= set(seen), "a row present from the start was missed"
    later = {r[0] for r in store.rows(
        "SELECT id FROM observations WHERE datastream_id = ? AND result IN (500, 600)",
        [world.streams["almaty"]])}
    assert later <= set(seen), "rows inserted ahead of the cursor are reached"


def test_time_range_with_offsets_is_start_inclusive_end_exclusive(client, world):
    # 06:00 at +06:00 is 00:00Z; 10:00 at +06:00 is 04:00Z -> hours 0, 1, 2, 3
    body = client.get(_url(world), params={"start": "2024-01-01T06:00:00+06:00",
                                          "end": "2024-01-01T10:00:00+06:00"}).json()
    assert [i["phenomenon_time"] for i in body["items"]] == [
        "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z",
        "2024-01-01T03:00:00Z"]
    assert body["count"] == 4 and body["next"] is None
    west = client.get(_url(world), params={"start": "2023-12-31T23:30:00-01:00"}).json()
    assert west["items"][0]["phenomenon_time"] == "2024-01-01T01:00:00Z"


def test_datetime_interval_and_paging_within_a_range(client, world):
    interval = "2024-01-01T10:00:00Z/2024-01-02T10:00:00Z"
    items, pages = _all_pages(client, _url(world), {"datetime": interval, "limit": 5})
    assert len(items) == 24 and pages == 5
    assert items[0]["phenomenon_time"] == "2024-01-01T10:00:00Z"
    assert items[-1]["phenomenon_time"] == "2024-01-02T09:00:00Z"
    open_end = client.get(_url(world), params={"datetime": "2024-01-03T00:00:00Z/.."}).json()
    assert [i["result"] for i in open_end["items"]] == [48.0, 49.0]
    instant = client.get(_url(world), params={"datetime": "2024-01-01T05:00:00Z"}).json()
    assert [i["result"] for i in instant["items"]] == [5.0]


def test_bad_times_are_422_with_a_clear_message(client, world):
    for params, field in (({"start": "yesterday"}, "start"),
                          ({"start": "2024-01-01T00:00:00"}, "start"),
                          ({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
                           "end"),
                          ({"datetime": "2024-01-02T00:00:00Z/2024-01-01T00:00:00Z"},
                           "datetime"),
                          ({"datetime": "2024-01-01Z/..", "start": "2024-01-01"}, "datetime")):
        response = client.get(_url(world), params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert f"field {field}" in response.json()["detail"]
    assert "offset" in client.get(_url(world), params={"start": "2024-01-01T00:00:00"}
                                  ).json()["detail"]


def test_bad_cursor_is_400_naming_the_parameter(client, world):
    for cursor in ("abc", "WzFd", "bm90LWpzb24"):  # garbage, [1] (wrong size), not JSON
        response = client.get(_url(world), params={"cursor": cursor})
        assert response.status_code == 400, cursor
        problem = response.json()
        assert problem["parameter"] == "cursor" and problem["status"] == 400
        assert response.headers["content-type"] == "application/problem+json"


def test_limit_has_a_maximum_in_json_but_more_in_csv(client, world):
    response = client.get(_url(world), params={"limit": 10_001})
    assert response.status_code == 422 and "limit" in response.json()["detail"]
    assert client.get(_url(world), params={"limit": 10_001, "f": "csv"}).status_code == 200
    assert client.get(_url(world), params={"limit": 0}).status_code == 422


def test_csv_round_trip(client, store, world):
    response = client.get(_url(world), params={"f": "csv", "end": "2024-01-02T00:00:00Z"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = pacsv.read_csv(io.BytesIO(response.content))
    assert table.num_rows == 24
    assert table.column_names == ["id", "phenomenon_time", "result_time", "result",
                                  "quality_flag", "qc_tests"]
    first = response.text.splitlines()[1].split(",")
    assert first[1] == '"2024-01-01T00:00:00Z"'
    stored = store.arrow("SELECT id, phenomenon_time, result FROM observations"
                         " WHERE datastream_id = ? AND phenomenon_time < ? ORDER BY 2",
                         [world.streams["almaty"], T0 + timedelta(days=1)])
    assert table["id"].to_pylist() == stored["id"].to_pylist()
    assert table["result"].to_pylist() == stored["result"].to_pylist()
    parsed = table["phenomenon_time"].cast(pa.timestamp("us", tz="UTC"))
    assert parsed.to_pylist() == stored["phenomenon_time"].to_pylist()


def test_csv_accept_header_and_paging_link(client, world):
    response = client.get(_url(world), params={"limit": 20},
                          headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert len(response.text.strip().splitlines()) == 21
    assert 'rel="next"' in response.headers["link"]


def test_parquet_round_trip(client, store, world):
    response = client.get(_url(world), params={"f": "parquet"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content))
    stored = store.arrow("SELECT id, phenomenon_time, result_time, result, quality_flag,"
                         " qc_tests FROM observations WHERE datastream_id = ?"
                         " ORDER BY phenomenon_time, id", [world.streams["almaty"]])
    assert table.num_rows == 50
    assert table.column_names == stored.column_names
    for name in table.column_names:
        assert table[name].to_pylist() == stored[name].to_pylist(), name
    assert table.schema.field("phenomenon_time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("quality_flag").type == pa.uint8()
    via_accept = client.get(_url(world), headers={"Accept": "application/vnd.apache.parquet"})
    assert via_accept.headers["content-type"] == "application/vnd.apache.parquet"


def test_empty_range_is_an_empty_page_not_404(client, world):
    response = client.get(_url(world), params={"start": "2030-01-01T00:00:00Z"})
    assert response.status_code == 200
    assert response.json() == {"items": [], "datastream_id": world.streams["almaty"],
                               "count": 0, "next": None}
    csv = client.get(_url(world), params={"start": "2030-01-01T00:00:00Z", "f": "csv"})
    assert csv.text.strip() == '"id","phenomenon_time","result_time","result","quality_flag",' \
                               '"qc_tests"'


def test_unknown_and_hidden_datastreams_are_404_alike(client, world):
    for name in ("secret", "embargo"):
        response = client.get(_url(world, name))
        assert response.status_code == 404
        assert "HIDDEN" not in response.text
    unknown = client.get("/api/v1/datastreams/999999/observations")
    assert unknown.status_code == 404
    hidden = client.get(_url(world, "secret"))
    assert unknown.json()["title"] == hidden.json()["title"]
    assert client.get("/api/v1/datastreams/0/observations").status_code == 422


def test_reads_are_audited_with_their_row_count(client, store, world):
    client.get(_url(world), params={"limit": 7})
    rows = store.rows("SELECT dataset_id, kind, record_count, user_id FROM audit_events"
                      " WHERE kind = 'observations'")
    assert rows == [(world.datasets["kz-air"], "observations", 7, None)]


def test_many_hours_paging_matches_the_store(client, store, world):
    """A longer series across several pages with a time range: the pages concatenate to exactly
    the rows the store holds in that range."""
    stream = world.streams["astana"]
    add_observations(store, stream, hourly(2000, T0 + timedelta(days=1)),
                     [float(i % 97) for i in range(2000)])
    start, end = "2024-01-03T00:00:00+03:00", "2024-02-10T00:00:00+03:00"
    items, pages = _all_pages(client, f"/api/v1/datastreams/{stream}/observations",
                              {"start": start, "end": end, "limit": 250})
    expected = store.rows(
        "SELECT id FROM observations WHERE datastream_id = ? AND phenomenon_time >= ?"
        " AND phenomenon_time < ? ORDER BY phenomenon_time, id",
        [stream, datetime(2024, 1, 2, 21, tzinfo=UTC), datetime(2024, 2, 9, 21, tzinfo=UTC)])
    assert [i["id"] for i in items] == [r[0] for r in expected]
    assert pages == -(-len(expected) // 250)


def test_extreme_cursor_and_times_are_client_errors_not_500(client, world):
    from ecobridge.api.params import encode_cursor

    far = client.get(_url(world), params={"cursor": encode_cursor(2**61, 1)})
    assert far.status_code == 400 and far.json()["parameter"] == "cursor"
    assert client.get(_url(world), params={"start": "0001-01-01T00:00:00+01:00"}
                      ).status_code == 422
    last = client.get(_url(world), params={"datetime": "9999-12-31T23:59:59.999999Z"})
    assert last.status_code == 200 and last.json()["items"] == []
