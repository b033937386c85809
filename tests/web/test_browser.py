"""The portal in a real browser: Debian's Chromium driven by Debian's chromedriver (Selenium 4), offline, on 127.0.0.1.

Scenarios from issue 11: log in; quote and see the ladder change as one types; build a pack and download it; upload a
list with bad rows and see the errors table; an agent of another agency cannot open that pack; log out. Every page is
saved as a screenshot under /tmp/portal-shots/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.seed import seed_limits, seed_tables
from tests.web.conftest import log_in, portal_site, served_portal, start_chromium, wait

pytestmark = pytest.mark.libreoffice  # the build scenario converts with the real LibreOffice

SHOTS = Path("/tmp/portal-shots")
CLIENT, CONTACT = "株式会社 ブラウザ & テスト", "鈴木"
OKU, MAN = 100_000_000, 10_000


def seed_premium(code: str, revenue: int, limit: int) -> int:
    row = next(r for r in seed_tables()[code] if r[0] < revenue <= r[1])
    return row[2][seed_limits().index(limit)]


@pytest.fixture(scope="module")
def server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """uvicorn serving a live portal on 127.0.0.1:<free port> in a thread; the screenshot folder emptied."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    folder = tmp_path_factory.mktemp(f"browser-{db_kind}")
    with served_portal(db_kind, folder, portal_site(folder), "uvicorn-test") as served:
        yield served


def shot(driver: webdriver.Chrome, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def first_premium_cell(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#ladder-table tbody tr td.num").text


STATE: dict[str, object] = {}


def test_log_in(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    browser.get(f"{base}/history")
    assert "/login" in browser.current_url  # not logged in: the login page, not the history
    shot(browser, "01_login")
    browser.find_element(By.ID, "email").send_keys(portal.emails["agent"])
    browser.find_element(By.ID, "password").send_keys("wrong password!")
    browser.find_element(By.ID, "login").click()
    wait(browser).until(lambda d: d.find_elements(By.ID, "message"))  # the refused login's page, not the form it replaced
    assert "パスワードが違います" in browser.find_element(By.ID, "message").text
    shot(browser, "02_login_failed")
    log_in(browser, base, portal, "agent")
    assert browser.current_url.endswith("/quote")
    assert "さくら保険サービス株式会社" in browser.find_element(By.CSS_SELECTOR, ".who").text


def test_quote_ladder_changes_as_one_types(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, _portal = server
    browser.get(f"{base}/quote")
    shot(browser, "03_quote_empty")
    browser.find_element(By.ID, "industry").send_keys("製造業")
    browser.find_element(By.ID, "revenue").send_keys("4.5億")
    # no button pressed: htmx fetches the ladder while typing
    expected = f"{seed_premium('D01', 450_000_000, 10_000_000):,}円"
    wait(browser).until(lambda d: d.find_elements(By.ID, "ladder-table") and first_premium_cell(d) == expected)
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#ladder-table td.num")]
    assert cells == [f"{seed_premium('D01', 450_000_000, li):,}円" for li in seed_limits()]
    shot(browser, "04_quote_ladder")
    revenue = browser.find_element(By.ID, "revenue")
    revenue.clear()
    revenue.send_keys("8億")
    expected = f"{seed_premium('D01', 800_000_000, 10_000_000):,}円"
    wait(browser).until(lambda d: first_premium_cell(d) == expected)
    shot(browser, "05_quote_ladder_changed")
    revenue.clear()
    revenue.send_keys("200億")
    wait(browser).until(lambda d: d.find_elements(By.ID, "quote-message"))
    assert "引受不可" in browser.find_element(By.ID, "quote-message").text
    shot(browser, "06_quote_refused")


def test_build_a_pack_and_download_it(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    browser.get(f"{base}/packs/new")
    for field, value in {"client": CLIENT, "contact": CONTACT, "industry": "製造業", "revenue": "4.5億", "limit": "1億"}.items():
        browser.find_element(By.ID, field).send_keys(value)
    shot(browser, "07_pack_form")
    browser.find_element(By.ID, "build").click()
    wait(browser, 10).until(lambda d: "/jobs/" in d.current_url or "/packs/" in d.current_url)
    if "/jobs/" in browser.current_url:
        shot(browser, "08_job_progress")
    wait(browser, 240).until(lambda d: re.search(r"/packs/[0-9a-f]{32}$", d.current_url))  # htmx polls, then goes to the pack
    premium = f"{seed_premium('D01', 450_000_000, OKU):,}円"
    assert browser.find_element(By.ID, "pack-premium").text == premium
    assert browser.find_element(By.ID, "pack-client").text == f"{CLIENT} {CONTACT} 様"
    time.sleep(1.5)  # let the preview frame paint before the screenshot
    shot(browser, "09_pack_preview")
    STATE["pack_url"] = browser.current_url
    browser.find_element(By.ID, "download-pdf").click()
    deadline = time.monotonic() + 60
    while not (done := [p for p in browser.downloads.iterdir() if p.suffix == ".pdf"]):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the PDF was not downloaded"
        time.sleep(0.2)
    text = subprocess.run(["pdftotext", str(done[0]), "-"], capture_output=True, text=True, check=True, timeout=60).stdout
    squashed = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", f"{CLIENT} {CONTACT} 様") in squashed and premium in squashed


UPLOAD = (
    "client,contact,industry,revenue,limit\n"
    "株式会社 一括,田中,製造業,4.5億,1億\n"
    "株式会社 不明,,宇宙産業,4.5億,1億\n"  # row 3: not an industry of the rate table
    "株式会社 大口,,製造業,4.5億,5億\n"  # row 4: over the highest limit
)


def test_upload_with_bad_rows_shows_the_errors_table(server, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, _portal = server
    path = tmp_path / "clients.csv"
    path.write_text(UPLOAD, encoding="utf-8")
    browser.get(f"{base}/uploads/new")
    shot(browser, "10_upload_form")
    browser.find_element(By.ID, "file").send_keys(str(path))
    browser.find_element(By.ID, "upload").click()
    table = wait(browser).until(ec.presence_of_element_located((By.ID, "errors-table")))
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert [r[:3] for r in rows] == [["3", "業種", "宇宙産業"], ["4", "賠償保険金額", "5億"]]  # columns as the list's headers name them
    assert browser.find_element(By.ID, "good-rows").text == "1"
    shot(browser, "11_upload_errors")
    browser.find_element(By.ID, "build-list").click()
    wait(browser, 240).until(lambda d: d.find_elements(By.ID, "job-packs"))
    assert "株式会社 一括" in browser.find_element(By.ID, "job-packs").text
    shot(browser, "12_list_result")
    browser.get(f"{base}/history")
    shot(browser, "13_history")
    assert CLIENT in browser.find_element(By.ID, "history").text


def test_other_agency_gets_404_then_log_out(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    assert "pack_url" in STATE, "the build scenario must run first"
    log_in(browser, base, portal, "other_agent")
    browser.get(str(STATE["pack_url"]))
    assert browser.find_element(By.TAG_NAME, "h1").text == "ページが見つかりません"  # the portal's own page, not JSON
    assert CLIENT not in browser.page_source
    shot(browser, "14_other_agency_404")
    browser.get(f"{base}/history")
    assert CLIENT not in browser.find_element(By.ID, "history").text
    browser.find_element(By.ID, "logout").click()
    wait(browser).until(lambda d: d.current_url.endswith("/login"))
    shot(browser, "15_logged_out")
    browser.get(str(STATE["pack_url"]))
    assert "/login" in browser.current_url


@pytest.fixture(scope="module")
def browser_without_js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """The same Chromium with JavaScript switched off: htmx is only an enhancement, the pages must work without it."""
    driver = start_chromium(tmp_path_factory.mktemp("chromium-nojs"), {"profile.managed_default_content_settings.javascript": 2})
    try:
        yield driver
    finally:
        driver.quit()


def test_pages_work_without_javascript(server, browser_without_js) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    driver = browser_without_js
    log_in(driver, base, portal, "agent")
    driver.get(f"{base}/quote")
    driver.find_element(By.ID, "industry").send_keys("製造業")
    driver.find_element(By.ID, "revenue").send_keys("4.5億")
    time.sleep(1)
    assert not driver.find_elements(By.ID, "ladder-table")  # nothing fetched while typing: no script runs
    driver.find_element(By.ID, "quote").click()  # the plain form submit renders the ladder on the server
    cells = [td.text for td in wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ladder-table td.num"))]
    assert cells == [f"{seed_premium('D01', 450_000_000, li):,}円" for li in seed_limits()]
    shot(driver, "16_nojs_quote")
    driver.get(f"{base}/packs/new?industry=製造業&revenue=4.5億&limit=1億")
    driver.find_element(By.ID, "client").send_keys("株式会社 スクリプトなし")
    driver.find_element(By.ID, "build").click()
    # the job page refreshes itself with <noscript><meta refresh> until the pack is there
    wait(driver, 240).until(lambda d: re.search(r"/packs/[0-9a-f]{32}$", d.current_url))
    assert driver.find_element(By.ID, "pack-client").text == "株式会社 スクリプトなし 御中"
    shot(driver, "17_nojs_pack")
