"""Compliance in a real browser (Debian Chromium + chromedriver, offline, 127.0.0.1), with the real job worker.

An agent builds a pack: a draft, watermarked. Marketing submits the content; compliance compares the versions (the
HTML redline), then approves. The agent builds a new pack: the watermark is gone and the footer prints the number.
Screenshots go to /tmp/compliance-shots/ (and the packs' first pages as PNG next to them).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from sqlalchemy import select

from generator.documents.watermark import DRAFT_TEXT
from generator.store.accounts import User
from generator.store.ledger import PackRecord
from tests.web.conftest import approvable_site, log_in, served_portal, wait

pytestmark = pytest.mark.libreoffice
SHOTS = Path("/tmp/compliance-shots")
NUMBER = "CL-BROWSER-2026-001"
STATE: dict = {}


@pytest.fixture(scope="module")
def server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """A live portal on a git-tracked copy of the content whose working tree fills the required disclosures."""
    folder = tmp_path_factory.mktemp(f"compliance-browser-{db_kind}")
    with served_portal(db_kind, folder, approvable_site(folder), "uvicorn-compliance") as served:
        shutil.rmtree(SHOTS, ignore_errors=True)
        SHOTS.mkdir(parents=True)
        yield served


@pytest.fixture(scope="module")
def driver(browser):  # type: ignore[no-untyped-def]
    """Issue 11's headless Chromium (Debian's, offline; tests/web/conftest.py), one for the whole walk."""
    return browser


def shot(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def build_pack(driver, base: str, portal, client: str) -> Path:  # type: ignore[no-untyped-def]
    """The agent's form → job → pack page; returns the stored PDF of the pack (what the download gives)."""
    driver.get(f"{base}/packs/new")
    for field, value in {"client": client, "contact": "上", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}.items():
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "build").click()
    wait(driver, 300).until(lambda d: re.search(r"/packs/[0-9a-f]{32}$", d.current_url))
    pack_id = driver.current_url.rsplit("/", 1)[1]
    with portal.sessions() as s:
        rec = s.scalars(select(PackRecord).where(PackRecord.public_id == pack_id)).one()
        return portal.site.storage / rec.storage_key / "pack.pdf"


def page_text(pdf: Path, page: int | None = None) -> str:
    args = ["pdftotext", *(["-f", str(page), "-l", str(page)] if page else []), str(pdf), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


def first_page_png(pdf: Path, name: str) -> Path:
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(SHOTS / name)], check=True, timeout=60)
    return SHOTS / f"{name}.png"


def test_agent_pack_before_approval_is_a_draft(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "agent")
    pdf = build_pack(driver, base, portal, "株式会社 審査前")
    time.sleep(1.5)
    shot(driver, "01_agent_draft_pack")
    text = page_text(pdf)
    assert text.count(DRAFT_TEXT) >= len(re.findall("\f", text))  # on every page
    assert "未取得" in page_text(pdf, 1)
    first_page_png(pdf, "01_draft_pack_page1")
    STATE["draft_pdf"] = pdf


def test_marketing_submits_the_current_content(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "marketing")
    driver.get(f"{base}/marketing")
    driver.find_element(By.ID, "submit").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "pending")))
    shot(driver, "02_marketing_submitted")


def test_compliance_compares_the_versions(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    with portal.sessions() as s:  # the reviewer is a compliance user; marketing submitted
        assert s.scalar(select(User).where(User.email == portal.emails["compliance"])).role == "compliance"
    log_in(driver, base, portal, "compliance")
    driver.get(f"{base}/compliance")
    assert "審査中" in driver.find_element(By.ID, "current-state").text  # pending review, as the page says it
    shot(driver, "03_compliance_versions")
    driver.find_element(By.ID, "compare").click()  # defaults: the last commit → the working tree
    wait(driver).until(ec.presence_of_element_located((By.ID, "clauses")))
    row = driver.find_element(By.ID, "clause-DIS-CHU-01")
    assert row.find_elements(By.TAG_NAME, "ins"), "the added wording is shown as an insertion"
    assert driver.find_element(By.ID, "redline-docx").get_attribute("href").endswith("new=working")
    shot(driver, "04_compliance_compare")


def test_compliance_approves(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    driver.get(f"{base}/compliance")
    number = driver.find_element(By.ID, "number")
    number.clear()
    number.send_keys(NUMBER)
    driver.execute_script("document.getElementById('valid_from').value = '2026-01-01'")
    driver.find_element(By.ID, "approve").click()
    wait(driver).until(lambda d: NUMBER in d.find_element(By.ID, "current-state").text)
    assert "承認済み" in driver.find_element(By.ID, "current-state").text
    shot(driver, "05_compliance_approved")
    driver.get(f"{base}/compliance/audit")
    assert driver.find_elements(By.ID, "chain-ok")
    shot(driver, "06_audit_log")


def test_agent_new_pack_after_approval_has_no_watermark(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "agent")
    pdf = build_pack(driver, base, portal, "株式会社 承認後")
    time.sleep(1.5)
    shot(driver, "07_agent_approved_pack")
    text = page_text(pdf)
    assert DRAFT_TEXT not in text
    assert NUMBER in page_text(pdf, 1)  # the footer's 承認番号
    first_page_png(pdf, "07_approved_pack_page1")
    assert DRAFT_TEXT in page_text(STATE["draft_pdf"])  # the pack built before is still the draft it was
    with portal.sessions() as s:
        recs = {r.client: r for r in s.scalars(select(PackRecord))}
    assert recs["株式会社 審査前"].draft and recs["株式会社 審査前"].approval_number is None
    assert not recs["株式会社 承認後"].draft and recs["株式会社 承認後"].approval_number == NUMBER


def test_the_audit_chain_holds_every_step(server) -> None:  # type: ignore[no-untyped-def]
    """The chain holds every step of the walk: logins, the submission, the approval and the packs built."""
    from generator.store.audit import AuditEntry, verify

    _base, portal = server
    with portal.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert verify(s) == []
    for needed in ("login", "submit", "approve", "pack.built"):
        assert needed in actions, actions
