"""Users, their argon2 password hashes and their roles in organisations."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ecobridge.errors import Conflict, InvalidInput, NotFound
from ecobridge.governance.organisations import get_organisation
from ecobridge.governance.policy import Principal

ROLES = ("admin", "publisher", "analyst", "viewer")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verified when the user does not exist, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters",
                           field="password")
    return _hasher.hash(password)


def create_user(store, *, username: str, password: str | None = None, display_name: str = "",
                email: str | None = None, is_platform_admin: bool = False,
                is_demo: bool = False, password_hash: str | None = None) -> int:
    """A new user. `password_hash` (an argon2 hash made by hash_password) stands in for
    `password` where one hash serves many accounts: the demo's, whose password is public."""
    if not USERNAME.match(username):
        raise InvalidInput(f"username {username!r} must be lower-case letters, digits, '.-_'",
                           field="username")
    digest = hash_password(password) if password is not None else password_hash
    if digest is not None and not digest.startswith("$argon2"):
        raise InvalidInput("password_hash must be an argon2 hash", field="password_hash")
    with store.transaction() as cur:
        if cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise Conflict(f"user {username!r} exists already")
        cur.execute(
            "INSERT INTO users (username, display_name, email, password_hash, is_platform_admin,"
            " is_demo) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [username, display_name, email, digest, is_platform_admin, is_demo],
        )
        return cur.fetchone()[0]


def get_user(store, ref: str | int) -> dict:
    column = "id" if isinstance(ref, int) else "username"
    rows = store.dicts(
        "SELECT id, username, display_name, email, is_platform_admin, is_demo, disabled_at,"
        f" created_at FROM users WHERE {column} = ?", [ref])
    if not rows:
        raise NotFound(f"no user {ref!r}")
    return rows[0]


def set_password(store, ref: str | int, password: str) -> None:
    user = get_user(store, ref)
    store.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                  [hash_password(password), user["id"]])


def forget_principals(store) -> None:
    """Drop the cached principals of API tokens: a user, role or token changed."""
    store.memo.pop("token_principals", None)


def set_disabled(store, ref: str | int, disabled: bool) -> None:
    """A disabled user's tokens and sessions stop working at once (checked on every request)."""
    user = get_user(store, ref)
    store.execute("UPDATE users SET disabled_at = CASE WHEN ? THEN now() END WHERE id = ?",
                  [disabled, user["id"]])
    forget_principals(store)


def verify_password(store, username: str, password: str) -> int | None:
    """The user's id if the password is right and the account enabled, else None."""
    row = store.one("SELECT id, password_hash, disabled_at FROM users WHERE username = ?",
                    [username])
    digest = row[1] if row and row[1] else _DUMMY_HASH
    try:
        _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row[1] is None or row[2] is not None:
        return None
    if _hasher.check_needs_rehash(digest):
        store.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                      [_hasher.hash(password), row[0]])
    return row[0]


def set_membership(store, *, user: str | int, org: str | int, role: str) -> None:
    """Give a user a role in an organisation (replacing any role it had there)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    user_id = get_user(store, user)["id"]
    org_id = get_organisation(store, org)["id"]
    with store.transaction() as cur:
        cur.execute("DELETE FROM memberships WHERE user_id = ? AND org_id = ?", [user_id, org_id])
        cur.execute("INSERT INTO memberships (user_id, org_id, role) VALUES (?, ?, ?)",
                    [user_id, org_id, role])
    forget_principals(store)


def remove_membership(store, *, user: str | int, org: str | int) -> None:
    user_id = get_user(store, user)["id"]
    org_id = get_organisation(store, org)["id"]
    store.execute("DELETE FROM memberships WHERE user_id = ? AND org_id = ?", [user_id, org_id])
    forget_principals(store)


def list_users(store, *, org: str | int | None = None) -> list[dict]:
    """Users with their memberships; of one organisation when `org` is given."""
    params: list = []
    where = ""
    if org is not None:
        where = "WHERE m.org_id = ?"
        params.append(get_organisation(store, org)["id"])
    return store.dicts(
        "SELECT u.id, u.username, u.display_name, u.is_platform_admin, u.is_demo,"
        " u.disabled_at IS NOT NULL AS disabled, o.slug AS organisation, m.role"
        " FROM users u LEFT JOIN memberships m ON m.user_id = u.id"
        " LEFT JOIN organisations o ON o.id = m.org_id"
        f" {where} ORDER BY u.username, o.slug", params)


def load_principal(store, user_id: int, *, via: str | None = None) -> Principal:
    """The Principal of an enabled user, with its roles and its organisations' countries."""
    user = store.one("SELECT username, is_platform_admin FROM users"
                     " WHERE id = ? AND disabled_at IS NULL", [user_id])
    if user is None:
        raise NotFound(f"no enabled user {user_id}")
    rows = store.rows("SELECT m.org_id, m.role, o.country FROM memberships m"
                      " JOIN organisations o ON o.id = m.org_id WHERE m.user_id = ?", [user_id])
    return Principal(user_id=user_id, username=user[0], roles={r[0]: r[1] for r in rows},
                     countries=frozenset(r[2] for r in rows), is_platform_admin=bool(user[1]),
                     via=via, store=store)


def principal_for(store, username: str) -> Principal:
    """The Principal of a user by name: the CLI's `--as USER`."""
    return load_principal(store, get_user(store, username)["id"])
