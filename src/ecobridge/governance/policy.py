"""The access-policy choke point.

The rules are SQL conditions, so lists, counts, extents and exports filter in the database and
nothing hidden is ever fetched. Each function returns (sql, params); the sql holds only `?`
placeholders and column names chosen here, never values.

Who sees a dataset (`visible_datasets_sql`):
  - a platform admin sees everything;
  - members of the owning organisation see all of their organisation's datasets;
  - an active grant (no end date, or one still ahead) to one of the principal's organisations,
    or to the country of one of them, opens the dataset whatever its visibility or embargo: a
    country grant covers every organisation of that country (the "same-country" case);
  - otherwise a dataset under embargo (embargo_until in the future) is hidden; once it is not,
    'public' is open to everyone and 'registered' to any signed-in user. 'partners' and
    'private' open only through grants.
Who sees precise coordinates of a sensitive dataset (`full_access_sql`): owner members, platform
admins and holders of an active grant with `precise`; everyone else gets `location_sql`'s grid.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Principal:
    """Who is asking. Anonymous when user_id is None (and not the operator's SYSTEM)."""

    user_id: int | None = None
    username: str | None = None
    # organisation id -> role (admin, publisher, analyst, viewer)
    roles: dict[int, str] = field(default_factory=dict)
    # ISO 3166-1 alpha-3 codes of the principal's organisations
    countries: frozenset[str] = frozenset()
    is_platform_admin: bool = False
    # how the principal was authenticated: None, "token" or "session"
    via: str | None = None
    # The Store the principal was loaded from (accounts.load_principal), if any: the grant
    # conditions then read the principal's granted datasets from a per-store cache
    # (`_granted`) instead of making DuckDB plan a grants subquery at every use.
    store: object = field(default=None, compare=False, repr=False)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None or self.is_platform_admin

    @property
    def org_ids(self) -> list[int]:
        return sorted(self.roles)

    def role_in(self, org_id: int) -> str | None:
        return self.roles.get(org_id)

    def __hash__(self) -> int:
        return hash((self.user_id, self.username, self.is_platform_admin))


ANONYMOUS = Principal()
# The deployment itself: CLI commands run by the operator and the demo builder.
SYSTEM = Principal(username="system", is_platform_admin=True)


def _in_list(column: str, values: list) -> tuple[str, list]:
    if not values:
        return "false", []
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


def _grant_sql(principal: Principal, alias: str, *, precise: bool) -> tuple[str, list]:
    """True where the principal holds an active grant on `alias`.id (a precise one if asked):
    to one of its organisations or to the country of one of them."""
    granted = _granted(principal)
    if granted is not None:
        ids = granted[1] if precise else granted[0]
        if not ids:
            return "false", []
        return f"list_contains(?::BIGINT[], {alias}.id)", [ids]
    where, params = _active_grants_where(principal)
    if where is None:
        return "false", []
    extra = " AND g.precise" if precise else ""
    # Uncorrelated (a semi-join planned once), not EXISTS per row: DuckDB spends most of a
    # partner's request decorrelating EXISTS. Neither id can be NULL, so IN is never NULL.
    return (f"{alias}.id IN (SELECT g.dataset_id FROM grants g WHERE {where}{extra})", params)


def _active_grants_where(principal: Principal) -> tuple[str | None, list]:
    """Condition over `grants g`: active, and to the principal's organisations or countries."""
    orgs, org_params = _in_list("g.grantee_org_id", principal.org_ids)
    countries, country_params = _in_list("g.grantee_country", sorted(principal.countries))
    if not org_params and not country_params:
        return None, []
    return (f"(g.ends_at IS NULL OR g.ends_at > now()) AND ({orgs} OR {countries})",
            org_params + country_params)


# Grant cache. Entries live in each Store's memo, keyed by the principal's organisations and
# countries, and hold (generation, valid until, granted ids, precise ids). An entry is used
# only while (1) its generation is the current one of its database file: `forget_grants`,
# called after every committed write to grants, moves it on, and the generation is read
# before the entry's query runs, so a read racing a write is never kept; and (2) the clock is
# before the earliest end of the grants it holds, so an entry never outlives an expiry.
# Generations are per file, not per Store, so two Stores over one file in a process agree.
_GRANT_GENERATIONS: dict[str, int] = {}
_GRANT_LOCK = threading.Lock()
_GRANT_ENTRIES_MAX = 4096


def forget_grants(store) -> None:
    """Call after committing any change to the grants table: the next read asks the database."""
    file = _grant_file(store)
    with _GRANT_LOCK:
        _GRANT_GENERATIONS[file] = _GRANT_GENERATIONS.get(file, 0) + 1
    memo = getattr(store, "memo", None)
    if memo is not None:
        memo.pop("policy_grants", None)


def _grant_file(store) -> str:
    path = str(getattr(store, "path", ""))
    return path if path in ("", ":memory:") else str(Path(path).resolve())


def _granted(principal: Principal) -> tuple[list[int], list[int]] | None:
    """(dataset ids opened by the principal's active grants, those of them precise); None when
    the principal has no real Store (a cursor of an open transaction must see its own writes,
    an in-memory store has no file to key generations by): the SQL then asks itself."""
    store = principal.store
    memo = getattr(store, "memo", None)
    if memo is None:
        return None
    where, params = _active_grants_where(principal)
    if where is None:
        return [], []
    cache = memo.get("policy_grants")
    if cache is None:
        file = _grant_file(store)
        if file in ("", ":memory:"):
            return None
        cache = memo.setdefault("policy_grants", {"file": file, "entries": {}})
    key = (tuple(principal.org_ids), tuple(sorted(principal.countries)))
    generation = _GRANT_GENERATIONS.get(cache["file"], 0)  # before the query, see above
    hit = cache["entries"].get(key)
    if hit is not None and hit[0] == generation and time.time() < hit[1]:
        return hit[2], hit[3]
    rows = store.rows("SELECT g.dataset_id, bool_or(g.precise), min(epoch(g.ends_at))"
                      f" FROM grants g WHERE {where} GROUP BY g.dataset_id ORDER BY 1", params)
    until = min((r[2] for r in rows if r[2] is not None), default=math.inf)
    ids = [r[0] for r in rows]
    precise = [r[0] for r in rows if r[1]]
    if len(cache["entries"]) >= _GRANT_ENTRIES_MAX:
        cache["entries"].clear()
    cache["entries"][key] = (generation, until, ids, precise)
    return ids, precise


def visible_datasets_sql(principal: Principal, alias: str = "d") -> tuple[str, list]:
    """Condition over `datasets AS alias`: true where the principal may read the dataset."""
    if principal.is_platform_admin:
        return "true", []
    owner_sql, owner_params = _in_list(f"{alias}.owner_org_id", principal.org_ids)
    grant_sql, grant_params = _grant_sql(principal, alias, precise=False)
    open_levels = ["'public'"] + (["'registered'"] if principal.authenticated else [])
    not_embargoed = f"({alias}.embargo_until IS NULL OR {alias}.embargo_until <= now())"
    sql = (f"({owner_sql} OR {grant_sql} OR"
           f" ({alias}.visibility IN ({', '.join(open_levels)}) AND {not_embargoed}))")
    return sql, owner_params + grant_params


def full_access_sql(principal: Principal, alias: str = "d", *,
                    private: bool = False) -> tuple[str, list]:
    """Condition over `datasets AS alias`: true where the principal sees precise coordinates.
    `private=True` asks about something private by its own flag (a media file not marked
    public): then only owner members, admins and precise grants have it, sensitive or not."""
    if principal.is_platform_admin:
        return "true", []
    owner_sql, owner_params = _in_list(f"{alias}.owner_org_id", principal.org_ids)
    grant_sql, grant_params = _grant_sql(principal, alias, precise=True)
    open_sql = "false" if private else f"NOT {alias}.sensitive"
    return (f"({open_sql} OR {owner_sql} OR {grant_sql})", owner_params + grant_params)


def dataset_filter_sql(principal: Principal, column: str = "dataset_id") -> tuple[str, list]:
    """Condition over any table with a dataset id column."""
    if principal.is_platform_admin:
        return "true", []
    pred, params = visible_datasets_sql(principal, "vd")
    return f"{column} IN (SELECT vd.id FROM datasets vd WHERE {pred})", params


def location_sql(principal: Principal, geom: str, alias: str = "d") -> tuple[str, list]:
    """A geometry expression: precise for full access, else snapped to the dataset's grid.

    A sensitive point is replaced by the centre of its grid cell of `generalise_km` kilometres
    (degrees of latitude; longitude cells widen with latitude so cells stay about square). The
    width of a row's longitude cells comes from the latitude of the row's centre, never of the
    point: a width from the point's own latitude would let anyone who knows the grid size
    recover that latitude from the published longitude.
    """
    full, params = full_access_sql(principal, alias)
    if full == "true":
        return geom, params
    km = f"{alias}.generalise_km"
    dlat = f"({km} / 111.32)"
    row = f"((floor(ST_Y(ST_Centroid({geom})) / {dlat}) + 0.5) * {dlat})"  # its centre latitude
    dlon = f"({km} / (111.32 * greatest(cos(radians({row})), 0.01)))"
    snapped = f"ST_Point((floor(ST_X(ST_Centroid({geom})) / {dlon}) + 0.5) * {dlon}, {row})"
    return f"(CASE WHEN {full} THEN {geom} ELSE {snapped} END)", params


@dataclass(frozen=True)
class LocatedSql:
    """The three policy parts of a read of located rows of one dataset, built together so no
    read site can take the position without the precise flag or the visibility filter.

    `columns` selects `lat`, `lon` (generalised where the reader lacks full access),
    `precise` and `generalise_km`; `where` keeps only rows of datasets the reader sees."""

    columns: str
    columns_params: list
    where: str
    where_params: list


def located_sql(principal: Principal, geom: str, dataset_column: str,
                alias: str = "d") -> LocatedSql:
    """For a query joining `datasets AS alias` to rows whose point is `geom` and whose dataset
    id is `dataset_column`."""
    loc, loc_params = location_sql(principal, geom, alias)
    full, full_params = full_access_sql(principal, alias)
    where, where_params = dataset_filter_sql(principal, dataset_column)
    columns = (f"ST_Y({loc}) AS lat, ST_X({loc}) AS lon, {full} AS precise,"
               f" {alias}.generalise_km")
    return LocatedSql(columns, [*loc_params, *loc_params, *full_params], where, where_params)


WRITE_ROLES = ("admin", "publisher")


def _owner_of(store, principal: Principal, dataset_id: int) -> int:
    """The owning organisation; NotFound for a dataset the principal may not even see, so a
    refused write never tells a stranger that a hidden dataset exists."""
    from ecobridge.errors import NotFound

    pred, params = visible_datasets_sql(principal, "d")
    row = store.one(f"SELECT d.owner_org_id, {pred} FROM datasets d WHERE d.id = ?",
                    [*params, dataset_id])
    if row is None or not row[1]:
        raise NotFound(f"no dataset {dataset_id}")
    return row[0]


def require_write(store, principal: Principal, dataset_id: int) -> None:
    """Only publishers (or admins) of the owning organisation write to a dataset."""
    from ecobridge.errors import Forbidden

    if principal.is_platform_admin:
        return
    if principal.roles.get(_owner_of(store, principal, dataset_id)) not in WRITE_ROLES:
        raise Forbidden(f"only publishers of the owning organisation may write to dataset "
                        f"{dataset_id}")


def require_admin(store, principal: Principal, dataset_id: int) -> None:
    """Only admins of the owning organisation change a dataset's policy and grants."""
    from ecobridge.errors import Forbidden

    if principal.is_platform_admin:
        return
    if principal.roles.get(_owner_of(store, principal, dataset_id)) != "admin":
        raise Forbidden(f"only admins of the owning organisation may change dataset "
                        f"{dataset_id}'s policy")


def _not_owned(store, principal: Principal, dataset_ids: set[int]) -> list[int]:
    """The datasets that none of the principal's organisations own. A dataset's owner never
    changes, so owners are remembered per store and a member's read of its own organisation's
    data costs no query at all."""
    owners = store.memo.setdefault("dataset_owners", {})
    missing = [i for i in dataset_ids if i not in owners]
    if missing:
        ids, params = _in_list("id", missing)
        owners.update(store.rows(f"SELECT id, owner_org_id FROM datasets WHERE {ids}", params))
    return sorted(i for i in dataset_ids if owners.get(i) not in principal.roles)


def record_read(store, principal: Principal, *, dataset_ids: list[int], kind: str,
                count: int) -> None:
    """Write an audit event for a read of another organisation's data.

    Called by every read path after it has fetched rows: one INSERT per request, one row per
    dataset read that the reader's organisations do not own (anonymous readers included). The
    operator's own SYSTEM reads (CLI, demo builder) are not logged. `count` is the number of
    records the request returned, the same on each row when a request spans several datasets.
    """
    if not dataset_ids or store.read_only:
        return
    if principal.is_platform_admin and principal.user_id is None:
        return
    foreign = _not_owned(store, principal, set(dataset_ids))
    if not foreign:
        return
    ids, id_params = _in_list("d.id", foreign)
    owned, owned_params = _in_list("d.owner_org_id", principal.org_ids)
    # Appended on the reading thread's own cursor in autocommit, not under the store's write
    # lock: an append conflicts with no other writer, and a read must not wait for a long
    # ingest holding that lock to finish.
    store.cursor().execute(
        "INSERT INTO audit_events (user_id, username, reader_org_ids, dataset_id, owner_org_id,"
        " kind, record_count)"
        f" SELECT ?, ?, ?, d.id, d.owner_org_id, ?, ? FROM datasets d WHERE {ids} AND NOT {owned}",
        [principal.user_id, principal.username, principal.org_ids, kind, int(count),
         *id_params, *owned_params],
    )
