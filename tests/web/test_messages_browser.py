"""Issue 23 in a real browser (Debian's Chromium): a form error, a long name, a history date, an unknown page and the login page while logged in read
in Japanese on the portal's own pages; each is saved as a screenshot under /tmp/i18n-shots/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.web.conftest import log_in, portal_site, served_portal, wait

SHOTS = Path("/tmp/i18n-shots")
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[\s,;:'\"()]+[A-Za-z]{2,}){2,}")


@pytest.fixture(scope="module")
def server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    folder = tmp_path_factory.mktemp(f"i18n-browser-{db_kind}")
    with served_portal(db_kind, folder, portal_site(folder), "i18n-portal") as served:
        yield served


def test_a_form_error_is_japanese_and_names_the_field(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    browser.get(f"{base}/packs/new")
    for name, value in (("client", "有限会社 伸和企画"), ("industry", "製造業"), ("revenue", "たくさん"), ("limit", "1億")):
        browser.find_element(By.ID, name).send_keys(value)
    browser.find_element(By.ID, "build").click()
    message = wait(browser).until(ec.presence_of_element_located((By.ID, "message"))).text
    browser.save_screenshot(str(SHOTS / "form_error.png"))
    assert message.startswith("売上高「たくさん」：金額として読めません。入力できる値：") and not ENGLISH.search(message), message
    assert browser.find_element(By.ID, "client").get_attribute("value") == "有限会社 伸和企画"  # the form keeps what was typed


def test_an_unknown_page_is_the_portals_own_404(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    browser.get(f"{base}/no/such/page")
    browser.save_screenshot(str(SHOTS / "404.png"))
    assert browser.find_element(By.ID, "error-heading").text == "ページが見つかりません"
    assert "アドレスが間違っている" in browser.find_element(By.ID, "message").text
    assert browser.find_element(By.ID, "logout")  # still the portal, with the user's menu
    assert "detail" not in browser.page_source and not ENGLISH.search(browser.find_element(By.TAG_NAME, "main").text)


def test_the_login_page_while_logged_in_offers_logout(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    browser.get(f"{base}/login")
    browser.save_screenshot(str(SHOTS / "login_while_logged_in.png"))
    signed_in = browser.find_element(By.ID, "signed-in").text
    assert portal.emails["agent"] in signed_in and "ログインしています" in signed_in
    browser.find_element(By.ID, "logout-here").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "password")))  # logged out: the login form, no CSRF error
    assert "/login" in browser.current_url


def test_the_compliance_pages_read_japanese(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "compliance")
    browser.get(f"{base}/compliance")
    browser.save_screenshot(str(SHOTS / "compliance.png"))
    assert browser.find_element(By.ID, "current-state").text in ("未提出", "審査中", "差戻し")
    missing = browser.find_element(By.ID, "missing").text
    assert "「クーリング・オフ」" in missing and ".yaml" not in missing and "disclosures.items" not in missing
    browser.find_element(By.ID, "compare").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "redline-docx")))
    browser.save_screenshot(str(SHOTS / "compliance_compare.png"))
    assert "wording" not in browser.find_element(By.TAG_NAME, "main").text  # documents named as the portal names them


def test_a_long_name_keeps_the_form_says_why_above_and_beside_the_field(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    browser.get(f"{base}/packs/new")
    for name, value in (("contact", "上"), ("industry", "製造業"), ("revenue", "4.5億"), ("limit", "1億")):
        browser.find_element(By.ID, name).send_keys(value)
    browser.execute_script("document.getElementById('client').value = '株'.repeat(300)")  # past any maxlength the input has
    browser.find_element(By.ID, "build").click()
    message = wait(browser).until(ec.presence_of_element_located((By.ID, "message"))).text
    browser.save_screenshot(str(SHOTS / "pack_long_name.png"))
    # above the form: the catalog's sentence (field, the value cut with its length, the limit); beside the field: the limit
    assert message.startswith("お客様名（会社名）「株") and "（300文字）" in message and "200文字まで" in message, message
    assert not ENGLISH.search(message), message
    assert "お客様名（会社名）は 200 文字まで" in browser.find_element(By.ID, "client-error").text
    assert browser.find_element(By.ID, "revenue").get_attribute("value") == "4.5億"  # the form keeps what was typed


def test_a_history_date_out_of_range_is_said_with_the_range(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    browser.get(f"{base}/history?date=2100-01-01")
    browser.save_screenshot(str(SHOTS / "history_date.png"))
    message = browser.find_element(By.ID, "message").text
    assert message.startswith("作成日「2100-01-01」：検索できる日付の範囲外です") and "2000-01-01 から 2099-12-31" in message, message
    assert not ENGLISH.search(message), message
