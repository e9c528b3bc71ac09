"""Stations from CSV and GeoJSON; area polygons from GeoJSON, GeoPackage and Shapefile."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyogrio
import pytest
import shapely

from ecobridge.monitoring.ingest import ingest_file

from .helpers import rejects, write


def _layer(path, codes, geoms, **extra):
    table = pa.table({"code": codes, "name": [f"Area {c}" for c in codes],
                      **extra, "geometry": shapely.to_wkb(np.array(geoms, dtype=object))})
    driver = {".geojson": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile"}[path.suffix]
    pyogrio.write_arrow(table, path, driver=driver, geometry_name="geometry",
                        geometry_type="Unknown", crs="EPSG:4326")
    return path


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_areas_from_each_vector_format(store, air, tmp_path, suffix):
    square = shapely.box(76.0, 43.0, 77.0, 44.0)
    # a shapefile holds one geometry type: the stray point is tried in the other formats
    other = shapely.box(70, 40, 70.5, 40.5) if suffix == ".shp" else shapely.Point(76, 43)
    path = _layer(tmp_path / f"pa{suffix}", ["PA1", "PA2", "PT1"],
                  [square, shapely.MultiPolygon([square]), other],
                  kind=["protected_area", "protected_area", "area_of_interest"],
                  country=["KAZ"] * 3, approximate=["yes", "no", "no"])
    report = ingest_file(store, path, dataset=air)
    assert report.kind == "areas"
    expected = (3, 3, 0) if suffix == ".shp" else (3, 2, 1)
    assert (report.rows_in, report.rows_inserted, report.rows_rejected) == expected
    if suffix != ".shp":
        assert rejects(store, report.run_id)[0][1:] == ("geometry", "Point", "not a polygon")
    area = store.one("SELECT kind, country, ST_Area(geom), name FROM areas WHERE code = 'PA1'")
    assert area[:3] == ("protected_area", "KAZ", pytest.approx(1.0))
    assert json.loads(area[3]) == {"en": "Area PA1"}
    flags = dict(store.rows("SELECT code, approximate FROM areas"))
    assert (flags["PA1"], flags["PA2"]) == (True, False)
    again = ingest_file(store, path, dataset=air)
    assert (again.rows_inserted, again.rows_unchanged) == (0, expected[1])


def test_an_area_outline_that_changes_is_updated(store, air, tmp_path):
    path = _layer(tmp_path / "a.geojson", ["B1"], [shapely.box(0, 0, 1, 1)],
                  kind=["river_basin"])
    ingest_file(store, path, dataset=air)
    path = _layer(tmp_path / "b.geojson", ["B1"], [shapely.box(0, 0, 2, 1)],
                  kind=["river_basin"])
    report = ingest_file(store, path, dataset=air)
    assert report.rows_updated == 1
    assert store.scalar("SELECT ST_Area(geom) FROM areas") == pytest.approx(2.0)


def test_the_real_glacier_outline(store, air, shared_data):
    path = shared_data / "glaciers" / "outlines" / "RGI60-14.03439.shp"
    report = ingest_file(store, path, dataset=air,
                         mapping={"constants": {"kind": "area_of_interest"}})
    assert (report.rows_inserted, report.rows_rejected) == (1, 0)
    code, props, area = store.one("SELECT code, properties, ST_Area(geom) FROM areas")
    assert code == "RGI60-14.03439" and "Area" in json.loads(props)
    assert 0 < area < 1  # square degrees of a glacier in WGS 84


def test_stations_from_geojson_and_a_move(store, air, tmp_path):
    path = write(tmp_path / "st.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [71.4, 51.1]},
         "properties": {"code": "AST2", "name": "Astana 2", "operator": "Kazhydromet"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [76.95, 43.25]},
         "properties": {"code": "ALM1", "name": "Almaty 1"}}]}))
    report = ingest_file(store, path, dataset=air)
    assert (report.kind, report.rows_inserted, report.rows_unchanged) == ("stations", 1, 1)
    props = store.scalar("SELECT properties FROM things WHERE code = 'AST2'")
    assert json.loads(props) == {"operator": "Kazhydromet"}
    moved = write(tmp_path / "moved.csv", "code,name,lat,lon\nALM1,Almaty 1,43.3,76.9\n"
                  "ALM1,dup,1,1\nX,,95,0\n,,1,1\n")
    report = ingest_file(store, moved, dataset=air)
    assert (report.rows_updated, report.rows_rejected) == (1, 3)
    assert [r[3] for r in rejects(store, report.run_id)] == [
        "duplicate of row 1", "lat outside -90..90", "missing station code"]
    history = store.rows("SELECT ST_Y(l.geom) FROM historical_locations h"
                         " JOIN historical_location_locations hl ON hl.historical_location_id"
                         " = h.id JOIN locations l ON l.id = hl.location_id JOIN things t"
                         " ON t.id = h.thing_id WHERE t.code = 'ALM1' ORDER BY h.id")
    assert [round(y, 2) for (y,) in history] == [43.25, 43.3]
    current = store.scalar("SELECT ST_Y(l.geom) FROM thing_locations tl JOIN locations l"
                           " ON l.id = tl.location_id JOIN things t ON t.id = tl.thing_id"
                           " WHERE t.code = 'ALM1'")
    assert current == pytest.approx(43.3)
