"""Sign-in and sign-out pages. The login form is protected by a double-submit CSRF cookie (there
is no session yet); sign-out by the session's own CSRF token."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ecobridge.api.deps import PrincipalDep, StoreDep
from ecobridge.errors import TooManyRequests, Unauthorized
from ecobridge.governance import sessions
from ecobridge.governance.api import client_address, set_session_cookie

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"
# Used while the site's base.html does not exist: the page still renders on its own.
_FALLBACK_LAYOUT = (
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>{% block title %}{% endblock %}</title></head>"
    "<body><main>{% block content %}{% endblock %}</main></body></html>"
)

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def _safe_next(target: str | None) -> str:
    """Only paths on this site: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _render(request: Request, status: int = 200, **context) -> HTMLResponse:
    layout = ("base.html" if (TEMPLATES / "base.html").is_file()
              else _env.from_string(_FALLBACK_LAYOUT))
    values = {"user": None, "error": None, "username": "", "next": "/", **context}
    html = _env.get_template("login.html").render(request=request, layout=layout, **values)
    return HTMLResponse(html, status_code=status)


def _login_form(request: Request, status: int = 200, **context) -> HTMLResponse:
    token = sessions.new_csrf()
    response = _render(request, status, csrf_token=token, **context)
    response.set_cookie(sessions.CSRF_COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, principal: PrincipalDep, next: str = "/") -> Response:
    if principal.authenticated:
        return _render(request, user=principal.username,
                       csrf_token=request.state.csrf_token or "")
    return _login_form(request, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, store: StoreDep, username: str = Form(""),
                 password: str = Form(""), csrf_token: str = Form(""),
                 next: str = Form("/")) -> Response:
    if not sessions.csrf_matches(request.cookies.get(sessions.CSRF_COOKIE), csrf_token):
        return _login_form(request, 403, error="The form expired; please try again.",
                           username=username, next=_safe_next(next))
    try:
        secret, _ = sessions.login(store, username=username, password=password,
                                   address=client_address(request))
    except TooManyRequests as exc:
        response = _login_form(request, 429, error=exc.detail, username=username,
                               next=_safe_next(next))
        response.headers["Retry-After"] = str(exc.extra.get("retry_after", 60))
        return response
    except Unauthorized as exc:
        return _login_form(request, 401, error=exc.detail, username=username,
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
