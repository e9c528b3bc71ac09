"""API tokens: random, shown once, stored as SHA-256, with an expiry, revocable at once.

A token reads `eb_<prefix>_<secret>`. The prefix finds the row; the SHA-256 of the whole token is
compared in constant time. Tokens carry 256 bits of randomness, so a fast hash is enough (argon2
is for passwords, which people choose). A token's Principal is cached per store by the token's
hash for at most CACHE_SECONDS and never past the token's expiry; revoking the token, disabling
its user or changing the user's memberships clears the cache, so a revoked token is refused on the
next request. (Only the serving process writes the store, so no other process can change these
behind the cache's back.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta

from ecobridge.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from ecobridge.governance.accounts import forget_principals, get_user, load_principal
from ecobridge.governance.policy import Principal

PREFIX = "eb_"
DEFAULT_DAYS = 90
MAX_DAYS = 366
CACHE_SECONDS = 30.0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_token(store, *, user: str | int, name: str = "", days: float = DEFAULT_DAYS,
                 expires_at: datetime | None = None) -> dict:
    """Issue a token. The returned `token` is the only time the secret exists in clear."""
    if expires_at is None:
        if not 0 < days <= MAX_DAYS:
            raise InvalidInput(f"a token lives between 0 and {MAX_DAYS} days", field="days")
        expires_at = datetime.now(UTC) + timedelta(days=days)
    user_id = get_user(store, user)["id"]
    prefix = secrets.token_hex(6)
    token = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with store.transaction() as cur:
        cur.execute("INSERT INTO api_tokens (prefix, sha256, user_id, name, expires_at)"
                    " VALUES (?, ?, ?, ?, ?) RETURNING id",
                    [prefix, sha256(token), user_id, name, expires_at])
        token_id = cur.fetchone()[0]
    return {"id": token_id, "prefix": prefix, "name": name, "expires_at": expires_at,
            "token": token}


def principal_from_token(store, token: str) -> Principal:
    """The token's Principal, or Unauthorized if it is unknown, expired, revoked or disabled."""
    parts = token.split("_", 2) if token.startswith(PREFIX) else []
    if len(parts) != 3:
        raise Unauthorized("malformed API token")
    digest = sha256(token)
    cache = store.memo.setdefault("token_principals", {})
    hit = cache.get(digest)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    row = store.one(
        "SELECT t.sha256, t.user_id, t.revoked_at IS NOT NULL, t.expires_at <= now(),"
        " u.disabled_at IS NOT NULL, epoch(t.expires_at - now()) FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id WHERE t.prefix = ?", [parts[1]])
    if row is None or not hmac.compare_digest(row[0], digest):
        raise Unauthorized("unknown API token")
    if row[2]:
        raise Unauthorized("this API token has been revoked")
    if row[3]:
        raise Unauthorized("this API token has expired")
    if row[4]:
        raise Unauthorized("this account is disabled")
    principal = load_principal(store, row[1], via="token")
    # Remembered by the token's hash (never the token) until it expires, at most CACHE_SECONDS;
    # revoking it, disabling its user or changing the user's roles clears the cache.
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (principal, time.monotonic() + min(CACHE_SECONDS, float(row[5])))
    return principal


def list_tokens(store, principal: Principal, *, user: str | int | None = None) -> list[dict]:
    """A user's own tokens (never the secret); a platform admin may name another user."""
    user_id = principal.user_id
    if user is not None:
        user_id = get_user(store, user)["id"]
        if user_id != principal.user_id and not principal.is_platform_admin:
            raise Forbidden("only platform admins list other users' tokens")
    return store.dicts(
        "SELECT t.id, t.prefix, t.name, u.username, t.created_at, t.expires_at, t.revoked_at,"
        " (t.revoked_at IS NULL AND t.expires_at > now()) AS active"
        " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = ?"
        " ORDER BY t.id", [user_id])


def revoke_token(store, principal: Principal, token_id: int) -> None:
    """Revoke at once: the next request with this token gets 401."""
    row = store.one("SELECT user_id FROM api_tokens WHERE id = ?", [token_id])
    if row is None or (row[0] != principal.user_id and not principal.is_platform_admin):
        raise NotFound(f"no token {token_id}")
    store.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = ?",
                  [token_id])
    forget_principals(store)
