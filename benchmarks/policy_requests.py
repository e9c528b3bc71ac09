"""What the access policy costs per read request: partner readers against anonymous and admin.

Builds (once, then reuses) the demo deployment under benchmarks/out/policy_requests/base/, and
adds what the demo lacks for this question: more grants to the Russian park (a country grant,
an expired grant, a precise grant on a sensitive dataset with stations), a private and a
registered dataset, API tokens for the principals below. Each variant of the policy code then
gets a fresh copy of that store and its own `uvicorn` process on 127.0.0.1 (this script with
`--serve`), all running at the same time; one client sends every request to each variant in
turn, interleaved, so that drifting machine load hits them alike. Per request it measures the
wall time at the client and the CPU time of the serving process (the process's CPU clock, all
its threads, read by `clock_getcpuclockid` around the request).

Principals: anonymous, the platform admin (policy short-circuits to `true`), `partner_org` (a
member of an organisation with organisation grants, one of them precise on a sensitive
dataset) and `partner_country` (a member of an organisation covered by a grant to its
country). Routes: the dataset list, one month of a station's observations, OGC API items of a
sensitive dataset, OGC API occurrences, SensorThings Things.

Variants: `exists` is the grant condition as it was at the start of session 6 (a correlated
EXISTS per use, copied below); `subquery` is the current code with the per-store grant lookup
turned off (the uncorrelated `IN (SELECT ...)`); `current` is the tree as it is. Each variant's
responses must be equal (volatile fields aside) or the run fails.

Prints one JSON line per figure: medians per (variant, principal, route), then per variant the
partner/anonymous ratios (the baseline measured in the same run) and the before/after ratio.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import read_api  # noqa: E402  (wait_ready)

OUT = Path(__file__).resolve().parent / "out" / "policy_requests"
VARIANTS = ("exists", "subquery", "current")
PRINCIPALS = {"anonymous": None, "admin": "platform.admin",
              "partner_org": "demo-ru-land-of-leopard.viewer",
              "partner_country": "demo-kgz-air-agency.viewer"}
PARTNER_ORG = "demo-ru-land-of-leopard"
SENSITIVE = "demo-glaciers-wgms"      # made sensitive here: 69 stations, public
PARTNERS_DATASET = "demo-air-kaz"     # partners only; open to KGZ and UZB, here to RUS too
STATION_DATASET = "demo-air-chn"      # public: every principal reads the same month
VOLATILE = {"timeStamp"}


# -- the store ----------------------------------------------------------------------------------
def build(base: Path) -> dict[str, str]:
    """The demo plus this benchmark's policies; returns principal -> token (kept in a file)."""
    tokens_file = base / "tokens.json"
    if tokens_file.exists():
        return json.loads(tokens_file.read_text())
    if base.exists():
        shutil.rmtree(base)
    from ecobridge.config import Settings
    from ecobridge.demo.build import build_demo
    from ecobridge.governance import policies, tokens
    from ecobridge.governance.policy import SYSTEM
    from ecobridge.store import open_store

    store = open_store(Settings(home=base, memory_limit="2GB", threads=2))
    try:
        build_demo(store)
        policies.set_policy(store, SYSTEM, SENSITIVE, sensitive=True, generalise_km=25.0)
        policies.set_policy(store, SYSTEM, "demo-energy-gwadar-wind", visibility="private")
        policies.set_policy(store, SYSTEM, "demo-energy-kyzyl-suu-pv", visibility="registered")
        past = datetime(2020, 1, 1, tzinfo=UTC)
        later = datetime.now(UTC) + timedelta(days=3650)
        for ref, grant in ((SENSITIVE, {"org": PARTNER_ORG, "precise": True}),
                           (PARTNERS_DATASET, {"country": "RUS"}),
                           ("demo-energy-gwadar-wind", {"org": PARTNER_ORG, "ends_at": later}),
                           ("demo-air-irn", {"org": PARTNER_ORG, "ends_at": past}),
                           ("demo-camtrap-ru-lotl", {"country": "KGZ"})):
            policies.add_grant(store, SYSTEM, ref, **grant)
        made = {name: tokens.create_token(store, user=user, name="bench", days=365)["token"]
                for name, user in PRINCIPALS.items() if user}
        store.checkpoint()
    finally:
        store.close()
    tokens_file.write_text(json.dumps(made))
    return made


def routes(base: Path) -> dict[str, tuple[str, dict]]:
    from ecobridge.store import Store

    store = Store(base / "ecobridge.duckdb", read_only=True)
    try:
        stream = store.scalar(
            "SELECT min(s.id) FROM datastreams s JOIN things t ON t.id = s.thing_id"
            " JOIN datasets d ON d.id = t.dataset_id WHERE d.slug = ?", [STATION_DATASET])
    finally:
        store.close()
    return {
        "datasets": ("/api/v1/datasets", {}),
        "observations": (f"/api/v1/datastreams/{stream}/observations",
                         {"start": "2024-03-01T00:00:00Z", "end": "2024-04-01T00:00:00Z"}),
        "ogc_sensitive_sites": ("/ogcapi/collections/sites/items",
                                {"dataset": SENSITIVE, "limit": "100"}),
        "ogc_occurrences": ("/ogcapi/collections/occurrences/items", {"limit": "100"}),
        "sta_things": ("/sta/v1.1/Things", {}),
    }


# -- the variants, patched into the serving process ----------------------------------------------
def _exists_grant_sql(principal, alias: str, *, precise: bool) -> tuple[str, list]:
    """The grant condition of session 5 (correlated EXISTS), as the baseline."""
    from ecobridge.governance.policy import _in_list

    orgs, org_params = _in_list("g.grantee_org_id", principal.org_ids)
    countries, country_params = _in_list("g.grantee_country", sorted(principal.countries))
    if not org_params and not country_params:
        return "false", []
    extra = " AND g.precise" if precise else ""
    sql = (f"EXISTS (SELECT 1 FROM grants g WHERE g.dataset_id = {alias}.id{extra}"
           f" AND (g.ends_at IS NULL OR g.ends_at > now()) AND ({orgs} OR {countries}))")
    return sql, org_params + country_params


def patch(variant: str) -> None:
    from ecobridge.governance import policy

    if variant == "exists":
        policy._grant_sql = _exists_grant_sql
    elif variant == "subquery":
        policy._granted = lambda principal: None


def serve(home: Path, port: int, variant: str) -> None:
    import uvicorn

    from ecobridge.api.app import create_app
    from ecobridge.config import Settings

    patch(variant)
    settings = Settings(home=home, memory_limit="1GB", threads=2)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


# -- measuring ----------------------------------------------------------------------------------
class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_LIBC = ctypes.CDLL(None, use_errno=True)


def cpu_clock(pid: int):
    """A function returning the CPU seconds used so far by process `pid` (all its threads)."""
    clock = ctypes.c_int()
    if _LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        raise OSError(f"no CPU clock for process {pid}")
    spec = _Timespec()

    def read() -> float:
        if _LIBC.clock_gettime(clock.value, ctypes.byref(spec)) != 0:
            raise OSError(ctypes.get_errno(), "clock_gettime")
        return spec.tv_sec + spec.tv_nsec / 1e9

    return read


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stable(body: bytes, content_type: str, base_url: str):
    """The body without what differs between servers (their port, the response's time)."""
    body = body.replace(base_url.encode(), b"BASE")
    if "json" not in content_type:
        return body
    value = json.loads(body)
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in VOLATILE}
    return value


def start(base: Path, variant: str) -> tuple[subprocess.Popen, str]:
    home = OUT / "run" / variant
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copy(base / "ecobridge.duckdb", home / "ecobridge.duckdb")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(home), str(port), variant])
    return proc, f"http://127.0.0.1:{port}"


def measure(base: Path, tokens: dict[str, str], requests: int, warmup: int,
            variants: tuple[str, ...]) -> dict:
    paths = routes(base)
    servers = {v: start(base, v) for v in variants}
    samples = {(v, p, r): ([], []) for v in variants for p in PRINCIPALS for r in paths}
    try:
        clients = {v: httpx.Client(base_url=url, timeout=60) for v, (_, url) in servers.items()}
        clocks = {}
        for v, client in clients.items():
            read_api.wait_ready(client, seconds=60)
            clocks[v] = cpu_clock(servers[v][0].pid)
        headers = {p: ({"Authorization": f"Bearer {tokens[p]}"} if p in tokens else {})
                   for p in PRINCIPALS}
        for i in range(warmup + requests):
            for route, (path, query) in paths.items():
                for principal in PRINCIPALS:
                    order = variants if i % 2 == 0 else variants[::-1]
                    bodies = {}
                    for v in order:
                        cpu = clocks[v]
                        c0, t0 = cpu(), time.perf_counter()
                        response = clients[v].get(path, params=query,
                                                  headers=headers[principal])
                        wall, used = time.perf_counter() - t0, cpu() - c0
                        response.raise_for_status()
                        if i == 0:
                            bodies[v] = _stable(response.content,
                                                response.headers.get("content-type", ""),
                                                servers[v][1])
                        if i >= warmup:
                            samples[(v, principal, route)][0].append(used)
                            samples[(v, principal, route)][1].append(wall)
                    if bodies:
                        first = bodies[variants[0]]
                        assert all(b == first for b in bodies.values()), (
                            f"{route} as {principal}: the variants answered differently")
        for client in clients.values():
            client.close()
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait(timeout=30)
    return samples


def emit(figure: str, value: float, **extra) -> None:
    print(json.dumps({"benchmark": "policy_requests", "figure": figure, "value": round(value, 3),
                      **extra}), flush=True)


def report(samples: dict, variants: tuple[str, ...], requests: int) -> None:
    ms = {key: (statistics.median(cpu) * 1000, statistics.median(wall) * 1000)
          for key, (cpu, wall) in samples.items()}
    route_names = list(dict.fromkeys(r for _, _, r in ms))
    for (variant, principal, route), (cpu, wall) in ms.items():
        emit("request_cpu_median_ms", cpu, variant=variant, principal=principal, route=route,
             wall_median_ms=round(wall, 3), n=requests)
    for variant in variants:
        for principal in ("admin", "partner_org", "partner_country"):
            cpu_ratios = [ms[(variant, principal, r)][0] / ms[(variant, "anonymous", r)][0]
                          for r in route_names]
            wall_ratios = [ms[(variant, principal, r)][1] / ms[(variant, "anonymous", r)][1]
                           for r in route_names]
            emit(f"{principal}_vs_anonymous_cpu_ratio", statistics.geometric_mean(cpu_ratios),
                 variant=variant, wall_ratio=round(statistics.geometric_mean(wall_ratios), 3),
                 per_route={r: round(x, 2) for r, x in zip(route_names, cpu_ratios,
                                                           strict=True)},
                 note="geometric mean over the routes of median CPU per request, same run")
    if "exists" in variants:
        for variant in variants:
            if variant == "exists":
                continue
            for principal in PRINCIPALS:
                ratios = [ms[(variant, principal, r)][0] / ms[("exists", principal, r)][0]
                          for r in route_names]
                emit("cpu_vs_exists_ratio", statistics.geometric_mean(ratios), variant=variant,
                     principal=principal,
                     per_route={r: round(x, 2) for r, x in zip(route_names, ratios,
                                                               strict=True)},
                     note="median CPU per request against the session-start EXISTS, same run")
    emit("load_average_1min", os.getloadavg()[0], cpus=os.cpu_count())


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=40, help="per principal, route, variant")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    variants = tuple(args.variants.split(","))
    t = time.perf_counter()
    tokens = build(OUT / "base")
    emit("store_build_seconds", time.perf_counter() - t, note="~0 when reused")
    samples = measure(OUT / "base", tokens, args.requests, args.warmup, variants)
    report(samples, variants, args.requests)


if __name__ == "__main__":
    main()
