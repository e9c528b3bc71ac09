"""Refusals of the "my organisation" and upload forms, for people and for programs.

A browser that submits a form gets the page again, with the status of the refusal and a message
in the page's language (the service's own English detail stays beside it, marked as data); a
client that asks for JSON (and not HTML) gets the same RFC 9457 problem+json as from the API.

Forms must never meet FastAPI's own validation (a JSON 422 before the handler runs), so the
routes take their fields and path values as plain text and check them here or in the services;
and the session's CSRF check, which runs as a dependency, is caught by `form_principal` so that
its refusal can be shown on the page too (the change itself is not made).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ecobridge.api.deps import get_principal
from ecobridge.errors import (
    Conflict,
    EcobridgeError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from ecobridge.governance import Principal
from ecobridge.governance.sessions import SESSION_COOKIE, csrf_for_session, principal_from_session
from ecobridge.web.render import translate

SLUG = r"[a-z0-9][a-z0-9._-]{0,62}"
MAX_ID = 2**53


def _(message: str) -> str:
    """Marks interface text for the catalogues; translated at display by `translate`."""
    return message


FIELDS = {
    "visibility": _("Choose who may see the dataset from the list."),
    "embargo_until": _("Enter the end of the embargo as a date (YYYY-MM-DD)."),
    "ends_at": _("Enter the end of the grant as a date (YYYY-MM-DD)."),
    "generalise_km": _("Enter the size of the grid cell in kilometres, as a number."),
    "grantee": _("Enter an organisation's short name or a country's three-letter code."),
    "country": _("Enter an organisation's short name or a country's three-letter code."),
    "org": _("Enter an organisation's short name or a country's three-letter code."),
    "name": _("A token name has at most 200 characters."),
    "days": _("Enter how many days the token lives, as a number."),
    "note": _("The note is too long or holds characters that are not allowed."),
    "dataset": _("Choose one of your datasets."),
    "file": _("Choose a file to upload."),
    "kind": _("Choose what the file holds from the list."),
    "timezone": _("Enter a time zone such as Asia/Almaty."),
    "mapping": _("The column mapping is not valid YAML or JSON."),
}
CSRF = _("This form has expired. Reload the page and try again.")
BY_CLASS = (
    (Unauthorized, _("Sign in again, then repeat the change.")),
    (Forbidden, _("Your role does not allow this change. Ask an admin of the organisation that "
                  "owns the dataset.")),
    (NotFound, _("It is not there any more, or you may not see it.")),
    (Conflict, _("This was changed already. Reload the page to see what it is now.")),
    (InvalidInput, _("A value in the form is not valid.")),
)
OTHER = _("The change could not be made.")


@dataclass(frozen=True)
class Refusal:
    """What the page shows: the message in the reader's language and the service's detail."""

    message: str
    detail: str
    status: int


class CsrfRefused(Forbidden):
    """The form came without the session's CSRF token (or with a stale one)."""


def refusal(lang: str, exc: EcobridgeError) -> Refusal:
    field = getattr(exc, "field", None)
    if isinstance(exc, CsrfRefused):
        text = CSRF
    elif isinstance(exc, InvalidInput) and field in FIELDS:
        text = FIELDS[field]
    else:
        text = next((m for cls, m in BY_CLASS if isinstance(exc, cls)), OTHER)
    return Refusal(translate(lang, text), exc.detail, exc.status)


def wants_problem(request: Request) -> bool:
    """A program that asks for JSON and not for a page (a browser's form always accepts
    text/html; a bare client's */* gets the page, as before)."""
    accept = request.headers.get("accept", "").lower()
    return "text/html" not in accept and "json" in accept


async def form_principal(request: Request) -> Principal:
    """The principal, as `get_principal` finds it; a refused CSRF check is kept on
    request.state.refused (for the page to show, with a fresh token in its forms) instead of
    answering problem+json, unless the client asked for JSON."""
    request.state.refused = None
    try:
        return await get_principal(request)
    except Forbidden as exc:  # the session's CSRF check: the only Forbidden it raises
        if wants_problem(request):
            raise
        secret = request.cookies.get(SESSION_COOKIE) or ""
        principal = await run_in_threadpool(principal_from_session, request.app.state.store,
                                            secret)
        request.state.principal = principal
        request.state.csrf_token = csrf_for_session(secret)
        request.state.refused = CsrfRefused(exc.detail)
        return principal


FormPrincipalDep = Annotated[Principal, Depends(form_principal)]


def check_refused(request: Request) -> None:
    """Raise the refusal `form_principal` kept, before any change is made."""
    refused = getattr(request.state, "refused", None)
    if refused is not None:
        raise refused


def dataset_ref(value: str) -> str:
    if not re.fullmatch(SLUG, value):
        raise NotFound(f"no dataset {value!r}")
    return value


def number(value: str, what: str) -> int:
    if not value.isdigit() or int(value) < 1 or int(value) > MAX_ID:
        raise NotFound(f"no {what} {value!r}")
    return int(value)


def required(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidInput(f"{field} is required", field=field)
    return value
