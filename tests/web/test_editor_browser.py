"""Issue 27 in Chromium (Debian's, offline, 127.0.0.1) with the real job worker and LibreOffice.

Marketing starts a draft of revision 2027-04, rewords an exclusion and changes one premium cell, sees the field check in
Japanese beside the cell and the brochure pages the change is on, saves, submits. Compliance sees the redline with
exactly those two changes and approves: the draft is merged, `git log` shows marketing's commits, the published
brochure of 2027-04 is built with the change, and an agent's quote from 2027-04-01 uses the new premium (before it:
the old one). Screenshots: /tmp/editor-*.png.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from sqlalchemy import select

from generator.store.audit import AuditEntry
from tests.web.conftest import log_in, served_portal, wait
from tests.web.editor_kit import REVISION, editable_site, git_log

pytestmark = pytest.mark.libreoffice
OLD_WORDING = "販売分析、販売予測または財務分析の過誤に起因する損害賠償請求"
NEW_WORDING = "販売分析、販売予測、財務分析または需要予測の過誤に起因する損害賠償請求"
CELL_ID = "rates-classes-0-premiums-0-0"  # D01 (製造業…), 売上高5億円以下, 賠償1,000万円: 55,000円 in the seed
OLD_PREMIUM, NEW_PREMIUM = 55000, 57000
NUMBER = "CL-EDITOR-2027-001"
STATE: dict = {}


@pytest.fixture(scope="module")
def server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    folder = tmp_path_factory.mktemp(f"editor-browser-{db_kind}")
    with served_portal(db_kind, folder, editable_site(folder, rates_version=REVISION), "uvicorn-editor") as served:
        yield served


def shot(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    driver.execute_script("document.body.style.zoom = '1'")
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(1100, height + 40), 6000))
    driver.save_screenshot(f"/tmp/editor-{name}.png")
    driver.set_window_size(1280, 1100)


def type_into(driver, element_id: str, text: str) -> None:  # type: ignore[no-untyped-def]
    field = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
    field.clear()
    field.send_keys(text)
    driver.find_element(By.TAG_NAME, "h1").click()  # leaving the field: its change event sends the live check


def inserted(driver, row_id: str) -> str:  # type: ignore[no-untyped-def]
    """The wording a redline row marks as inserted (the diff splits it where the old wording runs through it)."""
    return "".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, f"#{row_id} ins"))


def slot_text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, "p-" + element_id).text


def test_marketing_starts_a_draft_and_rewords_an_exclusion(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "marketing")
    browser.get(f"{base}/editor")
    assert browser.find_element(By.ID, "revision").get_attribute("value") == REVISION
    browser.find_element(By.ID, "title").send_keys("除外条項と保険料の見直し")
    shot(browser, "01-drafts")
    browser.find_element(By.ID, "start").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "sections")))
    STATE["draft"] = int(browser.current_url.rsplit("/", 1)[1])
    shot(browser, "02-draft")
    browser.find_element(By.ID, "section-exclusions").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "EXC-LIA-04")))
    assert browser.find_element(By.ID, "exclusions-groups-0-items-3-text").get_attribute("value") == OLD_WORDING
    # a numbered start is refused beside the field by the live check (docgen validate's rule), in Japanese
    type_into(browser, "exclusions-groups-0-items-3-text", "① " + NEW_WORDING)
    wait(browser).until(lambda d: "番号" in slot_text(d, "exclusions-groups-0-items-3-text"))
    shot(browser, "03-exclusion-check")
    type_into(browser, "exclusions-groups-0-items-3-text", NEW_WORDING)
    wait(browser).until(lambda d: "問題は見つかりませんでした" in d.find_element(By.ID, "check-result").text)
    assert slot_text(browser, "exclusions-groups-0-items-3-text") == ""
    browser.find_element(By.ID, "save").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "notice")))
    assert browser.find_element(By.ID, "exclusions-groups-0-items-3-text").get_attribute("value") == NEW_WORDING


def test_a_second_person_saving_the_same_field_is_told_which(server, browser) -> None:  # type: ignore[no-untyped-def]
    from generator.api import drafts
    from tests.web.conftest import post

    base, portal = server
    browser.get(f"{base}/editor/drafts/{STATE['draft']}/sections/exclusions")  # the form, opened at the draft's head
    admin = portal.client("admin")  # someone else saves the same field meanwhile
    head = drafts.content_repo(portal.site).draft(STATE["draft"]).head
    r = post(admin, f"/editor/drafts/{STATE['draft']}/sections/exclusions", opened_at=head, **{"exclusions.groups[0].items[3].text": "管理者の文言"})
    assert r.status_code == 303
    type_into(browser, "exclusions-groups-0-items-3-text", NEW_WORDING + "（再）")
    browser.find_element(By.ID, "save").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "conflicts")))
    said = browser.find_element(By.ID, "conflicts").text
    assert "EXC-LIA-04 グループ1 › 項目4 › 文言" in said and "admin" in said and "管理者の文言" in said
    assert browser.find_element(By.ID, "exclusions-groups-0-items-3-text").get_attribute("value") == NEW_WORDING + "（再）"  # kept
    shot(browser, "03b-conflict")
    type_into(browser, "exclusions-groups-0-items-3-text", NEW_WORDING)  # decided: the wording as planned, over admin's
    browser.find_element(By.ID, "save").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "notice")))
    assert browser.find_element(By.ID, "exclusions-groups-0-items-3-text").get_attribute("value") == NEW_WORDING


def test_marketing_changes_one_premium_cell_and_sees_the_field_check(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, _portal = server
    browser.get(f"{base}/editor/drafts/{STATE['draft']}/sections/rates")
    assert browser.find_element(By.ID, CELL_ID).get_attribute("value") == str(OLD_PREMIUM)
    type_into(browser, CELL_ID, "5.7万")
    wait(browser).until(lambda d: "55000" in slot_text(d, CELL_ID))  # "…円の整数ではありません。55000 のように…"
    assert "円" in slot_text(browser, CELL_ID)
    shot(browser, "04-premium-check")
    type_into(browser, CELL_ID, "80001")  # above the next limit's premium in its band (80,000円): the rate table's own check
    wait(browser).until(lambda d: "80000" in slot_text(d, "rates-classes-0-premiums-0-1"))
    shot(browser, "05-premium-order-check")
    type_into(browser, CELL_ID, str(NEW_PREMIUM))
    wait(browser).until(lambda d: "問題は見つかりませんでした" in d.find_element(By.ID, "check-result").text)
    browser.find_element(By.ID, "save").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "notice")))
    assert browser.find_element(By.ID, CELL_ID).get_attribute("value") == str(NEW_PREMIUM)
    shot(browser, "06-rates-saved")


def test_marketing_sees_the_preview_and_submits(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, _portal = server
    browser.get(f"{base}/editor/drafts/{STATE['draft']}/review")  # lays out the draft's brochure (LibreOffice)
    wait(browser, 300).until(ec.presence_of_element_located((By.ID, "pages")))
    assert "需要予測" in inserted(browser, "clause-EXC-LIA-04")
    pages = browser.find_elements(By.CSS_SELECTOR, "#pages img")
    assert pages and all(browser.execute_script("return arguments[0].naturalWidth", img) > 300 for img in pages)
    shot(browser, "07-preview")
    browser.find_element(By.ID, "submit").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "pending")))
    shot(browser, "08-submitted")


def test_compliance_sees_exactly_the_two_changes_and_approves(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "compliance")
    browser.get(f"{base}/editor/drafts/{STATE['draft']}/review")
    wait(browser, 300).until(ec.presence_of_element_located((By.ID, "approve")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#clauses tbody tr")
    assert [r.get_attribute("id") for r in rows] == ["clause-EXC-LIA-04"]
    assert "需要予測" in inserted(browser, "clause-EXC-LIA-04")
    cells = browser.find_elements(By.CSS_SELECTOR, "#cells li")
    assert len(cells) == 1 and "55,000" in cells[0].text and "57,000" in cells[0].text, [c.text for c in cells]
    shot(browser, "09-compliance-review")
    browser.get(f"{base}/editor/drafts/{STATE['draft']}/sections/exclusions")
    assert browser.find_elements(By.ID, "read-only") and not browser.find_elements(By.ID, "save")
    shot(browser, "09b-compliance-reads-the-form")
    browser.get(f"{base}/editor/drafts/{STATE['draft']}/review")
    browser.find_element(By.ID, "approval_number").send_keys(NUMBER)
    browser.find_element(By.ID, "approve").click()
    wait(browser).until(lambda d: "承認・反映済み" in d.find_element(By.ID, "draft-state").text)
    deadline = time.monotonic() + 900
    while "作成済み" not in browser.find_element(By.ID, "build-state").text:  # docgen build of the merged content
        assert "失敗" not in browser.find_element(By.ID, "build-state").text
        assert time.monotonic() < deadline, "the outputs were not built in 15 minutes"
        time.sleep(5)
        browser.refresh()
    shot(browser, "10-approved-built")


def test_git_log_shows_the_authors_commits_merged(server) -> None:  # type: ignore[no-untyped-def]
    _base, portal = server
    log = git_log(portal.site, "--format=%an <%ae>|%cn|%s", "-3")
    assert f"marketing <{portal.emails['marketing']}>|docgen portal|rates.yaml" in log
    assert f"marketing <{portal.emails['marketing']}>|docgen portal|exclusions.yaml: exclusions.groups[0].items[3].text" in log
    revision_file = portal.site.content / "cyber_lite" / "revisions" / REVISION / "exclusions.yaml"
    assert NEW_WORDING in revision_file.read_text(encoding="utf-8")  # merged: the working tree is the approved draft
    assert subprocess.run(["git", "-C", str(portal.site.content), "status", "--porcelain", "content"], capture_output=True, text=True).stdout == ""


def test_the_published_brochure_carries_the_change(server) -> None:  # type: ignore[no-untyped-def]
    _base, portal = server
    (pdf,) = sorted((portal.site.outputs / "revisions" / REVISION / "brochure").glob("*.pdf"))
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)
    assert "需要予測" in text and "57,000" in text
    assert NUMBER in text  # printed as approved
    (first,) = sorted((portal.site.outputs / "brochure").glob("*.pdf"))  # revision 2026-12 is unchanged
    first_text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(first), "-"], capture_output=True, text=True, check=True).stdout)
    assert "需要予測" not in first_text and "55,000" in first_text
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), "/tmp/editor-published"], check=True, timeout=120)


def test_an_agents_next_quote_uses_it_from_its_effective_date(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    premiums = {}
    for start in ("2027-03-31", "2027-04-01"):
        browser.get(f"{base}/quote?industry=製造業&revenue=4.5億&limit=10000000&start={start}")
        wait(browser).until(ec.presence_of_element_located((By.ID, "ladder-table")))
        premiums[start] = int(browser.find_element(By.CSS_SELECTOR, "#ladder-table tr.selected td.num").get_attribute("data-premium"))
    assert premiums == {"2027-03-31": OLD_PREMIUM, "2027-04-01": NEW_PREMIUM}
    assert NUMBER in browser.find_element(By.ID, "quote-revision").text
    shot(browser, "11-agent-quote")
    browser.get(f"{base}/editor")  # agents never see drafts
    assert "除外条項と保険料の見直し" not in browser.page_source and "404" in browser.title + browser.page_source


def test_every_action_is_in_the_audit_log(server) -> None:  # type: ignore[no-untyped-def]
    from generator.store.audit import verify

    _base, portal = server
    with portal.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert verify(s) == []
    for needed in ("draft.start", "draft.check", "draft.save", "draft.submit", "submit", "approve", "draft.merge", "outputs.build"):
        assert needed in actions, actions
    assert Path("/tmp/editor-07-preview.png").is_file()
