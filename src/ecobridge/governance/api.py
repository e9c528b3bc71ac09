"""HTTP routers of governance: sign-in, tokens, members, dataset policies and grants, access
requests, the audit log. API ingest lives in `monitoring/ingest_api.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ecobridge.api.deps import PrincipalDep, StoreDep, UserDep
from ecobridge.errors import Forbidden, NotFound, TooManyRequests
from ecobridge.governance import accounts, audit, policies, requests, sessions, tokens
from ecobridge.governance.organisations import get_organisation
from ecobridge.governance.policy import Principal

# Free text may hold anything but NUL, which the store refuses.
TEXT = r"^[^\x00]*$"
SLUG = r"^[a-z0-9][a-z0-9._-]{0,62}$"
Id = Annotated[int, Path(ge=1, le=2**53)]
DatasetRef = Annotated[str, Path(pattern=SLUG, description="dataset id or slug")]
OrgRef = Annotated[str, Path(pattern=SLUG, description="organisation id or slug")]

router = APIRouter(prefix="/api/v1", tags=["governance"])


def problem_response(exc: TooManyRequests) -> JSONResponse:
    """429 with Retry-After, which the shared error handler does not set."""
    return JSONResponse(exc.problem(), status_code=exc.status,
                        media_type="application/problem+json",
                        headers={"Retry-After": str(exc.extra.get("retry_after", 60))})


def set_session_cookie(request: Request, response: Response, secret: str | None) -> None:
    secure = request.url.scheme == "https"
    if secret is None:
        response.delete_cookie(sessions.SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                               secure=secure)
        return
    response.set_cookie(sessions.SESSION_COOKIE, secret, max_age=sessions.SESSION_HOURS * 3600,
                        path="/", httponly=True, samesite="lax", secure=secure)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _me(store, principal: Principal, csrf: str | None = None) -> dict:
    orgs = []
    for org_id, role in sorted(principal.roles.items()):
        org = get_organisation(store, org_id)
        orgs.append({"slug": org["slug"], "country": org["country"], "role": role})
    return {"authenticated": principal.authenticated, "username": principal.username,
            "is_platform_admin": principal.is_platform_admin, "via": principal.via,
            "organisations": orgs, "csrf_token": csrf}


# -- sign-in -----------------------------------------------------------------------------------
class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=TEXT)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/auth/login")
def login(body: LoginBody, request: Request, store: StoreDep) -> Response:
    """Start a web session (HttpOnly, SameSite=Lax cookie). Answers the CSRF token that
    cookie-authenticated writes send in X-CSRF-Token. 5 failures in 15 min: 429."""
    try:
        secret, principal = sessions.login(store, username=body.username,
                                           password=body.password,
                                           address=client_address(request))
    except TooManyRequests as exc:
        return problem_response(exc)
    response = JSONResponse(_me(store, principal, sessions.csrf_for_session(secret)))
    set_session_cookie(request, response, secret)
    return response


@router.post("/auth/logout", status_code=204)
def logout(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """End the session (cookie sessions need the CSRF token like every write)."""
    sessions.logout(store, request.cookies.get(sessions.SESSION_COOKIE))
    response = Response(status_code=204)
    set_session_cookie(request, response, None)
    return response


@router.get("/me")
def me(request: Request, store: StoreDep, principal: PrincipalDep) -> dict:
    """Who the API thinks you are, your organisations and roles."""
    return _me(store, principal, getattr(request.state, "csrf_token", None))


# -- tokens ------------------------------------------------------------------------------------
class TokenBody(BaseModel):
    name: str = Field("", max_length=200, pattern=TEXT)
    days: float = Field(tokens.DEFAULT_DAYS, gt=0, le=tokens.MAX_DAYS)


@router.get("/tokens")
def list_tokens(store: StoreDep, principal: UserDep) -> list[dict]:
    """Your API tokens (prefix, name, expiry; never the secret)."""
    return tokens.list_tokens(store, principal)


@router.post("/tokens", status_code=201)
def create_token(body: TokenBody, store: StoreDep, principal: UserDep) -> dict:
    """A new token for yourself. The `token` field is shown this once and never again."""
    if principal.user_id is None:
        raise Forbidden("the operator has no account to hold tokens")
    return tokens.create_token(store, user=principal.user_id, name=body.name, days=body.days)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: Id, store: StoreDep, principal: UserDep) -> Response:
    """Revoke one of your tokens; it fails with 401 from the next request on."""
    tokens.revoke_token(store, principal, token_id)
    return Response(status_code=204)


# -- members -----------------------------------------------------------------------------------
class MemberBody(BaseModel):
    username: str = Field(pattern=SLUG)
    role: Literal["admin", "publisher", "analyst", "viewer"]
    password: str | None = Field(None, min_length=accounts.MIN_PASSWORD, max_length=1024)
    display_name: str = Field("", max_length=200, pattern=TEXT)


def _org_admin(store, principal: Principal, org: str) -> dict:
    found = get_organisation(store, org)
    if not principal.is_platform_admin and principal.roles.get(found["id"]) != "admin":
        raise Forbidden(f"only admins of {found['slug']!r} manage its members")
    return found


@router.get("/organisations/{org}/users")
def list_members(org: OrgRef, store: StoreDep, principal: UserDep) -> list[dict]:
    """Members of an organisation and their roles (organisation admins only)."""
    return accounts.list_users(store, org=_org_admin(store, principal, org)["id"])


@router.post("/organisations/{org}/users", status_code=201)
def add_member(org: OrgRef, body: MemberBody, store: StoreDep, principal: UserDep) -> dict:
    """Give a user a role here; with a password, create the user first if it is new."""
    found = _org_admin(store, principal, org)
    try:
        accounts.get_user(store, body.username)
    except NotFound:
        if body.password is None:
            raise
        accounts.create_user(store, username=body.username, password=body.password,
                             display_name=body.display_name)
    accounts.set_membership(store, user=body.username, org=found["id"], role=body.role)
    return {"username": body.username, "organisation": found["slug"], "role": body.role}


@router.delete("/organisations/{org}/users/{username}", status_code=204)
def remove_member(org: OrgRef, username: Annotated[str, Path(pattern=SLUG)], store: StoreDep,
                  principal: UserDep) -> Response:
    found = _org_admin(store, principal, org)
    accounts.remove_membership(store, user=username, org=found["id"])
    return Response(status_code=204)


# -- dataset policies and grants ---------------------------------------------------------------
class PolicyBody(BaseModel):
    visibility: Literal["public", "registered", "partners", "private"] | None = None
    embargo_until: datetime | None = Field(None, description="null lifts the embargo")
    sensitive: bool | None = None
    generalise_km: float | None = Field(None, gt=0, le=policies.MAX_GRID_KM)
    licence: str | None = Field(None, pattern=policies.SPDX.pattern, max_length=100)


class GrantBody(BaseModel):
    organisation: str | None = Field(None, pattern=SLUG)
    country: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    precise: bool = False
    ends_at: datetime | None = None


@router.get("/datasets/{dataset}/policy")
def get_policy(dataset: DatasetRef, store: StoreDep, principal: PrincipalDep) -> dict:
    """Visibility, embargo, sensitivity, licence and grants (owner members only)."""
    return policies.get_policy(store, principal, dataset)


@router.patch("/datasets/{dataset}/policy")
def set_policy(dataset: DatasetRef, body: PolicyBody, store: StoreDep,
               principal: UserDep) -> dict:
    """Change a dataset's policy (admins of the owning organisation)."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("visibility", "sensitive", "generalise_km", "licence"):
        if name in changes and changes[name] is None:
            del changes[name]
    return policies.set_policy(store, principal, dataset, **changes)


@router.get("/datasets/{dataset}/grants")
def list_grants(dataset: DatasetRef, store: StoreDep, principal: PrincipalDep) -> list[dict]:
    return policies.list_grants(store, principal, dataset)


@router.post("/datasets/{dataset}/grants", status_code=201)
def add_grant(dataset: DatasetRef, body: GrantBody, store: StoreDep,
              principal: UserDep) -> dict:
    """Open the dataset to an organisation or to every organisation of a country."""
    return policies.add_grant(store, principal, dataset, org=body.organisation,
                              country=body.country, precise=body.precise, ends_at=body.ends_at)


@router.delete("/datasets/{dataset}/grants/{grant_id}", status_code=204)
def revoke_grant(dataset: DatasetRef, grant_id: Id, store: StoreDep,
                 principal: UserDep) -> Response:
    policies.revoke_grant(store, principal, dataset, grant_id)
    return Response(status_code=204)


# -- access requests ---------------------------------------------------------------------------
class RequestBody(BaseModel):
    dataset: str = Field(pattern=SLUG)
    purpose: str = Field(min_length=1, max_length=requests.MAX_PURPOSE, pattern=TEXT)
    organisation: str | None = Field(None, pattern=SLUG)


class DecisionBody(BaseModel):
    ends_at: datetime | None = None
    precise: bool = False
    note: str | None = Field(None, max_length=2000, pattern=TEXT)


@router.get("/access-requests")
def list_requests(store: StoreDep, principal: UserDep,
                  status: Literal["pending", "approved", "declined"] | None = None) -> list[dict]:
    """Your requests, and the requests on datasets of organisations you administer."""
    return requests.list_requests(store, principal, status=status)


@router.post("/access-requests", status_code=201)
def create_request(body: RequestBody, store: StoreDep, principal: UserDep) -> dict:
    """Ask for access to a dataset, for your organisation, with a purpose."""
    return requests.create_request(store, principal, body.dataset, purpose=body.purpose,
                                   org=body.organisation)


@router.get("/access-requests/{request_id}")
def get_request(request_id: Id, store: StoreDep, principal: UserDep) -> dict:
    return requests.get_request(store, principal, request_id)


@router.post("/access-requests/{request_id}/approve")
def approve_request(request_id: Id, body: DecisionBody, store: StoreDep,
                    principal: UserDep) -> dict:
    """Approve: grants the dataset to the requester's organisation until `ends_at`."""
    return requests.approve_request(store, principal, request_id, ends_at=body.ends_at,
                                    precise=body.precise, note=body.note)


@router.post("/access-requests/{request_id}/decline")
def decline_request(request_id: Id, body: DecisionBody, store: StoreDep,
                    principal: UserDep) -> dict:
    return requests.decline_request(store, principal, request_id, note=body.note)


# -- audit -------------------------------------------------------------------------------------
@router.get("/audit")
def read_audit(store: StoreDep, principal: UserDep,
               org: Annotated[str | None, Query(pattern=SLUG)] = None,
               dataset: Annotated[str | None, Query(pattern=SLUG)] = None,
               since: datetime | None = None,
               limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = 100,
               before_id: Annotated[int | None, Query(ge=1, le=2**53)] = None) -> list[dict]:
    """Who read your organisation's datasets, what, when and how many records (admins)."""
    return audit.read_audit(store, principal, org=org, dataset=dataset, since=since,
                            limit=limit, before_id=before_id)


def routers() -> list[APIRouter]:
    """Governance's routers for api/app.py (API ingest is monitoring's: monitoring/ingest_api)."""
    return [router]
