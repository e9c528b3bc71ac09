"""The sign-in page names the demo users only on a demo deployment: a visitor of `make demo`
can try every role without reading the README, and no other deployment shows a password."""

from __future__ import annotations

import httpx
from serving import serve

from ecobridge.governance.accounts import create_user
from ecobridge.governance.demo_accounts import DEMO_PASSWORD, PLATFORM_ADMIN, seed_demo_accounts
from web.i18n_check import assert_translated


def test_a_deployment_without_demo_users_shows_no_password(settings, store):
    create_user(store, username=PLATFORM_ADMIN, password="a long password 123",
                is_platform_admin=True)
    with serve(settings, store) as base:
        page = httpx.get(f"{base}/login?lang=en")
    assert page.status_code == 200
    assert "demo-accounts" not in page.text and DEMO_PASSWORD not in page.text


def test_a_demo_deployment_names_its_users_in_every_language(settings, store):
    seed_demo_accounts(store)
    with serve(settings, store) as base:
        pages = {lang: httpx.get(f"{base}/login?lang={lang}") for lang in ("en", "zh", "ru")}
        # the hint is true: the platform admin it names signs in with the password it names
        with httpx.Client(base_url=base) as client:
            form = client.get("/login")
            csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            done = client.post("/login", data={"username": PLATFORM_ADMIN,
                                               "password": DEMO_PASSWORD, "csrf_token": csrf})
    assert done.status_code == 303
    for lang, page in pages.items():
        assert 'id="demo-accounts"' in page.text, lang
        assert DEMO_PASSWORD in page.text and PLATFORM_ADMIN in page.text
        if lang != "en":
            assert_translated(page.text, f"/login?lang={lang}")
