"""Sign-in and sign-out pages. The login form is protected by a double-submit CSRF cookie (there
is no session yet); sign-out by the session's own CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.errors import TooManyRequests, Unauthorized
from ecobridge.governance import sessions
from ecobridge.governance.api import client_address, set_session_cookie
from ecobridge.governance.demo_accounts import DEMO_PASSWORD, PLATFORM_ADMIN
from ecobridge.web.render import page_language, render, translate

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only paths on this site: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _render(request: Request, status: int = 200, **context) -> HTMLResponse:
    values = {"error": None, "username": "", "next": "/", **context}
    return render(request, "login.html", status=status, **values)


def _demo_accounts(store) -> dict | None:
    """On a demo deployment (its platform admin is the demo's, still enabled) the form names the
    demo users and their public password (README), so a visitor can try every role; None on any
    other deployment."""
    found = store.one("SELECT 1 FROM users WHERE username = ? AND is_demo"
                      " AND disabled_at IS NULL", [PLATFORM_ADMIN])
    if not found:
        return None
    return {"admin": PLATFORM_ADMIN, "example": "demo-ru-land-of-leopard.analyst",
            "password": DEMO_PASSWORD}


def _login_form(request: Request, store, status: int = 200, **context) -> HTMLResponse:
    token = sessions.new_csrf()
    response = _render(request, status, csrf_token=token, demo=_demo_accounts(store), **context)
    response.set_cookie(sessions.CSRF_COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, store: StoreDep, principal: PrincipalDep,
               next: str = "/") -> Response:
    if principal.authenticated:
        return _render(request)
    return _login_form(request, store, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, store: StoreDep, username: str = Form(""),
                 password: str = Form(""), csrf_token: str = Form(""),
                 next: str = Form("/")) -> Response:
    if not sessions.csrf_matches(request.cookies.get(sessions.CSRF_COOKIE), csrf_token):
        message = translate(page_language(request), "The form expired; please try again.")
        return _login_form(request, store, 403, error=message, username=username,
                           next=_safe_next(next))
    try:
        secret, _ = sessions.login(store, username=username, password=password,
                                   address=client_address(request))
    except TooManyRequests as exc:
        message = translate(page_language(request),
                          "Too many failed attempts. Wait a minute and try again.")
        response = _login_form(request, store, 429, error=message, username=username,
                               next=_safe_next(next))
        response.headers["Retry-After"] = str(exc.extra.get("retry_after", 60))
        return response
    except Unauthorized:
        message = translate(page_language(request), "Wrong username or password.")
        return _login_form(request, store, 401, error=message, username=username,
                           next=_safe_next(next))
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, secret)
    response.delete_cookie(sessions.CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout_submit(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """The CSRF check is in get_principal: a signed-in POST without the token is a 403."""
    sessions.logout(store, request.cookies.get(sessions.SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(request, response, None)
    return response
