"""The audit log, as its owners read it. Events are written by `policy.record_read`."""

from __future__ import annotations

from datetime import datetime

from ecobridge.errors import Forbidden, Unauthorized
from ecobridge.governance.organisations import get_organisation
from ecobridge.governance.policy import Principal

MAX_LIMIT = 1000


def read_audit(store, principal: Principal, *, org: str | int | None = None,
               dataset: str | None = None, since: datetime | None = None,
               limit: int = 100, before_id: int | None = None) -> list[dict]:
    """Reads of the datasets of organisations the principal administers, newest first.

    An owner reads only its own log; a platform admin may read any organisation's. Paging is
    keyset: pass the smallest id seen as `before_id` for the next page.
    """
    if not principal.authenticated:
        raise Unauthorized("sign in to read an audit log")
    where, params = [], []
    if org is not None:
        org_id = get_organisation(store, org)["id"]
        if not principal.is_platform_admin and principal.roles.get(org_id) != "admin":
            raise Forbidden("only admins of an organisation read its audit log")
        where.append("a.owner_org_id = ?")
        params.append(org_id)
    elif not principal.is_platform_admin:
        admin_orgs = [o for o, role in principal.roles.items() if role == "admin"]
        if not admin_orgs:
            raise Forbidden("only admins of an organisation read its audit log")
        where.append(f"a.owner_org_id IN ({', '.join('?' for _ in admin_orgs)})")
        params += admin_orgs
    if dataset is not None:
        column = "d.id" if str(dataset).isdigit() else "d.slug"
        where.append(f"{column} = ?")
        params.append(dataset)
    if since is not None:
        where.append("a.read_at >= ?")
        params.append(since)
    if before_id is not None:
        where.append("a.id < ?")
        params.append(before_id)
    limit = max(1, min(int(limit), MAX_LIMIT))
    return store.dicts(
        "SELECT a.id, a.read_at, a.username, a.user_id,"
        " (SELECT list(o.slug ORDER BY o.slug) FROM organisations o"
        "   WHERE list_contains(a.reader_org_ids, o.id)) AS reader_organisations,"
        " d.slug AS dataset, ow.slug AS owner, a.kind, a.record_count"
        " FROM audit_events a JOIN datasets d ON d.id = a.dataset_id"
        " JOIN organisations ow ON ow.id = a.owner_org_id"
        f" WHERE {' AND '.join(where) or 'true'} ORDER BY a.id DESC LIMIT {limit}", params)
