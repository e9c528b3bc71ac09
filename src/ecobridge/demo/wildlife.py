"""Synthetic camera-trap surveys on both sides of the China-Russia border (Camtrap DP shaped).

Cameras sit inside the approximate outlines of the Northeast China Tiger and Leopard National Park
and Land of the Leopard National Park (and inside the right country on the Natural Earth map).
Detections are drawn per camera and species as a Poisson process over the camera's operating days,
with each species' daily activity pattern; tigers and leopards carry individual ids, and a few
individuals are seen on both sides of the border.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import shapely
from shapely.geometry import Polygon, shape

from ecobridge.demo import areas

TAXA: tuple[dict, ...] = (
    {"scientific_name": "Panthera tigris altaica", "taxon_rank": "subspecies",
     "family": "Felidae", "order": "Carnivora", "genus": "Panthera", "iucn_category": "EN",
     "sensitive": True,
     "vernacular_names": {"en": "Amur tiger", "zh": "东北虎", "ru": "амурский тигр"}},
    {"scientific_name": "Panthera pardus orientalis", "taxon_rank": "subspecies",
     "family": "Felidae", "order": "Carnivora", "genus": "Panthera", "iucn_category": "CR",
     "sensitive": True,
     "vernacular_names": {"en": "Amur leopard", "zh": "远东豹",
                          "ru": "дальневосточный леопард"}},
    {"scientific_name": "Cervus nippon", "taxon_rank": "species", "family": "Cervidae",
     "order": "Artiodactyla", "genus": "Cervus", "iucn_category": "LC", "sensitive": False,
     "vernacular_names": {"en": "sika deer", "zh": "梅花鹿", "ru": "пятнистый олень"}},
    {"scientific_name": "Sus scrofa", "taxon_rank": "species", "family": "Suidae",
     "order": "Artiodactyla", "genus": "Sus", "iucn_category": "LC", "sensitive": False,
     "vernacular_names": {"en": "wild boar", "zh": "野猪", "ru": "кабан"}},
    {"scientific_name": "Capreolus pygargus", "taxon_rank": "species", "family": "Cervidae",
     "order": "Artiodactyla", "genus": "Capreolus", "iucn_category": "LC", "sensitive": False,
     "vernacular_names": {"en": "Siberian roe deer", "zh": "西伯利亚狍",
                          "ru": "сибирская косуля"}},
    {"scientific_name": "Ursus thibetanus", "taxon_rank": "species", "family": "Ursidae",
     "order": "Carnivora", "genus": "Ursus", "iucn_category": "VU", "sensitive": False,
     "vernacular_names": {"en": "Asian black bear", "zh": "亚洲黑熊",
                          "ru": "гималайский медведь"}},
)
for _taxon in TAXA:
    _taxon.update(kingdom="Animalia", phylum="Chordata", **{"class": "Mammalia"})

TIGER, LEOPARD = "Panthera tigris altaica", "Panthera pardus orientalis"


@dataclass(frozen=True)
class Species:
    name: str
    rate: float                 # independent events per 100 camera-days
    peaks: tuple[float, ...]    # hours of activity peaks (local solar time)
    kappa: float                # concentration around the peaks
    group: tuple[int, int]      # group size range
    winter_factor: float = 1.0  # rate multiplier from December to March (bears sleep)


SPECIES: tuple[Species, ...] = (
    Species(TIGER, 1.6, (5.0, 20.0), 1.5, (1, 1)),
    Species(LEOPARD, 2.4, (4.0, 21.0), 1.5, (1, 1)),
    Species("Cervus nippon", 14.0, (6.0, 18.5), 2.0, (1, 4)),
    Species("Sus scrofa", 9.0, (7.0, 17.0), 1.2, (1, 7)),
    Species("Capreolus pygargus", 11.0, (5.5, 19.0), 2.0, (1, 3)),
    Species("Ursus thibetanus", 1.5, (10.0, 16.0), 1.0, (1, 2), winter_factor=0.0),
)
BLANK_RATE, HUMAN_RATE = 6.0, 1.5


@dataclass(frozen=True)
class Side:
    prefix: str
    park: str            # code of the area in demo.areas
    country: str         # ISO 3166-1 alpha-3
    country_code: str    # ISO 3166-1 alpha-2, for Darwin Core
    cameras: int
    setup_by: str
    utc_offset: float    # the park's clock, for nothing but camera timestamps' display


SIDES = (
    Side("CN", "CN-NCTLNP", "CHN", "CN", 18, "NCTLNP ranger team (demo)", 8),
    Side("RU", "RU-LOTLNP", "RUS", "RU", 14, "Land of the Leopard patrol (demo)", 10),
)
SURVEY_START = datetime(2024, 9, 1, tzinfo=UTC)
# Individuals: a few cross the border and are seen by both parks.
_TIGERS = {"CN": [f"T-CN-{i:02d}" for i in range(1, 9)] + ["T-X-01", "T-X-02"],
           "RU": [f"T-RU-{i:02d}" for i in range(1, 7)] + ["T-X-01", "T-X-02"]}
_LEOPARDS = {"CN": [f"L-CN-{i:02d}" for i in range(1, 13)] + [f"L-X-{i:02d}" for i in (1, 2, 3)],
             "RU": [f"L-RU-{i:02d}" for i in range(1, 19)] + [f"L-X-{i:02d}" for i in (1, 2, 3)]}


def _rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


def _camera_sites(side: Side, rng: np.random.Generator) -> np.ndarray:
    """Points inside the park outline and inside the country on the Natural Earth map."""
    park = Polygon(areas.park(side.park)["ring"])
    country = next(shape(f["geometry"]) for f in areas.natural_earth()["features"]
                   if f["properties"]["iso_a3"] == side.country)
    allowed = park.intersection(country).buffer(-0.02)
    minx, miny, maxx, maxy = allowed.bounds
    xs = rng.uniform(minx, maxx, 50 * side.cameras)
    ys = rng.uniform(miny, maxy, 50 * side.cameras)
    inside = shapely.contains_xy(allowed, xs, ys)
    return np.round(np.column_stack([ys[inside], xs[inside]])[: side.cameras], 5)


def deployments(*, seed: int = 2024) -> dict[str, list[dict]]:
    """Camtrap DP deployments per side ("CN", "RU")."""
    out: dict[str, list[dict]] = {}
    habitats = ("mixed Korean pine-broadleaf forest", "oak forest", "riparian forest",
                "larch-birch forest on a ridge")
    features = ("trailGame", "roadDirt", "trailGame", "waterSource", "trailHiking")
    for side in SIDES:
        rng = _rng(seed, side.prefix, "sites")
        sites = _camera_sites(side, rng)
        rows = []
        for i, (lat, lon) in enumerate(sites):
            start = SURVEY_START + np.timedelta64(int(rng.integers(0, 45 * 24)), "h").item()
            days = int(rng.integers(150, 240))
            rows.append({
                "deployment_id": f"{side.prefix}-D{i + 1:02d}",
                "location_id": f"{side.prefix}-L{i + 1:02d}",
                "location_name": f"{side.prefix} grid cell {i + 1:02d}",
                "latitude": float(lat), "longitude": float(lon),
                "coordinate_uncertainty": 30,
                "deployment_start": start,
                "deployment_end": start + np.timedelta64(days * 24, "h").item(),
                "setup_by": side.setup_by, "camera_id": f"{side.prefix}-CAM-{i + 101}",
                "camera_model": "Reconyx-HyperFire 2" if i % 3 else "Browning-Recon Force",
                "camera_height": round(float(rng.uniform(0.6, 1.0)), 2), "bait_use": False,
                "feature_type": features[i % len(features)],
                "habitat": habitats[i % len(habitats)], "country": side.country,
                "tags": f"park:{side.park} | demo:true",
                "comments": "demo data: synthetic deployment",
            })
        out[side.prefix] = rows
    return out


def _event_times(rng: np.random.Generator, species: Species | None, start: datetime,
                 end: datetime, rate: float, offset_hours: float) -> np.ndarray:
    """Event instants (UTC, datetime64[s]) in [start, end), following the activity peaks."""
    days = (end - start).total_seconds() / 86400.0
    n = rng.poisson(rate * days / 100.0)
    day = np.floor(rng.uniform(0.0, np.ceil(days) + 1.0, n))
    if species is None:                      # blanks and people: daytime, broad
        hour = np.clip(rng.normal(12.0, 3.0, n), 0.0, 23.99)
    else:
        peak = rng.choice(np.array(species.peaks), n)
        hour = (peak + rng.vonmises(0.0, species.kappa, n) * 24.0 / (2 * np.pi)) % 24.0
    midnight = np.datetime64(start.replace(tzinfo=None), "D").astype("datetime64[s]")
    seconds = day * 86400.0 + (hour - offset_hours) * 3600.0
    times = midnight + seconds.astype("int64").astype("timedelta64[s]")
    first = np.datetime64(start.replace(tzinfo=None), "s")
    last = np.datetime64(end.replace(tzinfo=None), "s") - np.timedelta64(600, "s")
    return np.sort(times[(times >= first) & (times < last)])


def camera_data(*, seed: int = 2024) -> dict[str, dict[str, pa.Table]]:
    """Per side: Arrow tables `deployments`, `media` and `observations` (event level)."""
    result = {}
    all_deployments = deployments(seed=seed)
    for side in SIDES:
        media: dict[str, list] = {k: [] for k in ("media_id", "deployment_id", "timestamp",
                                                   "file_path", "file_name", "file_public")}
        obs: dict[str, list] = {k: [] for k in (
            "observation_id", "deployment_id", "event_id", "event_start", "event_end",
            "observation_type", "scientific_name", "count", "life_stage", "sex",
            "individual_id", "classification_method", "classified_by",
            "classification_probability")}
        solar_offset = 131.0 / 15.0
        for dep in all_deployments[side.prefix]:
            rng = _rng(seed, dep["deployment_id"], "events")
            start, end = dep["deployment_start"], dep["deployment_end"]
            kinds: list[tuple[Species | None, str, float]] = [
                (sp, "animal", sp.rate) for sp in SPECIES]
            kinds += [(None, "blank", BLANK_RATE), (None, "human", HUMAN_RATE)]
            for species, obs_type, rate in kinds:
                times = _event_times(rng, species, start, end, rate, solar_offset)
                if species is not None and species.winter_factor < 1.0:
                    month = times.astype("datetime64[M]").astype(int) % 12 + 1
                    awake = (month >= 4) & (month <= 11)
                    times = times[awake | (rng.random(len(times)) < species.winter_factor)]
                _add_events(obs, media, rng, side, dep["deployment_id"], species, obs_type,
                            times)
        result[side.prefix] = {
            "deployments": pa.Table.from_pylist(all_deployments[side.prefix]),
            "media": _media_table(media),
            "observations": _observations_table(obs),
        }
    return result


def _add_events(obs: dict, media: dict, rng: np.random.Generator, side: Side, deployment: str,
                species: Species | None, obs_type: str, times: np.ndarray) -> None:
    n = len(times)
    if n == 0:
        return
    tag = species.name.split()[1][:3].upper() if species else obs_type[:3].upper()
    burst = rng.integers(1, 6, n)                  # photos per trigger sequence
    gaps = rng.integers(2, 40, n)                  # seconds between photos
    ends = times + (burst - 1) * gaps * np.timedelta64(1, "s")
    ids = [f"{deployment}-{tag}-{k + 1:04d}" for k in range(n)]
    if species is not None:
        lo, hi = species.group
        counts = rng.integers(lo, hi + 1, n)
        pool = {TIGER: _TIGERS, LEOPARD: _LEOPARDS}.get(species.name)
        individuals = list(rng.choice(pool[side.prefix], n)) if pool else [None] * n
        machine = pool is None
        sexes = [None] * n if machine else list(rng.choice(["male", "female"], n))
        stages = list(rng.choice(["adult", "adult", "adult", "subadult", "juvenile"], n))
    else:
        counts = rng.integers(1, 3, n) if obs_type == "human" else [None] * n
        individuals, sexes, stages, machine = [None] * n, [None] * n, [None] * n, True
    for k in range(n):
        event_id = ids[k]
        obs["observation_id"].append(f"{event_id}-O")
        obs["deployment_id"].append(deployment)
        obs["event_id"].append(event_id)
        obs["event_start"].append(times[k])
        obs["event_end"].append(ends[k])
        obs["observation_type"].append(obs_type)
        obs["scientific_name"].append(species.name if species else None)
        obs["count"].append(None if counts[k] is None else int(counts[k]))
        obs["life_stage"].append(stages[k])
        obs["sex"].append(sexes[k])
        obs["individual_id"].append(individuals[k])
        obs["classification_method"].append("machine" if machine else "human")
        obs["classified_by"].append("demo classifier 1.0" if machine else side.setup_by)
        obs["classification_probability"].append(
            round(float(rng.uniform(0.8, 0.99)), 2) if machine else 1.0)
        for j in range(int(burst[k])):
            media_id = f"{event_id}-M{j + 1}"
            media["media_id"].append(media_id)
            media["deployment_id"].append(deployment)
            media["timestamp"].append(times[k] + j * int(gaps[k]) * np.timedelta64(1, "s"))
            media["file_path"].append(f"media/{deployment}/{media_id}.jpg")
            media["file_name"].append(f"{media_id}.jpg")
            # Big-cat photos would give away a location: never public.
            media["file_public"].append(species is None or species.name not in (TIGER, LEOPARD))


def _ts(values: list) -> pa.Array:
    return pa.array(np.array(values, dtype="datetime64[s]"), pa.timestamp("s", tz="UTC"))


def _media_table(media: dict) -> pa.Table:
    n = len(media["media_id"])
    return pa.table({
        "media_id": media["media_id"], "deployment_id": media["deployment_id"],
        "capture_method": ["activityDetection"] * n, "timestamp": _ts(media["timestamp"]),
        "file_path": media["file_path"], "file_public": media["file_public"],
        "file_name": media["file_name"], "file_mediatype": ["image/jpeg"] * n,
    })


def _observations_table(obs: dict) -> pa.Table:
    n = len(obs["observation_id"])
    columns = {k: v for k, v in obs.items() if k not in ("event_start", "event_end")}
    columns["event_start"] = _ts(obs["event_start"])
    columns["event_end"] = _ts(obs["event_end"])
    columns["observation_level"] = ["event"] * n
    columns["count"] = pa.array(obs["count"], pa.int32())
    columns["classification_probability"] = pa.array(obs["classification_probability"],
                                                     pa.float64())
    return pa.table(columns)
