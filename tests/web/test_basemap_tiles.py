"""The base map's PNG tiles (/api/v1/map/basemap/{z}/{x}/{y}.png) from a real server: 256-pixel
Web Mercator tiles with land where the countries are and sea elsewhere, in the colours of the
stylesheet, cacheable, and a 404 outside the tile pyramid."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image
from serving import serve

import ecobridge.web

STYLE = Path(ecobridge.web.__file__).parent / "static" / "style.css"


def _css_colour(name: str) -> tuple[int, int, int]:
    value = re.search(rf"{name}:\s*#([0-9a-fA-F]{{6}})", STYLE.read_text()).group(1)
    return tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))


def _pixel(z: int, x: int, y: int, lon: float, lat: float) -> tuple[int, int]:
    """Where a point falls in tile z/x/y (standard XYZ tiling, 256 pixels)."""
    n = 2 ** z
    wx = (lon + 180) / 360 * n
    wy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    px, py = int((wx - x) * 256), int((wy - y) * 256)
    assert 0 <= px < 256 and 0 <= py < 256, (lon, lat, z, x, y)
    return px, py


@pytest.fixture
def base_url(settings, store):
    with serve(settings, store) as url:
        yield url


def _tile(base_url: str, z: int, x: int, y: int, **headers) -> httpx.Response:
    return httpx.get(f"{base_url}/api/v1/map/basemap/{z}/{x}/{y}.png", headers=headers)


@pytest.mark.parametrize(("z", "x", "y", "land", "sea"), [
    (0, 0, 0, (100.0, 62.0), (-150.0, 0.0)),           # Siberia; the Pacific
    (3, 6, 3, (104.0, 34.0), (114.0, 14.0)),           # Gansu, China; the South China Sea
    (3, 5, 2, (70.0, 55.0), (51.0, 42.0)),             # Kazakhstan; the Caspian Sea
])
def test_tiles_are_png_with_land_and_sea_where_expected(base_url, z, x, y, land, sea):
    response = _tile(base_url, z, x, y)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert image.size == (256, 256)
    land_colour, sea_colour = _css_colour("--eb-map-land"), _css_colour("--eb-map-sea")
    assert image.getpixel(_pixel(z, x, y, *land)) == land_colour
    assert image.getpixel(_pixel(z, x, y, *sea)) == sea_colour
    colours = {c for _, c in image.getcolors(256 * 256)}
    assert land_colour in colours and sea_colour in colours


def test_a_tile_at_scale_2_is_the_same_area_in_512_pixels(base_url):
    """What the maps request (a 512-pixel tile source): tile 3/6/3 twice as wide, its land and
    sea where the 256-pixel tile has them, and borders one pixel wide, not two."""
    small = Image.open(io.BytesIO(_tile(base_url, 3, 6, 3).content)).convert("RGB")
    response = httpx.get(f"{base_url}/api/v1/map/basemap/3/6/3.png", params={"scale": 2})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    large = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert large.size == (512, 512)
    land_colour, sea_colour = _css_colour("--eb-map-land"), _css_colour("--eb-map-sea")
    for lon, lat, colour in ((104.0, 34.0, land_colour), (114.0, 14.0, sea_colour)):
        px, py = _pixel(3, 6, 3, lon, lat)
        assert small.getpixel((px, py)) == colour
        assert large.getpixel((2 * px, 2 * py)) == colour
    # twice the length of border at the same width: about twice the dark pixels (four times
    # if the lines had grown with the tile)
    def dark(image: Image.Image) -> int:
        land = sum(land_colour) / 3
        return sum(image.convert("L").histogram()[:math.ceil(land - 40)])
    assert 1.5 < dark(large) / dark(small) < 3
    assert response.headers["etag"] != _tile(base_url, 3, 6, 3).headers["etag"]
    assert httpx.get(f"{base_url}/api/v1/map/basemap/3/6/3.png",
                     params={"scale": 3}).status_code in (400, 422)


def test_borders_are_drawn_between_countries(base_url):
    """Tile 4/11/5 holds the borders of Kazakhstan, Kyrgyzstan, Uzbekistan and China: darker
    pixels than land and sea appear on them."""
    image = Image.open(io.BytesIO(_tile(base_url, 4, 11, 5).content)).convert("L")
    land = sum(_css_colour("--eb-map-land")) / 3
    assert image.getextrema()[0] < land - 40


def test_tiles_are_cacheable(base_url):
    first = _tile(base_url, 2, 2, 1)
    assert "public" in first.headers["cache-control"]
    assert "max-age" in first.headers["cache-control"]
    etag = first.headers["etag"]
    again = _tile(base_url, 2, 2, 1, **{"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    other = _tile(base_url, 2, 3, 1)
    assert other.headers["etag"] != etag and other.content != first.content


@pytest.mark.parametrize("path", ["3/8/0", "3/0/8", "11/0/0", "-1/0/0", "2/-1/0", "99/1/1"])
def test_tiles_outside_the_pyramid_are_not_found(base_url, path):
    response = httpx.get(f"{base_url}/api/v1/map/basemap/{path}.png")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_tile_address_that_is_not_numbers_is_refused(base_url):
    response = httpx.get(f"{base_url}/api/v1/map/basemap/a/0/0.png")
    assert response.status_code in (400, 422)
