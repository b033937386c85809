"""Issue 24 in a real browser (Debian Chromium + chromedriver, offline, 127.0.0.1): an agent keeps a client, quotes for it,
builds an approved pack for it (LibreOffice), records 意向把握 and the client's consent, and mails the pack through a real
SMTP server on 127.0.0.1 (aiosmtpd); the client, without a login, opens the link from the mail and downloads the ledger's
bytes; the agent sees the receipt. A relay that is down fails the send with its reason, and the agent retries. A draft
cannot be sent; an altered or expired link answers a Japanese page; another agency gets 404, marketing 403, compliance
reads without acting. The pages also work with JavaScript switched off. Screenshots: /tmp/delivery-shots/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select, update

from generator.compliance.delivery import DeliverySettings
from generator.mail import MailSettings
from generator.store.delivery import Delivery, DeliveryDownload
from generator.store.ledger import PackRecord
from tests.mailkit import Relay, smtp_server
from tests.netkit import free_port
from tests.seed import seed_limits, seed_tables
from tests.web.conftest import approvable_site, issued_pack, log_in, served_portal, start_chromium, wait

pytestmark = pytest.mark.libreoffice  # the approved pack is built by the real LibreOffice
SHOTS = Path("/tmp/delivery-shots")
NUMBER = "CL-DELIVERY-BROWSER-001"
CLIENT, CONTACT, EMAIL = "株式会社 電子交付 & テスト", "髙橋", "takahashi@denshi.example.co.jp"
SENDER = "docgen@sakura-hoken.example.jp"
OKU = 100_000_000
STATE: dict = {}


def seed_premium(code: str, revenue: int, limit: int) -> int:
    row = next(r for r in seed_tables()[code] if r[0] < revenue <= r[1])
    return row[2][seed_limits().index(limit)]


@pytest.fixture(scope="module")
def relay(db_kind: str) -> Iterator[Relay]:
    """A relay per database the module runs on: each walk starts with an empty mailbox."""
    with smtp_server() as found:
        yield found


@pytest.fixture(scope="module")
def server(db_kind: str, relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """A live portal on approvable content, approved (marketing submits, compliance approves), mailing through ``relay``."""
    folder = tmp_path_factory.mktemp(f"delivery-browser-{db_kind}")
    with served_portal(db_kind, folder, approvable_site(folder), "uvicorn-delivery") as (base, portal):
        shutil.rmtree(SHOTS, ignore_errors=True)
        SHOTS.mkdir(parents=True)
        portal.app.state.delivery = DeliverySettings(MailSettings("smtp", relay.host, relay.port, SENDER, starttls=False, timeout=10))
        marketing, compliance = portal.client("marketing"), portal.client("compliance")
        assert marketing.post("/compliance/submit", data={"csrf_token": marketing.csrf}).status_code == 303
        r = compliance.post("/compliance/approve", data={"csrf_token": compliance.csrf, "number": NUMBER, "valid_from": "2026-01-01"})
        assert r.status_code == 303, r.text[:500]
        yield base, portal


def portal_pack_id(portal, public_id: str) -> int:  # type: ignore[no-untyped-def]
    """The ledger row behind a pack URL's public id."""
    with portal.sessions() as s:
        return s.scalar(select(PackRecord.id).where(PackRecord.public_id == public_id))


def shot(driver: webdriver.Chrome, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def fill(driver: webdriver.Chrome, values: dict[str, str]) -> None:
    for field, value in values.items():
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)


def test_agent_keeps_a_client(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    browser.get(f"{base}/clients")
    shot(browser, "01_clients_empty")
    browser.find_element(By.ID, "new-client").click()
    fill(browser, {"name": CLIENT, "contact": CONTACT, "industry": "製造業", "revenue": "4.5億", "email": "takahashi@denshi"})
    browser.find_element(By.ID, "save-client").click()
    message = browser.find_element(By.ID, "message").text
    assert "メールアドレス" in message and "メールアドレスの形ではありません" in message  # refused, the form kept
    shot(browser, "02_client_form_refused")
    fill(browser, {"email": EMAIL, "postal_address": "東京都千代田区丸の内1-1-1"})
    browser.find_element(By.ID, "save-client").click()
    wait(browser).until(lambda d: re.search(r"/clients/[0-9a-f]{32}$", d.current_url))
    assert browser.find_element(By.ID, "client-name").text == f"{CLIENT} {CONTACT} 様"
    assert browser.find_element(By.ID, "client-email").text == EMAIL
    STATE["client_url"] = browser.current_url
    shot(browser, "03_client_page")


def test_agent_quotes_for_the_client_and_keeps_the_quote(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, _portal = server
    browser.get(STATE["client_url"])
    browser.find_element(By.ID, "quote-for-client").click()
    expected = f"{seed_premium('D01', 450_000_000, 10_000_000):,}円"  # the client's industry and revenue, quoted at once
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ladder-table td.num"))
    assert browser.find_element(By.CSS_SELECTOR, "#ladder-table td.num").text == expected
    Select(browser.find_element(By.ID, "limit")).select_by_value(str(OKU))
    browser.find_element(By.ID, "quote").click()
    wait(browser).until(lambda d: d.find_elements(By.ID, "save-quote"))
    shot(browser, "04_quote_for_client")
    browser.find_element(By.ID, "save-quote").click()
    wait(browser).until(lambda d: "/clients/" in d.current_url)
    assert f"{seed_premium('D01', 450_000_000, OKU):,}円" in browser.find_element(By.ID, "client-quotes").text
    shot(browser, "05_client_quote_kept")


def test_agent_builds_an_approved_pack_for_the_client(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    browser.get(STATE["client_url"])
    browser.find_element(By.ID, "pack-for-client").click()
    assert browser.find_element(By.ID, "client").get_attribute("value") == CLIENT
    assert browser.find_element(By.ID, "industry").get_attribute("value") == "製造業"
    fill(browser, {"limit": "1億"})
    shot(browser, "06_pack_form_prefilled")
    browser.find_element(By.ID, "build").click()
    wait(browser, 300).until(lambda d: re.search(r"/packs/[0-9a-f]{32}$", d.current_url))
    STATE["pack_url"] = browser.current_url
    STATE["pack_id"] = portal_pack_id(portal, browser.current_url.rsplit("/", 1)[1])
    assert not browser.find_elements(By.ID, "draft-banner")
    assert browser.find_element(By.ID, "pack-client-link").text == f"{CLIENT} {CONTACT}"  # the worker linked it to the client
    with portal.sessions() as s:
        assert s.get(PackRecord, STATE["pack_id"]).approval_number == NUMBER


def test_agent_records_the_clients_intent(server, browser) -> None:  # type: ignore[no-untyped-def]
    browser.get(STATE["pack_url"])
    fill(browser, {"needs": "取引先から情報漏えいへの備えを求められている", "reason": "製造業・売上高4.5億円。取引先の求める賠償1億円を満たす"})
    Select(browser.find_element(By.ID, "chosen_limit")).select_by_value(str(OKU))
    browser.find_element(By.ID, "save-intent").click()
    wait(browser).until(lambda d: d.find_elements(By.ID, "intents"))
    assert "取引先から情報漏えいへの備えを求められている" in browser.find_element(By.ID, "intents").text
    assert "保険会社" in browser.find_element(By.ID, "intent-form-slot").text
    browser.find_element(By.ID, "intent").screenshot(str(SHOTS / "07_intent_recorded.png"))


def test_agent_records_consent_and_mails_the_pack(server, browser, relay: Relay) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    browser.get(STATE["pack_url"])
    assert browser.find_elements(By.ID, "no-consent") and not browser.find_elements(By.ID, "send")
    assert browser.find_element(By.ID, "consented_by").get_attribute("value") == CONTACT
    Select(browser.find_element(By.ID, "method")).select_by_visible_text("口頭")
    fill(browser, {"consent-note": "12月1日の訪問時に口頭で同意、面談記録あり"})
    browser.find_element(By.ID, "delivery").screenshot(str(SHOTS / "08_consent_form.png"))
    browser.find_element(By.ID, "save-consent").click()
    wait(browser).until(lambda d: d.find_elements(By.ID, "consent"))
    assert "口頭" in browser.find_element(By.ID, "consent").text
    assert browser.find_element(By.ID, "recipient_email").get_attribute("value") == EMAIL  # from the client record
    browser.find_element(By.ID, "delivery").screenshot(str(SHOTS / "09_send_form.png"))
    browser.find_element(By.ID, "send").click()
    wait(browser, 60).until(lambda d: re.search(r"/deliveries/[0-9a-f]{32}$", d.current_url))
    assert browser.find_element(By.ID, "delivery-status").text == "送信済み"
    assert browser.find_elements(By.ID, "no-downloads")
    shot(browser, "10_delivery_sent")
    [msg] = relay.mailbox.messages
    assert relay.mailbox.envelopes[0][1] == [EMAIL] and "ご提案書" in msg["Subject"]
    link = re.search(r"(http://127\.0\.0\.1:\d+/d/[A-Za-z0-9_-]{43})", msg.get_content()).group(1)
    assert link.startswith(base)
    STATE["link"], STATE["delivery_url"] = link, browser.current_url


def test_client_opens_the_link_and_downloads_the_ledgers_bytes(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    browser.delete_all_cookies()  # the client: no session, no login
    browser.get(STATE["link"])
    assert browser.find_element(By.TAG_NAME, "h1").text.endswith("ご提案書のダウンロード")
    assert browser.find_element(By.ID, "addressee").text == f"{CLIENT} {CONTACT} 様"
    shot(browser, "11_client_download_page")
    browser.find_element(By.ID, "download").click()
    deadline = time.monotonic() + 60
    while not (done := [p for p in browser.downloads.iterdir() if p.suffix == ".pdf"]):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the PDF was not downloaded"
        time.sleep(0.2)
    time.sleep(0.5)  # Chromium renames the finished file: let it settle
    with portal.sessions() as s:
        pack = s.get(PackRecord, STATE["pack_id"])
        delivery = s.scalar(select(Delivery).where(Delivery.pack_id == pack.id))
        receipts = list(s.scalars(select(DeliveryDownload).where(DeliveryDownload.delivery_id == delivery.id)))
    assert hashlib.sha256(done[0].read_bytes()).hexdigest() == pack.pdf_sha256 == delivery.pdf_sha256
    assert len(receipts) == 1 and "Chrome" in receipts[0].user_agent
    log_in(browser, base, portal, "agent")
    browser.get(STATE["delivery_url"])
    assert browser.find_element(By.ID, "receipt").text.startswith("受領（初回ダウンロード）")
    shot(browser, "12_agent_sees_the_receipt")
    browser.get(STATE["client_url"])
    history = browser.find_element(By.ID, "client-deliveries").text
    assert EMAIL in history and "送信済み" in history and "未受領" not in history
    assert "取引先から情報漏えいへの備えを求められている" in browser.find_element(By.ID, "client-intents").text
    assert pack.quote_number in browser.find_element(By.ID, "client-packs").text
    shot(browser, "13_client_history")


def test_altered_and_expired_links_answer_a_japanese_page(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    browser.delete_all_cookies()
    link = STATE["link"]
    browser.get(link[:-1] + ("A" if link[-1] != "A" else "B"))
    assert browser.find_element(By.ID, "link-title").text == "リンクが無効です"
    assert "変更されている" in browser.find_element(By.ID, "link-reason").text and CLIENT not in browser.page_source
    shot(browser, "14_link_altered")
    with portal.sessions() as s:
        s.execute(update(Delivery).where(Delivery.pack_id == STATE["pack_id"]).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        s.commit()
    browser.get(link)
    assert browser.find_element(By.ID, "link-title").text == "リンクの有効期限切れ"
    assert "有効期限" in browser.find_element(By.ID, "link-reason").text and CLIENT not in browser.page_source
    shot(browser, "15_link_expired")


def test_a_relay_that_is_down_fails_with_its_reason_and_the_agent_retries(server, browser, relay: Relay) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "agent")
    working = portal.app.state.delivery
    portal.app.state.delivery = DeliverySettings(MailSettings("smtp", "127.0.0.1", free_port(), SENDER, starttls=False, timeout=5))
    try:
        browser.get(STATE["pack_url"])
        browser.find_element(By.ID, "send").click()
        wait(browser, 60).until(lambda d: re.search(r"/deliveries/[0-9a-f]{32}$", d.current_url))
        assert browser.find_element(By.ID, "delivery-status").text == "送信失敗"
        assert "接続できません" in browser.find_element(By.ID, "delivery-reason").text
        shot(browser, "16_send_failed")
    finally:
        portal.app.state.delivery = working
    browser.find_element(By.ID, "retry").click()
    wait(browser, 60).until(lambda d: d.find_element(By.ID, "delivery-status").text == "送信済み")
    assert len(relay.mailbox.messages) == 2
    browser.get(STATE["pack_url"])
    statuses = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#deliveries td[class^=status]")]
    assert statuses[0] == "送信済み" and statuses[1].startswith("送信失敗") and statuses[2] == "送信済み"
    browser.find_element(By.ID, "deliveries").screenshot(str(SHOTS / "17_deliveries_table.png"))


def test_a_draft_offers_no_delivery(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    draft = issued_pack(portal, approval=None, client="株式会社 ドラフト")
    browser.get(f"{base}/packs/{draft.public_id}")
    assert browser.find_elements(By.ID, "draft-banner") and not browser.find_elements(By.ID, "delivery")
    shot(browser, "18_draft_no_delivery")


def test_agent_registers_a_client_list(server, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, _portal = server
    path = tmp_path / "clients.csv"
    path.write_text("会社名,担当者,業種,売上高,賠償保険金額\n株式会社 一覧一,田中,製造業,4.5億,1億\n株式会社 一覧二,,小売業,2億,5000万\n", encoding="utf-8")
    browser.get(f"{base}/uploads/new")
    browser.find_element(By.ID, "file").send_keys(str(path))
    browser.find_element(By.ID, "upload").click()
    wait(browser).until(lambda d: d.find_elements(By.ID, "register-clients"))
    browser.find_element(By.ID, "register-clients").click()
    wait(browser).until(lambda d: "顧客を 2 件登録しました" in d.find_element(By.ID, "notice").text)
    shot(browser, "19_list_clients_registered")
    browser.find_element(By.ID, "build-list").click()  # the packs of the list land in those clients' histories
    wait(browser, 300).until(lambda d: d.find_elements(By.ID, "job-packs"))
    browser.get(f"{base}/clients")
    table = browser.find_element(By.ID, "clients").text
    assert "株式会社 一覧一" in table and "株式会社 一覧二" in table and CLIENT in table
    shot(browser, "20_clients_list")
    browser.find_element(By.LINK_TEXT, "株式会社 一覧二").click()
    packs = browser.find_element(By.ID, "client-packs").text
    assert "5,000万円" in packs and f"{seed_premium('D01', 200_000_000, 50_000_000):,}円" in packs
    shot(browser, "20b_list_client_history")


def test_other_roles_and_agencies(server, browser) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(browser, base, portal, "other_agent")
    for url in (STATE["client_url"], STATE["pack_url"], STATE["delivery_url"]):
        browser.get(url)
        assert browser.find_element(By.ID, "error-status").text == "エラーコード 404" and CLIENT not in browser.page_source
    shot(browser, "21_other_agency_404")
    browser.get(f"{base}/clients")
    assert CLIENT not in browser.find_element(By.ID, "clients").text
    log_in(browser, base, portal, "compliance")  # reads every agency's client and delivery, acts on none
    browser.get(STATE["pack_url"])
    assert browser.find_elements(By.ID, "deliveries") and not browser.find_elements(By.ID, "send")
    assert not browser.find_elements(By.ID, "save-intent") and not browser.find_elements(By.CLASS_NAME, "retry")
    shot(browser, "22_compliance_pack_read_only")
    log_in(browser, base, portal, "marketing")
    browser.get(f"{base}/clients")
    assert browser.find_element(By.ID, "error-status").text == "エラーコード 403"
    shot(browser, "23_marketing_403")


@pytest.fixture(scope="module")
def browser_without_js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-nojs"), {"profile.managed_default_content_settings.javascript": 2})
    try:
        yield driver
    finally:
        driver.quit()


def test_pages_work_without_javascript(server, browser_without_js, relay: Relay) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    driver = browser_without_js
    log_in(driver, base, portal, "agent")
    pack = issued_pack(portal, approval=NUMBER, client="株式会社 スクリプトなし")
    driver.get(f"{base}/packs/{pack.public_id}")
    driver.find_element(By.ID, "client-from-pack").click()
    wait(driver).until(lambda d: re.search(r"/clients/[0-9a-f]{32}$", d.current_url))
    driver.get(f"{base}/packs/{pack.public_id}")
    fill(driver, {"needs": "備えたい", "reason": "規模に合う"})
    driver.find_element(By.ID, "save-intent").click()
    wait(driver).until(lambda d: d.find_elements(By.ID, "intents"))
    Select(driver.find_element(By.ID, "method")).select_by_visible_text("電子メール")
    driver.find_element(By.ID, "save-consent").click()
    wait(driver).until(lambda d: d.find_elements(By.ID, "send"))
    fill(driver, {"recipient_email": "nojs@example.co.jp"})
    before = len(relay.mailbox.messages)
    driver.find_element(By.ID, "send").click()
    wait(driver, 60).until(lambda d: re.search(r"/deliveries/[0-9a-f]{32}$", d.current_url))
    assert driver.find_element(By.ID, "delivery-status").text == "送信済み" and len(relay.mailbox.messages) == before + 1
    shot(driver, "24_nojs_delivery_sent")
    link = re.search(r"(http://127\.0\.0\.1:\d+/d/[A-Za-z0-9_-]{43})", relay.mailbox.messages[-1].get_content()).group(1)
    driver.delete_all_cookies()
    driver.get(link)
    assert driver.find_element(By.ID, "download").get_attribute("href") == f"{link}/pdf"
    shot(driver, "25_nojs_download_page")
