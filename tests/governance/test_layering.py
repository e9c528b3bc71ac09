"""Imports flow one way: interfaces (api, web, cli) -> domain services -> governance and store.

Governance sits below every domain package, so no module of it may import one (nor an
interface other than the shared request dependencies its routers use). Read from the source
with `ast`, so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ecobridge

PACKAGE = Path(ecobridge.__file__).parent
ABOVE_GOVERNANCE = ("catalog", "monitoring", "biodiversity", "alerts", "air", "demo", "web",
                    "cli")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_governance_imports_no_domain_package_nor_interface():
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}"
             for path in sorted((PACKAGE / "governance").rglob("*.py"))
             for line, module in _imports(path)
             if module.split(".")[:2][0] == "ecobridge" and len(module.split(".")) > 1
             and module.split(".")[1] in ABOVE_GOVERNANCE]
    assert not wrong, "\n".join(wrong)


def test_upload_routes_are_mounted_from_monitoring():
    """The routes moved, their paths did not."""
    from ecobridge.monitoring import ingest_api

    paths = {(sorted(r.methods)[0], r.path) for r in ingest_api.router.routes}
    assert paths == {("POST", "/api/v1/datasets/{dataset}/ingest"),
                     ("GET", "/api/v1/ingest-runs/{run}")}
