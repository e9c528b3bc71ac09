"""Offline validation of a Camtrap DP package with frictionless against the vendored profile.

A package names its profile and table schemas by URL (raw.githubusercontent.com/tdwg/camtrap-dp/
<version>/...), and the profile $refs the Data Package and GeoJSON schemas by URL. frictionless
fetches every URL through `system.http_session`; here that session is one whose transport serves
the vendored copies (data/camtrap-dp, MIT, from tdwg/camtrap-dp 1.0.1 and 1.0.2) and refuses any
other URL, so validation never touches the network and the URLs in the package stay as they are
(the profile checks their version pattern).

- 1.0.2 and 1.0.1: their own files. 1.0: the 1.0.1 files, with the version pattern set to 1.0
  (1.0.1 only fixed a $ref so frictionless >= 5.17 can validate; no term changed).
- The Data Package schema the profile $refs is served as frictionless's own Package profile
  (which frictionless applies to every package anyway); GeoJSON from frictionless's assets.
"""

from __future__ import annotations

import io
import json
import re
import threading
from functools import cache
from pathlib import Path

from ecobridge.errors import InvalidInput

DATA = Path(__file__).parent / "data" / "camtrap-dp"
BASE = "https://raw.githubusercontent.com/tdwg/camtrap-dp/{version}/{name}.json"
TABLES = ("deployments", "media", "observations")
VERSIONS = ("1.0", "1.0.1", "1.0.2")
WRITE_VERSION = "1.0.2"
PROFILE = re.compile(r"^https://raw\.githubusercontent\.com/tdwg/camtrap-dp/"
                     r"(1\.0(?:\.1|\.2)?)/camtrap-dp-profile\.json$")
# frictionless' system context is process-wide: one validation at a time.
_LOCK = threading.Lock()


def profile_url(version: str = WRITE_VERSION) -> str:
    return BASE.format(version=version, name="camtrap-dp-profile")


def schema_url(table: str, version: str = WRITE_VERSION) -> str:
    return BASE.format(version=version, name=f"{table}-table-schema")


@cache
def documents() -> dict[str, bytes]:
    """URL -> the bytes served for it."""
    import frictionless
    from frictionless import Package

    out: dict[str, bytes] = {}
    for version in VERSIONS:
        folder = DATA / ("1.0.1" if version == "1.0" else version)
        for name in ("camtrap-dp-profile", *(f"{t}-table-schema" for t in TABLES)):
            out[BASE.format(version=version, name=name)] = (folder / f"{name}.json").read_bytes()
    profile = json.loads(out[profile_url("1.0")])
    profile["$defs"]["version"]["pattern"] = r"/1\.0/"
    out[profile_url("1.0")] = json.dumps(profile).encode()
    out["https://specs.frictionlessdata.io/schemas/data-package.json"] = json.dumps(
        Package.metadata_profile).encode()
    assets = Path(frictionless.__file__).parent / "assets" / "profiles"
    out["http://json.schemastore.org/geojson.json"] = (assets / "geojson.json").read_bytes()
    return out


def table_schema(table: str, version: str = WRITE_VERSION) -> dict:
    return json.loads(documents()[schema_url(table, version)])


def _session():
    import requests
    from requests.adapters import BaseAdapter
    from requests.models import Response

    served = documents()

    class Vendored(BaseAdapter):
        def send(self, request, **kwargs):
            body = served.get(request.url)
            if body is None:
                raise requests.ConnectionError(
                    f"offline validation has no local copy of {request.url}")
            response = Response()
            response.status_code, response.url, response.request = 200, request.url, request
            response.raw = io.BytesIO(body)
            response.headers["Content-Type"] = "application/json"
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("http://", Vendored())
    session.mount("https://", Vendored())
    return session


def package_version(descriptor: dict, name: str) -> str:
    match = PROFILE.match(str(descriptor.get("profile", "")))
    if not match:
        raise InvalidInput(f"profile {descriptor.get('profile')!r} is not Camtrap DP "
                           f"{', '.join(VERSIONS)}", file=name, field="profile")
    return match.group(1)


def check_paths(descriptor: dict, name: str) -> None:
    """Resources are read from the package folder only: no URL, no absolute path, no '..'."""
    for resource in descriptor.get("resources", []):
        if not isinstance(resource, dict):
            raise InvalidInput("every resource must be an object", file=name, field="resources")
        paths = resource.get("path")
        for path in paths if isinstance(paths, list) else [paths] if paths else []:
            p = str(path)
            if "://" in p or p.startswith(("/", "~", "\\")) or ".." in Path(p).parts:
                raise InvalidInput(f"resource {resource.get('name')!r}: path {p!r} is not a "
                                   "file inside the package", file=name, field="path")


def validate(folder: Path, descriptor: dict, name: str) -> str:
    """Validate the package in `folder`; returns its version. InvalidInput names the resource,
    its file, the data row (1-based, header not counted) and the field of the first error, and
    carries up to 20 errors in `errors`."""
    from frictionless import FrictionlessException, Package, system

    version = package_version(descriptor, name)
    check_paths(descriptor, name)
    with _LOCK, system.use_context(http_session=_session()):
        try:
            report = Package(descriptor, basepath=str(folder)).validate()
        except FrictionlessException as exc:
            reasons = [e.message for e in getattr(exc, "reasons", [])] or [exc.error.message]
            raise InvalidInput(f"datapackage.json is not valid Camtrap DP {version}: "
                               f"{reasons[0]}", file=f"{name}/datapackage.json",
                               errors=reasons[:20]) from None
    if report.valid:
        return version
    problems = [{"resource": None, "file": "datapackage.json", "row": None, "field": None,
                 "message": e.message} for e in report.errors]
    for task in report.tasks:
        for e in task.errors:
            row = getattr(e, "row_number", None)
            problems.append({"resource": task.name, "file": task.place, "field":
                             getattr(e, "field_name", None),
                             "row": row - 1 if isinstance(row, int) else None,
                             "message": e.message})
    first = problems[0]
    where = f"resource {first['resource']}: " if first["resource"] else ""
    raise InvalidInput(f"{where}not valid Camtrap DP {version} ({len(problems)} errors): "
                       f"{first['message']}", file=f"{name}/{Path(first['file']).name}",
                       row=first["row"], field=first["field"], errors=problems[:20])
