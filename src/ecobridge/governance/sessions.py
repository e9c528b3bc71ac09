"""Web sessions, CSRF tokens and login throttling.

The session cookie holds a random value; the database keeps only its SHA-256. The CSRF token of a
session is derived from the cookie's value (a synchronizer token that needs no storage): a page
on another site can neither read the cookie nor compute the token. Before a session exists (the
login form) a double-submit cookie does the same job.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from ecobridge.errors import TooManyRequests, Unauthorized
from ecobridge.governance.accounts import load_principal, verify_password
from ecobridge.governance.policy import Principal
from ecobridge.governance.tokens import sha256

SESSION_COOKIE = "ecobridge_session"
CSRF_COOKIE = "ecobridge_csrf"      # double submit, for forms shown before signing in
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_HOURS = 12
MAX_FAILURES = 5
WINDOW_MINUTES = 15


def csrf_for_session(secret: str) -> str:
    return hmac.new(secret.encode(), b"csrf", hashlib.sha256).hexdigest()


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def check_throttle(store, *, username: str, address: str) -> None:
    """TooManyRequests (with retry_after seconds) after MAX_FAILURES failed logins within
    WINDOW_MINUTES for this username or from this address."""
    since = datetime.now(UTC) - timedelta(minutes=WINDOW_MINUTES)
    for column, value in (("username", username), ("address", address)):
        row = store.one(
            "SELECT count(*), min(attempted_at) FROM login_attempts"
            f" WHERE {column} = ? AND NOT success AND attempted_at > ?", [value, since])
        if row[0] >= MAX_FAILURES:
            wait = row[1] + timedelta(minutes=WINDOW_MINUTES) - datetime.now(UTC)
            retry = max(1, int(wait.total_seconds()) + 1)
            raise TooManyRequests(
                f"too many failed sign-ins for this {column}; try again in {retry} s",
                retry_after=retry)


def login(store, *, username: str, password: str, address: str) -> tuple[str, Principal]:
    """Check the password under the throttle; return a new session's cookie value."""
    username = (username or "").strip().lower()
    check_throttle(store, username=username, address=address)
    user_id = verify_password(store, username, password or "")
    with store.transaction() as cur:
        cur.execute("INSERT INTO login_attempts (username, address, success) VALUES (?, ?, ?)",
                    [username, address, user_id is not None])
        # Old rows only feed the throttle window; keep the table small.
        cur.execute("DELETE FROM login_attempts WHERE attempted_at < ?",
                    [datetime.now(UTC) - timedelta(days=1)])
    if user_id is None:
        raise Unauthorized("wrong username or password")
    secret = secrets.token_urlsafe(32)
    store.execute("INSERT INTO sessions (sha256, user_id, expires_at) VALUES (?, ?, ?)",
                  [sha256(secret), user_id,
                   datetime.now(UTC) + timedelta(hours=SESSION_HOURS)])
    return secret, load_principal(store, user_id, via="session")


def principal_from_session(store, secret: str) -> Principal:
    row = store.one(
        "SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.sha256 = ? AND s.revoked_at IS NULL AND s.expires_at > now()"
        " AND u.disabled_at IS NULL", [sha256(secret)])
    if row is None:
        raise Unauthorized("your session has ended; sign in again")
    return load_principal(store, row[0], via="session")


def logout(store, secret: str | None) -> None:
    if secret:
        store.execute("UPDATE sessions SET revoked_at = now() WHERE sha256 = ?"
                      " AND revoked_at IS NULL", [sha256(secret)])
