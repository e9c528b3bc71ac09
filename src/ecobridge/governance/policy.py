"""The access-policy choke point.

The rules are SQL conditions, so lists, counts, extents and exports filter in the database and
nothing hidden is ever fetched. Each function returns (sql, params); the sql holds only `?`
placeholders and column names chosen here, never values.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """Who is asking. Anonymous when user_id is None."""

    user_id: int | None = None
    username: str | None = None
    # organisation id -> role (admin, publisher, analyst, viewer)
    roles: dict[int, str] = field(default_factory=dict)
    countries: frozenset[str] = frozenset()
    is_platform_admin: bool = False

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None or self.is_platform_admin

    @property
    def org_ids(self) -> list[int]:
        return sorted(self.roles)

    def __hash__(self) -> int:
        return hash((self.user_id, self.username, self.is_platform_admin))


ANONYMOUS = Principal()
# The deployment itself: CLI commands run by the operator and the demo builder.
SYSTEM = Principal(username="system", is_platform_admin=True)


def _in_list(column: str, values: list) -> tuple[str, list]:
    if not values:
        return "false", []
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


def visible_datasets_sql(principal: Principal, alias: str = "d") -> tuple[str, list]:
    """Condition over `datasets AS alias`: true where the principal may read the dataset."""
    if principal.is_platform_admin:
        return "true", []
    owner_sql, owner_params = _in_list(f"{alias}.owner_org_id", principal.org_ids)
    open_levels = ["'public'"] + (["'registered'"] if principal.authenticated else [])
    not_embargoed = f"({alias}.embargo_until IS NULL OR {alias}.embargo_until <= now())"
    sql = (
        f"({owner_sql} OR ({alias}.visibility IN ({', '.join(open_levels)}) AND {not_embargoed}))"
    )
    return sql, owner_params


def full_access_sql(principal: Principal, alias: str = "d") -> tuple[str, list]:
    """Condition over `datasets AS alias`: true where the principal sees precise coordinates."""
    if principal.is_platform_admin:
        return "true", []
    owner_sql, owner_params = _in_list(f"{alias}.owner_org_id", principal.org_ids)
    return f"(NOT {alias}.sensitive OR {owner_sql})", owner_params


def dataset_filter_sql(principal: Principal, column: str = "dataset_id") -> tuple[str, list]:
    """Condition over any table with a dataset id column."""
    pred, params = visible_datasets_sql(principal, "vd")
    return f"{column} IN (SELECT vd.id FROM datasets vd WHERE {pred})", params


def location_sql(principal: Principal, geom: str, alias: str = "d") -> tuple[str, list]:
    """A geometry expression: precise for full access, else snapped to the dataset's grid.

    A sensitive point is replaced by the centre of its grid cell of `generalise_km` kilometres
    (degrees of latitude; longitude cells widen with latitude so cells stay about square).
    """
    full, params = full_access_sql(principal, alias)
    km = f"{alias}.generalise_km"
    dlat = f"({km} / 111.32)"
    dlon = f"({km} / (111.32 * greatest(cos(radians(ST_Y(ST_Centroid({geom})))), 0.01)))"
    snapped = (
        f"ST_Point((floor(ST_X(ST_Centroid({geom})) / {dlon}) + 0.5) * {dlon}, "
        f"(floor(ST_Y(ST_Centroid({geom})) / {dlat}) + 0.5) * {dlat})"
    )
    return f"(CASE WHEN {full} THEN {geom} ELSE {snapped} END)", params


WRITE_ROLES = ("admin", "publisher")


def require_write(store, principal: Principal, dataset_id: int) -> None:
    """Only publishers (or admins) of the owning organisation write to a dataset."""
    from ecobridge.errors import Forbidden, NotFound

    if principal.is_platform_admin:
        return
    row = store.one("SELECT owner_org_id FROM datasets WHERE id = ?", [dataset_id])
    if row is None:
        raise NotFound(f"no dataset {dataset_id}")
    if principal.roles.get(row[0]) not in WRITE_ROLES:
        raise Forbidden(f"only publishers of the owning organisation may write to dataset "
                        f"{dataset_id}")


def record_read(store, principal: Principal, *, dataset_ids: list[int], kind: str,
                count: int) -> None:
    """Write an audit event for a read of another organisation's data.

    Called by every read path after it has fetched rows. The audit table arrives with the
    governance migration; until then there is nothing to write to.
    """
    return None
