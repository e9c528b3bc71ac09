"""The site as a whole in a real browser: sign in, switch language, nothing fetched from outside."""

from __future__ import annotations

from browser.conftest import check_accessibility, sign_in


def test_sign_in_and_out(page, demo_site):
    sign_in(page, demo_site.url, "demo-kaz-air-agency.publisher")
    assert page.get_by_role("button", name="Sign out").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Sign in").is_visible()


def test_wrong_password_is_refused_in_the_readers_language(page, demo_site):
    page.goto(f"{demo_site.url}/login?lang=ru")
    page.get_by_label("Имя пользователя").fill("demo-kaz-air-agency.publisher")
    page.get_by_label("Пароль").fill("not the password")
    page.get_by_role("button", name="Войти").click()
    assert page.get_by_role("alert").inner_text() == "Неверное имя пользователя или пароль."


def test_language_switcher_is_remembered(page, demo_site):
    page.goto(f"{demo_site.url}/login")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh"
    page.goto(f"{demo_site.url}/login")  # no ?lang= now: the cookie remembers the choice
    assert page.locator("html").get_attribute("lang") == "zh"
    assert page.get_by_role("heading", name="登录").is_visible()


def test_sign_in_page_is_accessible(page, demo_site):
    page.goto(f"{demo_site.url}/login?lang=en")
    check_accessibility(page)
