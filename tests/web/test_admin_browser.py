"""Administration, own password and verify in a real browser (Debian Chromium + chromedriver, offline, 127.0.0.1), with
JavaScript switched off: every page of issue 24's part works as plain HTML forms.

Walked as the role that uses each page (admin; every user for their password; compliance and admin for verify) and as
roles that must not (agent, marketing, compliance on admin pages: 403). Screenshots go to /tmp/admin-shots/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.web.conftest import log_in, portal_site, served_portal, start_chromium, wait
from tests.web.test_verify_page import SAMPLE, rewrite

SHOTS = Path("/tmp/admin-shots")
NEW_EMAIL, NEW_AGENCY, NEW_PASSWORD = "kobayashi@example.jp", "あおば保険サービス株式会社", "あたらしい合言葉-2026"
STATE: dict = {}


@pytest.fixture(scope="module")
def server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    folder = tmp_path_factory.mktemp(f"admin-browser-{db_kind}")
    with served_portal(db_kind, folder, portal_site(folder), "uvicorn-admin") as served:
        yield served


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Chromium in Japanese with JavaScript blocked for pages (WebDriver itself still drives it)."""
    d = start_chromium(tmp_path_factory.mktemp("chromium-nojs"), {"profile.managed_default_content_settings.javascript": 2}, "--lang=ja-JP")
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()


def shot(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def text(driver, element_id: str) -> str:  # type: ignore[no-untyped-def]
    return driver.find_element(By.ID, element_id).text


def submit(driver, button_id: str) -> None:  # type: ignore[no-untyped-def]
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()
    wait(driver).until(lambda _: _gone(old))  # a new page was loaded: no script swaps anything here


def _gone(element) -> bool:  # type: ignore[no-untyped-def]
    """True once ``element``'s document was replaced. Chromium answers a node of an unloaded document either as stale or
    (seen with chromedriver 156, once in a suite run) with an inspector error "Node with given id does not belong to the
    document"; ec.staleness_of knows only the first and let the second fail the test."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def test_javascript_is_off(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    driver.get(f"{base}/login")
    # htmx sets this on <body> when it runs; with scripts blocked it never does
    assert driver.execute_script("return typeof window.htmx") == "undefined"


def test_admin_creates_an_agency_and_a_user(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "admin")
    driver.find_element(By.LINK_TEXT, "管理").click()
    assert driver.current_url.endswith("/admin")
    shot(driver, "01_admin_users")
    driver.find_element(By.ID, "agencies-link").click()
    driver.find_element(By.ID, "agency-name").send_keys(NEW_AGENCY)
    submit(driver, "create-agency-button")
    assert NEW_AGENCY in text(driver, "agencies")
    shot(driver, "02_admin_agencies")
    driver.get(f"{base}/admin")
    driver.find_element(By.ID, "new-email").send_keys(NEW_EMAIL)
    driver.find_element(By.ID, "new-name").send_keys("小林")
    Select(driver.find_element(By.ID, "new-role")).select_by_visible_text("代理店")
    Select(driver.find_element(By.ID, "new-agency")).select_by_visible_text(NEW_AGENCY)
    submit(driver, "create-user-button")
    assert "ユーザーを追加しました" in driver.find_element(By.TAG_NAME, "h1").text
    STATE["link"] = driver.find_element(By.ID, "reset-link").get_attribute("href")
    assert "/password/reset?token=" in STATE["link"] and text(driver, "reset-code") in STATE["link"]
    shot(driver, "03_admin_link_shown")


def test_the_new_user_sets_a_password_and_logs_in(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    driver.delete_all_cookies()
    driver.get(STATE["link"])
    assert text(driver, "reset-email") == NEW_EMAIL
    shot(driver, "04_reset_form")
    driver.find_element(By.ID, "new-password").send_keys(NEW_PASSWORD)
    driver.find_element(By.ID, "confirm").send_keys(NEW_PASSWORD)
    submit(driver, "set-password")
    assert NEW_EMAIL in text(driver, "reset-done")
    shot(driver, "05_reset_done")
    driver.get(STATE["link"])  # the same link again
    assert "使用済み" in text(driver, "link-problem")
    shot(driver, "06_reset_link_used")
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(NEW_EMAIL)
    driver.find_element(By.ID, "password").send_keys(NEW_PASSWORD)
    submit(driver, "login")
    assert NEW_AGENCY in driver.find_element(By.CSS_SELECTOR, ".who").text


def test_deactivation_ends_a_live_session(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "agent")
    agent_cookies = driver.get_cookies()
    log_in(driver, base, portal, "admin")
    agent_id = portal.user("agent").id
    driver.get(f"{base}/admin/users/{agent_id}")
    submit(driver, "deactivate")
    assert "セッションはすべて終了しました" in text(driver, "done") and "無効" in text(driver, "state")
    shot(driver, "07_admin_user_deactivated")
    driver.delete_all_cookies()  # back to the agent's browser state, cookie and all
    for cookie in agent_cookies:
        driver.add_cookie({k: cookie[k] for k in ("name", "value", "path")})
    driver.get(f"{base}/history")
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "email").send_keys(portal.emails["agent"])
    driver.find_element(By.ID, "password").send_keys(portal.password)
    submit(driver, "login")
    assert "パスワードが違います" in text(driver, "message")  # a deactivated account cannot log in


def test_admin_reactivates_changes_a_role_and_cannot_remove_the_last_admin(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "admin")
    driver.get(f"{base}/admin/users/{portal.user('agent').id}")
    submit(driver, "reactivate")
    assert "有効" in text(driver, "state")
    Select(driver.find_element(By.ID, "role-select")).select_by_visible_text("コンプライアンス")
    submit(driver, "change-role")
    assert text(driver, "role") == "コンプライアンス" and "user.role_changed" in text(driver, "history")
    Select(driver.find_element(By.ID, "role-select")).select_by_visible_text("代理店")
    submit(driver, "change-role")
    shot(driver, "08_admin_user_role_changed")
    driver.get(f"{base}/admin/users/{portal.user('admin').id}")
    submit(driver, "deactivate")
    assert "最後の有効な管理者" in text(driver, "message")
    shot(driver, "09_admin_last_admin_refused")


def test_a_user_sets_a_password_with_the_code(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "admin")
    driver.get(f"{base}/admin/users/{portal.user('other_agent').id}")
    submit(driver, "issue-reset")
    assert "パスワード再設定リンクを発行しました" in driver.find_element(By.TAG_NAME, "h1").text
    code = text(driver, "reset-code")
    driver.delete_all_cookies()  # the user, on their own machine
    driver.get(f"{base}/password/reset")
    assert not driver.find_elements(By.ID, "link-problem")
    driver.find_element(By.ID, "code").send_keys(code)
    submit(driver, "use-code")
    assert text(driver, "reset-email") == portal.emails["other_agent"]
    driver.find_element(By.ID, "new-password").send_keys(NEW_PASSWORD)
    driver.find_element(By.ID, "confirm").send_keys("ちがう確認用の入力です")
    submit(driver, "set-password")
    assert "確認のための入力と一致しません" in text(driver, "message")
    shot(driver, "17_reset_by_code_mismatch")
    driver.find_element(By.ID, "new-password").send_keys(NEW_PASSWORD)
    driver.find_element(By.ID, "confirm").send_keys(NEW_PASSWORD)
    submit(driver, "set-password")
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(portal.emails["other_agent"])
    driver.find_element(By.ID, "password").send_keys(NEW_PASSWORD)
    submit(driver, "login")
    assert "ひまわり保険代理店" in driver.find_element(By.CSS_SELECTOR, ".who").text


@pytest.mark.parametrize(("who", "path"), [("agent", "/admin"), ("compliance", "/admin/agencies"), ("marketing", "/admin"),
                                           ("agent", "/verify"), ("marketing", "/verify")])
def test_other_roles_cannot_open_these_pages(server, driver, who: str, path: str) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, who)
    nav = driver.find_element(By.TAG_NAME, "nav").text
    assert ("管理" in nav) is False and (("PDF検証" in nav) is (who == "compliance"))
    driver.get(f"{base}{path}")
    assert driver.find_element(By.ID, "error-status").text == "エラーコード 403" and "権限" in text(driver, "message")
    shot(driver, f"10_{who}_{path.strip('/').replace('/', '_')}_403")


def test_everyone_changes_their_own_password(server, driver) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, "marketing")
    driver.find_element(By.ID, "own-password").click()
    shot(driver, "11_own_password")
    driver.find_element(By.ID, "current").send_keys("これは違うパスワードです")
    driver.find_element(By.ID, "new-password").send_keys(NEW_PASSWORD)
    driver.find_element(By.ID, "confirm").send_keys(NEW_PASSWORD)
    submit(driver, "change-password")
    assert "現在のパスワード: 正しくありません" in text(driver, "message")
    shot(driver, "12_own_password_wrong")
    driver.find_element(By.ID, "current").send_keys(portal.password)
    driver.find_element(By.ID, "new-password").send_keys(NEW_PASSWORD)
    driver.find_element(By.ID, "confirm").send_keys(NEW_PASSWORD)
    submit(driver, "change-password")
    assert "パスワードを変更しました" in text(driver, "done")
    shot(driver, "13_own_password_changed")


def swapped_copy(folder: Path) -> Path:
    """The sample pack with its first two pages swapped (bookmarks and metadata kept), named as a client might."""
    return rewrite(folder / "届いた提案書.pdf", [1, 0, *range(2, len(PdfReader(SAMPLE).pages))])


@pytest.mark.parametrize("who", ["compliance", "admin"])
def test_officers_verify_an_uploaded_pdf(server, driver, who: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, portal = server
    log_in(driver, base, portal, who)
    driver.find_element(By.LINK_TEXT, "PDF検証").click()
    shot(driver, f"14_{who}_verify_form")
    driver.find_element(By.ID, "file").send_keys(str(SAMPLE))
    submit(driver, "verify")
    assert driver.find_element(By.ID, "verdict").get_attribute("data-status") == "matches"
    assert "現在の内容と一致します" in text(driver, "headline") and "電子署名なし" in text(driver, "signature")
    shot(driver, f"15_{who}_verify_matches")
    driver.find_element(By.ID, "file").send_keys(str(swapped_copy(tmp_path)))
    submit(driver, "verify")
    assert driver.find_element(By.ID, "verdict").get_attribute("data-status") == "altered"
    assert "1ページ目（ご案内状）" in text(driver, "altered") and "ALTERED" in text(driver, "headline")
    shot(driver, f"16_{who}_verify_altered")
