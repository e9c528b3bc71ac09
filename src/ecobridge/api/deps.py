"""Per-request dependencies shared by all routers: the store and the Principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ecobridge.errors import Forbidden, Unauthorized
from ecobridge.governance import ANONYMOUS, Principal
from ecobridge.governance.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_for_session,
    csrf_matches,
    principal_from_session,
)
from ecobridge.governance.tokens import principal_from_token
from ecobridge.store import Store

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_principal(request: Request) -> Principal:
    """Who is asking: a Bearer token, else the session cookie, else anonymous.

    A token that is unknown, expired or revoked is a 401 at once, never a silent fall-back to
    anonymous. So is a stale session cookie on the API; on web pages it reads as signed out.
    A cookie-authenticated request that changes state must carry the session's CSRF token in the
    X-CSRF-Token header or the `csrf_token` form field. Sets request.state.principal and, for a
    session, request.state.csrf_token (for templates).
    """
    store = request.app.state.store
    request.state.csrf_token = None
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use `Authorization: Bearer <token>`")
        principal = await run_in_threadpool(principal_from_token, store, token.strip())
        request.state.principal = principal
        return principal
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        request.state.principal = ANONYMOUS
        return ANONYMOUS
    try:
        principal = await run_in_threadpool(principal_from_session, store, secret)
    except Unauthorized:
        if request.url.path.startswith("/api/"):
            raise
        request.state.principal = ANONYMOUS
        return ANONYMOUS
    expected = csrf_for_session(secret)
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
            given = (await request.form()).get(CSRF_FIELD)
        if not csrf_matches(expected, given if isinstance(given, str) else None):
            raise Forbidden("missing or wrong CSRF token")
    request.state.principal = principal
    request.state.csrf_token = expected
    return principal


def require_user(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A signed-in principal, or 401."""
    if not principal.authenticated:
        raise Unauthorized("sign in or send `Authorization: Bearer <token>`")
    return principal


StoreDep = Annotated[Store, Depends(get_store)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
UserDep = Annotated[Principal, Depends(require_user)]
