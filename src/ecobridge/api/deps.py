"""Per-request dependencies shared by all routers: the store and the Principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ecobridge.governance import ANONYMOUS, Principal
from ecobridge.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_principal(request: Request) -> Principal:
    """Who is asking. Accounts and tokens resolve here (governance issue); anonymous until then."""
    return ANONYMOUS


StoreDep = Annotated[Store, Depends(get_store)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
