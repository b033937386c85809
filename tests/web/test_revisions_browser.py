"""The quote page in Chromium: typing a 保険始期日 re-prices the ladder from the revision in force on it (htmx)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.revisions_kit import NEW_PREMIUM, SECOND, SEED_PREMIUM, add_second_revision, copy_site
from tests.web.conftest import log_in, portal_site, served_portal, wait

SHOTS = Path("/tmp/portal-shots-revisions")


@pytest.fixture(scope="module")
def server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    folder = tmp_path_factory.mktemp(f"revisions-browser-{db_kind}")
    copied = copy_site(folder / "site")
    add_second_revision(copied)
    with served_portal(db_kind, folder, dataclasses.replace(portal_site(folder), content=copied.content), "uvicorn-revisions") as served:
        yield served


def one_oku_premium(driver) -> str:  # type: ignore[no-untyped-def]
    rows = driver.find_elements(By.CSS_SELECTOR, "#ladder-table tbody tr")
    return next(r.find_element(By.CSS_SELECTOR, "td.num").text for r in rows if r.find_element(By.CSS_SELECTOR, "td").text == "1億円")


def set_start(driver, value: str) -> None:  # type: ignore[no-untyped-def]
    field = driver.find_element(By.ID, "start")
    # a date input's typing order follows the browser's locale; the value and its change event are what a user's pick gives
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}))", field, value)


def test_typing_a_start_date_reprices_from_its_revision(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    browser.get(f"{base}/quote")
    browser.find_element(By.ID, "industry").send_keys("製造業")
    browser.find_element(By.ID, "revenue").send_keys("4.5億")
    wait(browser).until(lambda d: d.find_elements(By.ID, "ladder-table"))
    assert one_oku_premium(browser) == f"{SEED_PREMIUM:,}円"
    set_start(browser, "2027-04-01")
    wait(browser).until(lambda d: f"適用改定 {SECOND}" in d.find_element(By.ID, "quote-revision").text)
    assert one_oku_premium(browser) == f"{NEW_PREMIUM:,}円"
    browser.save_screenshot(str(SHOTS / "01_quote_2027-04-01.png"))
    set_start(browser, "2027-03-31")
    wait(browser).until(lambda d: "適用改定 2026-12" in d.find_element(By.ID, "quote-revision").text)
    assert one_oku_premium(browser) == f"{SEED_PREMIUM:,}円"
    browser.save_screenshot(str(SHOTS / "02_quote_2027-03-31.png"))
    browser.get(f"{base}/packs/new?industry=製造業&revenue=4.5億&limit=100000000&start=2027-04-01")
    assert browser.find_element(By.ID, "start").get_attribute("value") == "2027-04-01"
    browser.save_screenshot(str(SHOTS / "03_pack_form.png"))


def test_compliance_sees_the_revisions(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    browser.delete_all_cookies()
    log_in(browser, base, portal, "compliance")
    browser.get(f"{base}/compliance")
    names = [e.get_attribute("data-revision") for e in browser.find_elements(By.CSS_SELECTOR, "#revisions tbody tr")]
    assert names == ["2026-12", SECOND]
    browser.execute_script("document.getElementById('revisions').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "04_compliance_revisions.png"))
