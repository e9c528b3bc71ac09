"""Browser tests: Playwright for Python driving Debian's Chromium headless against a real server
over a freshly built demo deployment.

- `demo_site` (session): the demo built into a temporary home and served on 127.0.0.1.
- `page`: a new browser context per test; any request to a host other than 127.0.0.1 fails the
  test (the UI must work with no internet); a full-page screenshot is kept in
  test-artifacts/screenshots/<test>.png whatever the outcome.
- `sign_in(page, base_url, username)`: through the real sign-in form, with the demo password.
- `check_accessibility(page)`: axe-core from the npm registry (web-assets/node_modules), failing
  on serious or critical violations.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ecobridge.config import Settings
from ecobridge.demo.build import build_demo
from ecobridge.governance.demo_accounts import DEMO_PASSWORD
from ecobridge.store import open_store

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "web-assets" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# What the machine's closed network needs: no background calls home, no QUIC, fresh profile;
# and no WebUI omnibox popup, which headless Chromium 156 builds in a renderer of its own for
# every new window (each test's context): about 1.4 s of CPU each, none of it the page's.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage",
                 "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup"]
LOCAL_HOSTS = {"127.0.0.1"}

pytestmark = pytest.mark.slow


@dataclass
class DemoSite:
    url: str
    store: object
    settings: Settings


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    from serving import serve

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs it (scripts/ensure-chromium)")
    settings = Settings(home=tmp_path_factory.mktemp("demo") / "home", memory_limit="2GB",
                        threads=2)
    store = open_store(settings)
    build_demo(store)
    with serve(settings, store, max_seconds=1800) as base:
        yield DemoSite(url=base, store=store, settings=settings)
    store.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB",
                                  accept_downloads=True)
    outside: list[str] = []

    def guard(route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    errors: list[str] = []
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
        try:
            pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception:  # a page that crashed still lets the test report its own failure
            pass
        context.close()
    assert not outside, f"requests left 127.0.0.1: {outside[:5]}"
    assert not errors, f"JavaScript errors on the page: {errors[:5]}"


def sign_in(page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real form and land back on the home page."""
    page.goto(f"{base_url}/login?lang=en")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def check_accessibility(page, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core on the current page; fail on violations of the given impacts."""
    if not AXE.is_file():
        pytest.fail(f"axe-core missing at {AXE}: `make test` installs it (npm ci in web-assets)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in result if v["impact"] in impacts]
    assert not bad, "accessibility violations:\n" + "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in bad)
    return result


os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
