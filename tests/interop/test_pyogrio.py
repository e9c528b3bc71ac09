"""GDAL's OAPIF driver (through pyogrio's bundled GDAL) against the real server on 127.0.0.1:
layers, feature counts and extents, every page read with a page size smaller than the count,
filters pushed to the server, and the access policy through a bearer token."""

from __future__ import annotations

from contextlib import contextmanager

import pyogrio
import pytest
import shapely
from governance.world import PRECISE, SENSITIVE_LONLAT
from ogcapi.world import open_world, visible_ids
from serving import serve

TABLES = {"sites": "things", "areas": "areas", "occurrences": "occurrences"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if "OAPIF" not in pyogrio.list_drivers():
        pytest.fail("pyogrio's GDAL has no OAPIF driver")
    world, settings = open_world(tmp_path_factory.mktemp("home"))
    with serve(settings, world.store) as base_url:
        yield world, f"OAPIF:{base_url}/ogcapi"
    world.store.close()


@pytest.fixture(scope="module")
def gdal_log(tmp_path_factory):
    """GDAL's own debug log, which names every URL it fetches. GDAL opens CPL_LOG once per
    process, so one file serves the module and each use reads what was appended meanwhile."""
    path = tmp_path_factory.mktemp("gdal") / "gdal.log"
    pyogrio.set_gdal_config_options({"CPL_LOG": str(path)})

    @contextmanager
    def capture():
        start = path.stat().st_size if path.exists() else 0
        lines: list[str] = []
        pyogrio.set_gdal_config_options({"CPL_DEBUG": "ON"})
        try:
            yield lines
        finally:
            pyogrio.set_gdal_config_options({"CPL_DEBUG": None})
        with path.open() as fh:
            fh.seek(start)
            lines += fh.read().splitlines()

    yield capture
    pyogrio.set_gdal_config_options({"CPL_LOG": None})


@pytest.fixture
def as_principal(server):
    """Send a principal's bearer token with every GDAL request, and stop afterwards."""
    world, _ = server

    def use(principal):
        # GDAL_HTTP_HEADERS is overridden by the Accept header the driver sets itself
        token = world.tokens.get(principal)
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER" if token else None,
                                         "GDAL_HTTP_BEARER": token})

    yield use
    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})


def test_layers(server):
    _, source = server
    layers = {name: kind for name, kind in pyogrio.list_layers(source)}
    assert set(layers) == set(TABLES)
    assert layers["sites"] == "Point" and layers["occurrences"] == "Point"


@pytest.mark.parametrize("principal", ["anonymous", "partner", "owner"])
@pytest.mark.parametrize("layer", list(TABLES))
def test_all_pages_right_count_and_extent(server, as_principal, gdal_log, principal, layer):
    world, source = server
    as_principal(principal)
    expected = visible_ids(world, principal, TABLES[layer])
    assert len(expected) > 3  # a page size of 3 takes several pages
    info = pyogrio.read_info(source, layer=layer, force_feature_count=True,
                             force_total_bounds=True)
    assert info["features"] == len(expected)
    with gdal_log() as lines:
        meta, table = pyogrio.read_arrow(source, layer=layer, PAGE_SIZE=3, return_fids=True)
    followed = [line for line in lines
                if f"/collections/{layer}/items?" in line and "cursor=" in line]
    assert len(followed) == -(-len(expected) // 3) - 1  # every `next` link, none beyond
    assert table.num_rows == len(expected)
    assert set(table.column(meta["fid_column"]).to_pylist()) == expected  # ids become FIDs
    geoms = shapely.from_wkb(table.column(meta["geometry_name"] or "wkb_geometry")
                             .to_numpy(zero_copy_only=False))
    west, south, east, north = shapely.total_bounds(geoms)
    assert info["total_bounds"] == pytest.approx((west, south, east, north), abs=1e-5)


def test_layer_fields_come_from_the_published_schema(server):
    from ecobridge.api.ogcapi.collections import COLLECTIONS

    _, source = server
    for layer, collection in COLLECTIONS.items():
        info = pyogrio.read_info(source, layer=layer)
        assert list(info["fields"]) == [p.name for p in collection.props]
        for prop, ogr_type in zip(collection.props, info["ogr_types"], strict=True):
            if prop.kind == "datetime":
                assert ogr_type == "OFTDateTime", prop.name


def test_attribute_filter_is_pushed_and_correct(server, as_principal):
    world, source = server
    as_principal("owner")
    meta, table = pyogrio.read_arrow(source, layer="areas",
                                     where="country = 'KAZ' AND kind = 'protected_area'",
                                     PAGE_SIZE=2)
    expected = world.store.scalar("SELECT count(*) FROM areas WHERE country = 'KAZ'"
                                  " AND kind = 'protected_area'")
    assert table.num_rows == expected > 0
    assert set(table.column("country").to_pylist()) == {"KAZ"}


@pytest.mark.parametrize("principal", ["anonymous", "partner"])
def test_spatial_filter_sees_the_generalised_tiger(server, as_principal, principal):
    world, source = server
    as_principal(principal)
    lon, lat = SENSITIVE_LONLAT
    meta, table = pyogrio.read_arrow(source, layer="occurrences",
                                     bbox=(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01))
    assert (table.num_rows == 1) == (principal in PRECISE)
    assert table.num_rows in (0, 1)


def test_datetime_filter_is_pushed(server, as_principal):
    world, source = server
    as_principal("anonymous")
    where = "event_date >= '2023-03-01' AND event_date <= '2023-06-30'"
    meta, table = pyogrio.read_arrow(source, layer="occurrences", where=where)
    public = world.datasets["public"]["id"]
    expected = world.store.scalar(
        "SELECT count(*) FROM occurrences WHERE dataset_id = ? AND event_date >= '2023-03-01'"
        " AND event_date < '2023-07-01'", [public])
    assert table.num_rows == expected > 0
