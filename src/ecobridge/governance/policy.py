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

from dataclasses import dataclass, field


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
    """EXISTS an active grant on `alias`.id to one of the principal's organisations or countries."""
    orgs, org_params = _in_list("g.grantee_org_id", principal.org_ids)
    countries, country_params = _in_list("g.grantee_country", sorted(principal.countries))
    if not org_params and not country_params:
        return "false", []
    extra = " AND g.precise" if precise else ""
    sql = (f"EXISTS (SELECT 1 FROM grants g WHERE g.dataset_id = {alias}.id{extra}"
           f" AND (g.ends_at IS NULL OR g.ends_at > now()) AND ({orgs} OR {countries}))")
    return sql, org_params + country_params


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
    (degrees of latitude; longitude cells widen with latitude so cells stay about square).
    """
    full, params = full_access_sql(principal, alias)
    if full == "true":
        return geom, params
    km = f"{alias}.generalise_km"
    dlat = f"({km} / 111.32)"
    dlon = f"({km} / (111.32 * greatest(cos(radians(ST_Y(ST_Centroid({geom})))), 0.01)))"
    snapped = (
        f"ST_Point((floor(ST_X(ST_Centroid({geom})) / {dlon}) + 0.5) * {dlon}, "
        f"(floor(ST_Y(ST_Centroid({geom})) / {dlat}) + 0.5) * {dlat})"
    )
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
