"""Access requests: a user asks for a dataset with a purpose; an admin of the owner decides.

A request names a dataset the requester can already see in the catalogue (for example a
sensitive one shown only on the coarse grid, or open metadata): a dataset it cannot see answers
exactly like a missing one, so a request never confirms that a hidden slug exists. An owner who
wants to open a hidden dataset to a partner adds a grant. Approval creates a grant to the
requester's organisation, optionally with an end date and precise coordinates.
"""

from __future__ import annotations

from datetime import datetime

from ecobridge.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ecobridge.governance.organisations import get_organisation
from ecobridge.governance.policies import add_grant, dataset_ref
from ecobridge.governance.policy import Principal, require_admin, visible_datasets_sql

MAX_PURPOSE = 2000


def create_request(store, principal: Principal, ref: str | int, *, purpose: str,
                   org: str | int | None = None) -> dict:
    if principal.user_id is None:
        raise Unauthorized("sign in to ask for access")
    purpose = (purpose or "").strip()
    if not purpose or len(purpose) > MAX_PURPOSE:
        raise InvalidInput(f"purpose must hold 1 to {MAX_PURPOSE} characters", field="purpose")
    if org is not None:
        org_id = get_organisation(store, org)["id"]
        if org_id not in principal.roles:
            raise Forbidden("you can only ask on behalf of an organisation you belong to")
    elif len(principal.roles) == 1:
        org_id = principal.org_ids[0]
    else:
        raise InvalidInput("name the organisation the access is for", field="org")
    ds = dataset_ref(store, ref)
    if not _visible(store, principal, ds["id"]):
        raise NotFound(f"no dataset {ref!r}")  # word for word dataset_ref's answer
    if ds["owner_org_id"] == org_id:
        raise Conflict("your organisation owns this dataset already")
    with store.transaction() as cur:
        pending = cur.execute(
            "SELECT id FROM access_requests WHERE dataset_id = ? AND org_id = ?"
            " AND status = 'pending'", [ds["id"], org_id]).fetchone()
        if pending:
            raise Conflict(f"access request {pending[0]} for this dataset is pending already")
        cur.execute("INSERT INTO access_requests (dataset_id, user_id, org_id, purpose)"
                    " VALUES (?, ?, ?, ?) RETURNING id", [ds["id"], principal.user_id, org_id,
                                                         purpose])
        request_id = cur.fetchone()[0]
    return get_request(store, principal, request_id)


def _visible(store, principal: Principal, dataset_id: int) -> bool:
    pred, params = visible_datasets_sql(principal, "d")
    return bool(store.scalar(f"SELECT {pred} FROM datasets d WHERE d.id = ?",
                             [*params, dataset_id]))


_SELECT = (
    "SELECT r.id, d.slug AS dataset, o.slug AS organisation, u.username AS requested_by,"
    " r.purpose, r.status, r.created_at, r.decided_at, du.username AS decided_by,"
    " r.decision_note, r.grant_id, d.owner_org_id AS _owner, r.user_id AS _user"
    " FROM access_requests r JOIN datasets d ON d.id = r.dataset_id"
    " JOIN organisations o ON o.id = r.org_id JOIN users u ON u.id = r.user_id"
    " LEFT JOIN users du ON du.id = r.decided_by"
)


def _may_see(principal: Principal, row: dict) -> bool:
    return (principal.is_platform_admin or row["_user"] == principal.user_id
            or principal.roles.get(row["_owner"]) == "admin")


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def get_request(store, principal: Principal, request_id: int) -> dict:
    rows = store.dicts(f"{_SELECT} WHERE r.id = ?", [request_id])
    if not rows or not _may_see(principal, rows[0]):
        raise NotFound(f"no access request {request_id}")
    return _public(rows[0])


def list_requests(store, principal: Principal, *, status: str | None = None) -> list[dict]:
    """The principal's own requests and those on datasets of organisations it administers."""
    if principal.user_id is None and not principal.is_platform_admin:
        raise Unauthorized("sign in to see access requests")
    where, params = ["true"], []
    if not principal.is_platform_admin:
        admin_orgs = [o for o, role in principal.roles.items() if role == "admin"]
        marks = ", ".join("?" for _ in admin_orgs) or "NULL"
        where.append(f"(r.user_id = ? OR d.owner_org_id IN ({marks}))")
        params += [principal.user_id, *admin_orgs]
    if status:
        where.append("r.status = ?")
        params.append(status)
    return [_public(r) for r in
            store.dicts(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY r.id", params)]


def _pending(store, principal: Principal, request_id: int) -> dict:
    rows = store.dicts(f"{_SELECT} WHERE r.id = ?", [request_id])
    if not rows or not _may_see(principal, rows[0]):
        raise NotFound(f"no access request {request_id}")
    row = rows[0]
    ds_id = store.scalar("SELECT dataset_id FROM access_requests WHERE id = ?", [request_id])
    require_admin(store, principal, ds_id)
    if row["status"] != "pending":
        raise Conflict(f"access request {request_id} is {row['status']} already")
    return row | {"_dataset_id": ds_id}


def approve_request(store, principal: Principal, request_id: int, *,
                    ends_at: datetime | None = None, precise: bool = False,
                    note: str | None = None) -> dict:
    """Approve: a grant to the requester's organisation, ending at `ends_at` if given."""
    row = _pending(store, principal, request_id)
    grant = add_grant(store, principal, row["_dataset_id"], org=row["organisation"],
                      precise=precise, ends_at=ends_at, access_request_id=request_id)
    store.execute(
        "UPDATE access_requests SET status = 'approved', decided_at = now(), decided_by = ?,"
        " decision_note = ?, grant_id = ? WHERE id = ?",
        [principal.user_id, note, grant["id"], request_id])
    return get_request(store, principal, request_id)


def decline_request(store, principal: Principal, request_id: int, *,
                    note: str | None = None) -> dict:
    _pending(store, principal, request_id)
    store.execute(
        "UPDATE access_requests SET status = 'declined', decided_at = now(), decided_by = ?,"
        " decision_note = ? WHERE id = ?", [principal.user_id, note, request_id])
    return get_request(store, principal, request_id)
