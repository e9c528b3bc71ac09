"""Demo users: one per role for each demo organisation, a platform admin, and a registered user
with no organisation. Their password is public (it is listed in the README): demo data only."""

from __future__ import annotations

from ecobridge.governance.accounts import ROLES, hash_password

DEMO_PASSWORD = "ecobridge-demo"
PLATFORM_ADMIN = "platform.admin"
REGISTERED = "registered.user"


def seed_demo_accounts(store, *, password: str = DEMO_PASSWORD) -> list[dict]:
    """Create the demo users (again-safe: existing names are left alone). Returns the table of
    users as {username, organisation, country, role} for the README and the demo report.

    Usernames read `<organisation slug>.<role>`, e.g. `demo-cn-tiger-leopard-park.admin`.
    """
    orgs = store.rows("SELECT id, slug, country FROM organisations WHERE is_demo ORDER BY slug")
    made = [{"username": PLATFORM_ADMIN, "organisation": None, "country": None,
             "role": "platform admin"},
            {"username": REGISTERED, "organisation": None, "country": None,
             "role": "registered"}]
    members = []
    for org_id, slug, country in orgs:
        for role in ROLES:
            made.append({"username": f"{slug}.{role}", "organisation": slug,
                         "country": country, "role": role})
            members.append((f"{slug}.{role}", org_id, role))
    existing = {u for (u,) in store.rows("SELECT username FROM users")}
    # One argon2 hash for all: the password is public, and 70-odd hashes would slow the build.
    digest = hash_password(password)
    with store.transaction() as cur:
        for row in made:
            if row["username"] in existing:
                continue
            cur.execute(
                "INSERT INTO users (username, display_name, password_hash, is_platform_admin,"
                " is_demo) VALUES (?, ?, ?, ?, true)",
                [row["username"], f"{row['role']} ({row['organisation'] or 'demo'})", digest,
                 row["username"] == PLATFORM_ADMIN])
        for username, org_id, role in members:
            cur.execute(
                "INSERT INTO memberships (user_id, org_id, role)"
                " SELECT u.id, ?, ? FROM users u WHERE u.username = ? AND NOT EXISTS"
                " (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.org_id = ?)",
                [org_id, role, username, org_id])
    return made


def readme_table(rows: list[dict], password: str = DEMO_PASSWORD) -> str:
    """The demo users as Markdown: one line per organisation, one column per role."""
    lines = [f"Every demo user has the password `{password}`.", ""]
    lines += [f"- `{r['username']}`: {r['role']}" for r in rows if r["organisation"] is None]
    lines += ["", "| organisation | country | admin | publisher | analyst | viewer |",
              "|---|---|---|---|---|---|"]
    by_org: dict[str, dict] = {}
    for r in rows:
        if r["organisation"] is not None:
            cells = by_org.setdefault(r["organisation"], {"country": r["country"]})
            cells[r["role"]] = f"`{r['username']}`"
    for org, cells in by_org.items():
        lines.append(f"| {org} | {cells['country']} | "
                     + " | ".join(cells.get(role, "") for role in ROLES) + " |")
    return "\n".join(lines)
