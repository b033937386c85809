"""What a portal user reads is Japanese (issue 23): errors name the field as the page labels it and say what is allowed;
unknown pages, wrong methods and malformed requests answer the portal's own page; the login page knows who is logged in;
over https the portal sends HSTS and Secure cookies."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import CSRF, fresh_portal, portal_site

# three Latin words in a row: an English sentence (names like LibreOffice or YYYY-MM-DD are single words)
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[\s,;:'\"()]+[A-Za-z]{2,}){2,}")
TEMPLATES = Path(__file__).resolve().parents[2] / "generator" / "web" / "templates"


def said(page: str, element: str = "message") -> str:
    """The text of the page's message element (what the user reads as the error)."""
    found = re.search(rf'id="{element}">(.*?)</p>', page, re.S)
    assert found, page[-2000:]
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def label_on(template: str, label: str) -> bool:
    """Whether ``template`` prints ``label`` as a form label (how the page names the field)."""
    return f"<label>{label} " in (TEMPLATES / template).read_text(encoding="utf-8")


# (what the agent sends, where the message is, the page's label for the field, what must be said)
AGENT_CASES = [
    ("/quote?industry=製造業&revenue=abc", "quote-message", ("quote.html", "売上高"), ("売上高「abc」", "金額として読めません", "入力できる値：", "4.5億")),
    ("/quote?industry=宇宙旅行&revenue=4.5億", "quote-message", ("quote.html", "業種"),
     ("業種「宇宙旅行」", "保険料表にない業種です", "入力できる値：", "製造業")),
    ("/quote?industry=製造業&revenue=4億5000", "quote-message", ("quote.html", "売上高"), ("単位のあとに数字だけ", "「4億5000万」のことですか")),
    ("/quote?industry=製造業&revenue=-5億", "quote-message", ("quote.html", "売上高"), ("マイナスの金額は入力できません",)),
    ("/quote?industry=製造業&revenue=4.5億&limit=2億", "quote-message", ("quote.html", "賠償保険金額"),
     ("要見積", "賠償保険金額「2億円」", "保険料表にない金額")),
    ("/history?date=2026-13-45", "message", ("history.html", "作成日"), ("作成日「2026-13-45」", "日付として読めません", "YYYY-MM-DD")),
]


@pytest.mark.parametrize(("url", "element", "where", "words"), AGENT_CASES, ids=[c[0] for c in AGENT_CASES])
def test_agent_errors_are_japanese_and_name_the_field(portal, url: str, element: str, where: tuple[str, str], words: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    r = portal.client("agent").get(url)
    assert r.status_code == 400
    message = said(r.text, element)
    for word in words:
        assert word in message, message
    assert not ENGLISH.search(message), message
    template, label = where
    assert label_on(template, label)


FORM_CASES = [
    ({"client": ""}, ("お客様名（会社名）：入力されていません",)),
    ({"client": "伸和\x07企画"}, ("お客様名（会社名）", "3文字目に制御文字（U+0007）", "印刷できる文字")),
    ({"client": "株" * 201}, ("201文字あります", "200文字まで", "…（201文字）")),
    ({"client": "有限会社 伸和企画", "contact": "\U0001F600"}, ("ご担当者", "印刷できない文字")),
    ({"revenue": "1.5"}, ("売上高「1.5」", "円単位の整数になりません")),
    ({"limit": "1億1億"}, ("賠償保険金額「1億1億」", "単位「億」が重複しています")),
    ({"industry": ""}, ("業種：入力されていません",)),
]


@pytest.mark.parametrize(("fields", "words"), FORM_CASES)
def test_pack_form_errors_are_japanese_and_keep_the_form(portal, fields: dict[str, str], words: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    form = {"client": "有限会社 伸和企画", "contact": "上", "industry": "製造業", "revenue": "4.5億", "limit": "1億", **fields}
    r = client.post("/packs", data={**form, "csrf_token": client.csrf})
    assert r.status_code == 400 and 'id="build"' in r.text  # the form is still there
    message = said(r.text)
    for word in words:
        assert word in message, message
    assert not ENGLISH.search(message) and len(message) < 400, message


def test_upload_errors_name_the_uploaded_file_in_japanese(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    cases = [
        (("顧客.pdf", b"%PDF-1.4"), ("顧客リスト「顧客.pdf」", "顧客リストのファイルではありません", ".csv, .xlsx")),
        (("顧客.csv", b""), ("顧客リスト「顧客.csv」：入力されていません",)),
        (("顧客.csv", "名前,色\nA,赤\n".encode()), ("顧客.csv：", "列「名前」は顧客リストの列ではありません", "必須の列がありません", "使える見出し")),
        (("顧客.csv", b"\xff\xfe\xfa\x00broken"), ("顧客.csv：", "UTF-8 または Shift_JIS")),
        (("顧客.xlsx", b"PK\x03\x04 not a workbook"), ("顧客.xlsx：", "読み込める .xlsx ファイルではありません")),
    ]
    for (name, data), words in cases:
        r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": (name, data, "application/octet-stream")})
        assert r.status_code == 400, r.text
        message = said(r.text)
        for word in words:
            assert word in message, message
        assert "storage" not in message and "/tmp" not in message  # the agent's file name, never the server's path


def test_upload_rows_are_explained_in_japanese(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    rows = "会社名,業種,売上高,賠償保険金額\n株式会社 甲,製造業,たくさん,1億\n株式会社 乙,宇宙旅行,4.5億,1億\n株式会社 丙,製造業,4.5億,2億\n"
    r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": ("顧客.csv", rows.encode(), "text/csv")})
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    table = page.split('id="errors-table"', 1)[1].split("</table>", 1)[0]
    cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)] for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S) if "<td" in tr]
    assert [(c[0], c[1]) for c in cells] == [("2", "売上高"), ("3", "業種"), ("4", "賠償保険金額")]  # the upload page's own column names
    assert "金額として読めません" in cells[0][3] and "保険料表にない業種です" in cells[1][3] and "要見積" in cells[2][3]
    assert not any(ENGLISH.search(c[3]) for c in cells), cells


def test_compliance_errors_are_japanese(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("compliance")
    checks = [
        (client.post("/compliance/approve", data={"csrf_token": client.csrf}), ("審査に提出されていません",)),
        (client.post("/compliance/reject", data={"csrf_token": client.csrf, "reason": " "}), ("審査に提出されていません",)),
        (client.get("/compliance/compare", params={"old": "/etc", "new": "working"}), ("バージョン「/etc」は一覧にある内容バージョンではありません",)),
        (client.get("/compliance/audit", params={"since": "yesterday"}), ("以降「yesterday」", "日付として読めません")),
        (client.post("/compliance/reissue", data={"csrf_token": client.csrf}), ("再発行する提案書を1件以上選んでください",)),
    ]
    for r, words in checks:
        assert r.status_code == 400, r.text
        message = said(r.text)
        for word in words:
            assert word in message, message
        assert not ENGLISH.search(message), message
    page = client.get("/compliance").text  # states and missing disclosures in Japanese, no YAML paths
    state = html.unescape(re.search(r'id="current-state"[^>]*>(.*?)</dd>', page, re.S).group(1))
    assert state in ("未提出", "審査中", "差戻し") or state.startswith(("承認済み", "期限切れ", "使用開始前")), state
    missing = page.split('id="missing"', 1)[1].split("</div>", 1)[0]
    assert "「クーリング・オフ」" in missing and "disclosures.items" not in missing and ".yaml" not in missing


@pytest.mark.parametrize(("method", "path", "status", "heading"), [
    ("GET", "/no/such/page", 404, "ページが見つかりません"),
    ("GET", "/packs/999999", 404, "ページが見つかりません"),
    ("GET", "/packs/not-a-number", 404, "ページが見つかりません"),
    ("DELETE", "/quote", 405, "この方法では開けません"),
    ("PUT", "/login", 405, "この方法では開けません"),
])
def test_unknown_pages_and_methods_answer_the_portal_page(portal, method: str, path: str, status: int, heading: str) -> None:  # type: ignore[no-untyped-def]
    for who in ("agent",) if path.startswith("/packs") else (None, "agent"):  # /packs/… asks nobody but for a login first
        r = portal.client(who).request(method, path)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), r.text[:200]
        assert f'<h1 id="error-heading">{heading}</h1>' in r.text and '<html lang="ja">' in r.text
        assert not ENGLISH.search(said(r.text)) and "detail" not in r.text and "Traceback" not in r.text
        if status == 405:
            assert r.headers.get("allow"), "405 says which methods the page takes"
    api = portal.client("agent").request(method, path, headers={"accept": "application/json"})
    assert api.status_code == status and api.json()["status"] == status and not ENGLISH.search(api.json()["detail"])
    fragment = portal.client("agent").request(method, path, headers={"hx-request": "true"})
    assert fragment.status_code == status and fragment.text.startswith('<p class="message"') and "<html" not in fragment.text


def test_malformed_requests_are_explained_in_japanese_not_json(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    # a name past its limit keeps the form (int2's per-field errors) and is said as every input error is
    r = client.post("/packs", data={"csrf_token": client.csrf, "client": "x" * 401, "industry": "製造業", "revenue": "1億", "limit": "1億"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html") and 'id="build"' in r.text
    assert said(r.text).startswith("お客様名（会社名）「") and "401文字あります" in said(r.text) and "200文字まで" in said(r.text)
    # a value past what the form itself accepts is FastAPI's validation error, in Japanese on the portal's page
    r = client.post("/packs", data={"csrf_token": client.csrf, "client": "株式会社 伸和", "industry": "製造業", "revenue": "1億",
                                    "limit": "1億", "client_id": "x" * 41})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert said(r.text) == "登録済みのお客様：40文字以内で入力してください"
    r = client.get("/compliance/compare", params={"old": "x" * 65, "new": "working"})
    assert r.status_code in (400, 403) and "string_too_long" not in r.text and "Input should" not in r.text


def test_the_login_page_while_logged_in_says_who_and_offers_logout(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    page = client.get("/login")
    assert page.status_code == 200 and 'id="signed-in"' in page.text and 'id="password"' not in page.text
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text.split('id="signed-in"', 1)[1].split("</section>", 1)[0]))
    assert portal.emails["agent"] in text and "さくら保険サービス株式会社" in text and "ログインしています" in text
    assert 'href="/"' in page.text  # back to the agent's home page
    # its logout button carries this session's token: it works (no CSRF dead end), and the login form is back after
    token = CSRF.findall(page.text.split('id="signed-in"', 1)[1])[0]
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    again = client.get("/login")
    assert 'id="password"' in again.text and 'id="signed-in"' not in again.text


def test_a_login_form_opened_before_logging_in_elsewhere_still_works(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client()
    stale = client.csrf  # tab 1: the login form, with the pre-session token
    fields = {"email": portal.emails["agent"], "password": portal.password}
    assert client.post("/login", data={**fields, "csrf_token": stale}).status_code == 303  # tab 2 logs in
    r = client.post("/login", data={**fields, "csrf_token": stale})  # tab 1 is sent afterwards
    assert r.status_code == 303, r.text


def _cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(name + "="))


def test_https_gets_hsts_and_secure_cookies_http_does_not(portal) -> None:  # type: ignore[no-untyped-def]
    from generator.web import security

    secure = TestClient(portal.app, base_url="https://portal.example.jp", follow_redirects=False)
    first = secure.get("/login")
    assert first.headers["strict-transport-security"] == "max-age=31536000"
    assert "secure" in _cookie(first, security.PRESESSION_COOKIE).lower()
    token = CSRF.search(first.text).group(1)
    r = secure.post("/login", data={"email": portal.emails["agent"], "password": portal.password, "csrf_token": token})
    assert r.status_code == 303 and "; secure" in _cookie(r, security.COOKIE).lower()
    assert secure.get("/quote").headers["strict-transport-security"] == "max-age=31536000"

    plain = TestClient(portal.app, base_url="http://127.0.0.1", follow_redirects=False)
    first = plain.get("/login")
    assert "strict-transport-security" not in first.headers  # HSTS over http means nothing and is ignored by browsers
    assert "secure" not in _cookie(first, security.PRESESSION_COOKIE).lower()


def test_behind_a_trusted_proxy_the_forwarded_scheme_counts(portal) -> None:  # type: ignore[no-untyped-def]
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from generator.web import security

    # what `docgen serve` runs: uvicorn believes X-Forwarded-Proto from DOCGEN_FORWARDED_ALLOW_IPS only
    trusted = TestClient(ProxyHeadersMiddleware(portal.app, trusted_hosts="testclient"), base_url="http://127.0.0.1")
    r = trusted.get("/login", headers={"x-forwarded-proto": "https"})
    assert r.headers["strict-transport-security"] == "max-age=31536000" and "secure" in _cookie(r, security.PRESESSION_COOKIE).lower()
    untrusted = TestClient(ProxyHeadersMiddleware(portal.app, trusted_hosts="10.0.0.1"), base_url="http://127.0.0.1")
    r = untrusted.get("/login", headers={"x-forwarded-proto": "https"})
    assert "strict-transport-security" not in r.headers


@pytest.mark.parametrize(("env", "base", "expected"), [
    ({"DOCGEN_HTTPS": "always", "DOCGEN_HSTS_MAX_AGE": "600"}, "http://127.0.0.1", "max-age=600"),  # TLS ends at a proxy that forwards nothing
    ({"DOCGEN_HTTPS": "off"}, "https://portal.example.jp", None),
])
def test_https_mode_is_configurable(tmp_path: Path, monkeypatch, env: dict[str, str], base: str, expected: str | None) -> None:  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with fresh_portal("sqlite", tmp_path, portal_site(tmp_path), recover=False) as made:
        r = TestClient(made.app, base_url=base).get("/login")
        assert r.headers.get("strict-transport-security") == expected


def test_a_bad_https_setting_stops_the_portal_naming_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from generator.errors import SettingError

    monkeypatch.setenv("DOCGEN_HTTPS", "sometimes")
    with pytest.raises(SettingError) as err, fresh_portal("sqlite", tmp_path, portal_site(tmp_path), recover=False):
        pass
    assert err.value.field == "DOCGEN_HTTPS" and "always" in str(err.value)
