"""Hostile-but-realistic portal input (issue 23): the issuing policy on list uploads, no 500, no server path, safe zips,
unguessable ids, history search folding, long input keeping the form."""

from __future__ import annotations

import datetime as dt
import re
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from generator.store.base import utcnow
from generator.store.ledger import Job, PackRecord, Upload
from generator.web import storage
from generator.web.jobs import Worker
from generator.web.routers.agents import _today
from tests.batch.xlsx_kit import bomb_xlsx
from tests.web.conftest import AGENCY_A, AGENCY_B

HEADER = "会社名,担当者,業種,売上高,賠償保険金額,代理店名,代理店連絡先,日付\n"


def _upload(client, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": (name, data, "text/csv")})


def _errors(portal, location: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with portal.sessions() as s:
        return s.scalar(select(Upload).where(Upload.public_id == location.rsplit("/", 1)[1])).errors


# --- 1. the issuing policy ------------------------------------------------------------------------------------------

OTHER_AGENCY_SPELLINGS = [
    AGENCY_B,  # another agency of this portal
    "ひまわり保険代理店　",  # with an ideographic space
    "ｻｸﾗ損保株式会社",  # half-width kana, some other company
    "さくら保険サービス株式会社 東京支店X",  # own name plus more: another business
    "株式会社さくら保険",  # a prefix of the own name: another company
    "ＡＢＣ保険（株）",  # full-width, (株)
]
OWN_AGENCY_SPELLINGS = [
    "",  # empty: the account's agency
    AGENCY_A,
    "さくら保険サービス（株）",
    "㈱　さくら保険サービス",
    "  さくら 保険 サービス 株式会社 ",
    "さくら保険ｻｰﾋﾞｽ株式会社",
]


def test_list_naming_another_agency_or_date_is_refused_row_by_row(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    today = _today()
    rows = [f"株式会社 他社{i},,製造業,4.5億,1億,{name},,\n" for i, name in enumerate(OTHER_AGENCY_SPELLINGS)]
    rows += [f"株式会社 自社{i},,製造業,4.5億,1億,{name},,\n" for i, name in enumerate(OWN_AGENCY_SPELLINGS)]
    for i, day in enumerate(["平成31年4月1日", "2019-04-01", (today - dt.timedelta(days=1)).isoformat(), (today + dt.timedelta(days=1)).isoformat()]):
        rows.append(f"株式会社 日付{i},,製造業,4.5億,1億,,,{day}\n")
    rows.append(f"株式会社 本日,,製造業,4.5億,1億,,,{today.isoformat()}\n")
    rows.append("株式会社 連絡先,,製造業,4.5億,1億,,ひまわり保険代理店 03-0000-0000,\n")
    r = _upload(client, "顧客一覧.csv", (HEADER + "".join(rows)).encode())
    assert r.status_code == 303, r.text
    errors = _errors(portal, r.headers["location"])
    page = client.get(r.headers["location"]).text
    by_row = {(e["row"], e["column"]) for e in errors}
    first = 2
    for i, name in enumerate(OTHER_AGENCY_SPELLINGS):
        assert (first + i, "agent_name") in by_row, name
    for i, name in enumerate(OWN_AGENCY_SPELLINGS):
        assert not any(e["row"] == first + len(OTHER_AGENCY_SPELLINGS) + i for e in errors), name
    dates_at = first + len(OTHER_AGENCY_SPELLINGS) + len(OWN_AGENCY_SPELLINGS)
    assert {(dates_at + i, "date") for i in range(4)} <= by_row
    assert not any(e["row"] == dates_at + 4 for e in errors)  # today is allowed
    assert (dates_at + 5, "agent_contact") in by_row
    reasons = " ".join(e["reason"] for e in errors)
    assert "代理店" in reasons and "本日" in reasons and AGENCY_A in reasons  # Japanese, says why and what is allowed
    assert re.search(r'id="good-rows">7<', page), page[page.find("<main"):][:500]


def test_the_job_checks_the_policy_again_and_prints_the_account(portal) -> None:  # type: ignore[no-untyped-def]
    """The stored upload is read again by the job: what reaches the build carries the account's agency, name, today."""
    from generator.web.routers.agents import policy_for
    from generator.web.uploads import check_list

    path = portal.site.storage / "tmp" / "policy.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "株式会社 自社,,製造業,4.5億,1億,(株)さくら保険サービス,,\n株式会社 他社,,製造業,4.5億,1億,ひまわり保険代理店,,\n")
    agent = portal.user("agent")
    today = dt.date(2026, 12, 6)
    checked = check_list(portal.app.state.products(), path, policy_for(agent, today), "policy.csv")
    (request,) = checked.requests
    assert (request.agent_name, request.agent_contact, request.date) == (AGENCY_A, "担当：agent", today)
    assert [(b["row"], b["column"]) for b in checked.bad] == [(3, "agent_name")]


def test_single_pack_form_carries_the_account(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    r = client.post("/packs", data={"csrf_token": client.csrf, "client": "株式会社 単票", "industry": "製造業", "revenue": "4.5億", "limit": "1億",
                                    "agent_name": AGENCY_B, "date": "2019-04-01"})  # extra fields a hostile form adds are ignored
    assert r.status_code == 303
    with portal.sessions() as s:
        job = s.scalar(select(Job).where(Job.public_id == r.headers["location"].rsplit("/", 1)[1]))
    assert "agent_name" not in job.params["request"] and "date" not in job.params["request"]
    assert job.params["today"] == _today().isoformat()


# --- 2. no 500s -----------------------------------------------------------------------------------------------------

HUGE = "9" * 5000


@pytest.mark.parametrize("field", ["revenue", "limit"])
def test_huge_amounts_are_a_form_error_not_a_500(portal, field: str) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    label = {"revenue": "売上高", "limit": "賠償保険金額"}[field]
    params = {"industry": "製造業", "revenue": "4.5億", "limit": "100000000"} | {field: HUGE}
    page = client.get("/quote", params=params)
    message = re.search(r'id="quote-message">(.*?)</p>', page.text).group(1)
    assert page.status_code == 400 and label in message and "64 文字まで" in message and "999999" not in message
    ladder = client.get("/quote/ladder", params=params)
    assert ladder.status_code == 200 and label in ladder.text and "64 文字まで" in ladder.text
    form = {"csrf_token": client.csrf, "client": "株式会社 桁", "industry": "製造業", "revenue": "4.5億", "limit": "1億"} | {field: HUGE}
    r = client.post("/packs", data=form)
    assert r.status_code == 400 and f'id="{field}-error"' in r.text and label in r.text
    row = "株式会社 桁,,製造業,{0},1億,,,\n" if field == "revenue" else "株式会社 桁,,製造業,4.5億,{0},,,\n"
    r = _upload(client, "桁.csv", (HEADER + row.format(HUGE)).encode())
    assert r.status_code == 303
    (error,) = _errors(portal, r.headers["location"])
    assert error["column"] == field and "64 文字まで" in error["reason"]
    assert client.get(r.headers["location"]).status_code == 200


@pytest.mark.parametrize("path", ["/packs/{}", "/packs/{}/pdf", "/packs/{}/zip", "/jobs/{}", "/jobs/{}/progress", "/jobs/{}/zip",
                                  "/jobs/{}/errors.csv", "/uploads/{}", "/uploads/{}/errors.csv"])
@pytest.mark.parametrize("object_id", [str(2**63), str(2**64 + 5), "-" + str(2**63 + 1), "9" * 5000, "1e999"])
def test_ids_past_any_integer_are_404(portal, path: str, object_id: str) -> None:  # type: ignore[no-untyped-def]
    r = portal.client("agent").get(path.format(object_id))
    assert r.status_code == 404, (r.status_code, r.text[:300])


@pytest.mark.parametrize("path", ["/packs/{}/sent", "/uploads/{}/build"])
def test_posts_to_ids_past_any_integer_are_404(portal, path: str) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    assert client.post(path.format(2**63), data={"csrf_token": client.csrf}).status_code == 404


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01", "99999-01-01", "2026-02-30", "x" * 5000])
def test_history_dates_out_of_range_are_a_message(portal, day: str) -> None:  # type: ignore[no-untyped-def]
    r = portal.client("agent").get("/history", params={"date": day})
    assert r.status_code == 400 and "作成日" in r.text and "2000-01-01" in r.text and "2099-12-31" in r.text
    assert 'id="history"' in r.text  # the page, with its form


# --- 3. no server paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data"), [("顧客一覧.csv", "名前,色\nA,赤\n".encode()), ("顧客一覧.csv", b"\xff\xfe\x00bad"),
                                            ("顧客一覧.xlsx", b"not a zip"), ("顧客一覧.csv", b'a,"b\n')])
def test_upload_errors_name_the_uploaded_file_not_a_server_path(portal, name: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    r = _upload(portal.client("agent"), name, data)
    assert r.status_code == 400
    assert name in r.text
    message = re.search(r'id="message">(.*?)</p>', r.text, re.S).group(1)
    assert message.startswith(name) or name in message, message
    assert str(portal.site.storage) not in r.text and not re.search(r"uploads/[0-9]", r.text) and "/tmp" not in r.text


def test_every_listed_content_version_compares_without_paths(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("compliance")
    page = client.get("/compliance")
    specs = re.findall(r'<tr data-spec="([^"]+)"', page.text)
    assert len(specs) >= 2, "the checkout's git history lists content versions"
    for spec in specs:
        r = client.get("/compliance/compare", params={"old": spec, "new": "working"})
        assert r.status_code == 200, (spec, r.text[r.text.find("<main"):][:400])
        assert "/tmp" not in r.text and "docgen-rev-" not in r.text
    r = client.get("/compliance/compare", params={"old": "0" * 40, "new": "working"})
    assert r.status_code == 400 and "/tmp" not in r.text


# --- 4. zip slip ----------------------------------------------------------------------------------------------------

HOSTILE_NAMES = ["x/../../../../x", "..", "/etc/passwd", "..\\..\\boot.ini", 'A<B>:"C"|?*', "CON", "aux.txt", "com1", "a\tb",
                 "名前 ", "名前", "名前", "ＡＢＣ", "abc", "ABC", "x" * 200, "..." + "/" * 5, "\u202etxt.exe"]


def test_all_packs_zip_has_safe_unique_member_names_and_no_zip_inside(portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = portal.site.storage
    agent = portal.user("agent")
    pdf = tmp_path / "サイバーLite_ご提案書.pdf"
    pdf.write_bytes(b"%PDF-1.4 zip test\n")
    docx = tmp_path / "01_ご案内状.docx"
    docx.write_bytes(b"PK word")
    ids = []
    with portal.sessions() as s:
        job = Job(kind="list", state="running", agency_id=agent.agency_id, user_id=agent.id, params={}, result={})
        s.add(job)
        s.flush()
        for i, name in enumerate(HOSTILE_NAMES):
            rec = PackRecord(agency_id=agent.agency_id, agent_id=agent.id, job_id=job.id, client=name, contact="" if i % 2 else "上",
                             product="cyber_lite", content_version="1", content_hash="h", quote_number=f"Q-ZIP-{i}", premium=1,
                             pdf_sha256="0" * 64, clauses={})
            s.add(rec)
            s.flush()
            rec.storage_key = storage.install_pack(root, storage.stage_pack(root, pdf, [docx]), rec.id)
            ids.append(rec.id)
        s.commit()
        job_id = job.id
    worker = Worker(portal.site, portal.app.state.sessions, portal.app.state.products, threads=1)
    try:
        worker._write_list_files(job_id, ids, [])
    finally:
        worker.shutdown()
    with zipfile.ZipFile(root / f"jobs/{job_id}/packs.zip") as archive:
        names = archive.namelist()
        assert len(names) == 2 * len(HOSTILE_NAMES)  # the PDF and the Word file of every pack
        assert not [n for n in names if n.endswith(".zip")]
        folders = {n.split("/")[0] for n in names}
        assert len(folders) == len(HOSTILE_NAMES)
        assert len({f.casefold() for f in folders}) == len(folders)  # unique also where case does not count
        for name in names:
            parts = name.split("/")
            assert len(parts) == 2 and all(parts), name
            assert ".." not in name and "\\" not in name and not name.startswith("/"), name
            assert not re.search(r'[<>:"|?*\x00-\x1f\u202e]', name), name
            assert not any(p.rstrip(". ") != p or p.split(".")[0].upper() in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"} for p in parts), name
            assert len(parts[0]) <= 100
        out = tmp_path / "extract"
        archive.extractall(out)
    extracted = [p for p in out.rglob("*") if p.is_file()]
    assert len(extracted) == len(names) and all(p.resolve().is_relative_to(out.resolve()) for p in extracted)


# --- 5. zip bomb ----------------------------------------------------------------------------------------------------


def test_a_zip_bomb_list_is_refused_in_well_under_a_second(portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = bomb_xlsx(tmp_path / "bomb.xlsx", 24 * 1024 * 1024).read_bytes()
    assert len(data) < 200_000
    client = portal.client("agent")
    started = time.perf_counter()
    r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": ("爆弾.xlsx", data, "application/octet-stream")})
    took = time.perf_counter() - started
    assert r.status_code == 400 and "爆弾.xlsx" in r.text and "MB" in r.text, r.text[r.text.find("<main"):][:400]
    assert took < 1.0, took


# --- 6. unguessable ids ---------------------------------------------------------------------------------------------


def test_urls_carry_random_ids_and_old_integer_urls_are_404(portal) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    made = []
    for i in range(3):
        r = client.post("/packs", data={"csrf_token": client.csrf, "client": f"株式会社 連番{i}", "industry": "製造業", "revenue": "4.5億", "limit": "1億"})
        assert r.status_code == 303
        made.append(r.headers["location"])
    public = [m.rsplit("/", 1)[1] for m in made]
    assert all(re.fullmatch(r"/jobs/[0-9a-f]{32}", m) for m in made) and len(set(public)) == 3
    assert len({int(p, 16) % 1000 for p in public}) == 3  # not a sequence in disguise (3 random values: distinct)
    with portal.sessions() as s:
        jobs = {j.public_id: j.id for j in s.scalars(select(Job).where(Job.public_id.in_(public)))}
    for p in public:
        assert client.get(f"/jobs/{p}").status_code == 200
        assert client.get(f"/jobs/{jobs[p]}").status_code == 404  # the old integer URL
        assert portal.client("other_agent").get(f"/jobs/{p}").status_code == 404  # scoping as strict as before
        assert portal.client("compliance").get(f"/jobs/{p}").status_code == 200
    page = client.get(f"/jobs/{public[0]}").text
    assert f"#{jobs[public[0]]}" not in page


# --- 7. history search folding -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searchable(portal) -> dict[str, str]:  # type: ignore[no-untyped-def]
    agent = portal.user("agent")
    names = {"kanji": "髙﨑商店", "space": "青葉商店", "kana": "アオバ商事", "watanabe": "渡邉工業", "saito": "齋藤製作所", "hama": "濱田運輸",
             "sakura": "櫻井印刷", "other": "無関係株式会社"}
    out = {}
    with portal.sessions() as s:
        for key, name in names.items():
            rec = PackRecord(agency_id=agent.agency_id, agent_id=agent.id, client=name, contact="", product="cyber_lite", content_version="1",
                             content_hash="h", quote_number=f"Q-SEARCH-{key}", premium=1, pdf_sha256="0" * 64, clauses={}, created_at=utcnow())
            s.add(rec)
            s.flush()
            out[key] = rec.public_id
        s.commit()
    return out


@pytest.mark.parametrize(("query", "key"), [("高崎", "kanji"), ("髙﨑", "kanji"), ("高崎 商店", "kanji"), ("青葉 商店", "space"),
                                            ("青葉　商店", "space"), ("ｱｵﾊﾞ", "kana"), ("ｱｵﾊﾞ 商事", "kana"), ("渡辺", "watanabe"),
                                            ("渡邊工業", "watanabe"), ("斎藤", "saito"), ("齊藤", "saito"), ("浜田", "hama"), ("桜井", "sakura"),
                                            ("q-search-hama", "hama")])
def test_history_search_folds_spaces_width_and_variants(portal, searchable, query: str, key: str) -> None:  # type: ignore[no-untyped-def]
    page = portal.client("agent").get("/history", params={"q": query}).text
    assert f"/packs/{searchable[key]}" in page, query
    assert f"/packs/{searchable['other']}" not in page
    assert portal.client("other_agent").get("/history", params={"q": query}).text.count("Q-SEARCH") == 0


def test_search_never_changes_what_is_printed(portal, searchable) -> None:  # type: ignore[no-untyped-def]
    page = portal.client("agent").get("/history", params={"q": "高崎"}).text
    assert "髙﨑商店" in page and "高崎商店" not in page


# --- 8. long input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "label", "limit"), [("client", "お客様名（会社名）", 200), ("contact", "ご担当者", 200), ("industry", "業種", 100)])
def test_long_input_keeps_the_form_and_says_the_limit(portal, field: str, label: str, limit: int) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("agent")
    form = {"csrf_token": client.csrf, "client": "株式会社 長文", "contact": "上", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}
    form[field] = "長" * 10_000
    r = client.post("/packs", data=form)
    assert r.status_code == 400
    assert 'action="/packs"' in r.text and 'id="build"' in r.text  # the form, not a bare error page
    assert f'id="{field}-error"' in r.text and f"{label}は {limit:,} 文字まで" in r.text and "10,000 文字" in r.text
    kept = {k: v for k, v in form.items() if k not in ("csrf_token", field)}
    for k, v in kept.items():
        assert f'value="{v}"' in r.text, k  # what was typed is still there



def test_a_failed_jobs_reason_shows_no_server_path(portal, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from generator import api
    from generator.errors import ConversionError

    storage_dir = portal.site.storage

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConversionError(f"LibreOffice stopped on {storage_dir}/tmp/job-1/株式会社 経路/01_ご案内状.docx (exit 81)")

    monkeypatch.setattr(api, "build_planned", crash)
    agent = portal.user("agent")
    with portal.sessions() as s:
        job = Job(kind="pack", state="queued", agency_id=agent.agency_id, user_id=agent.id, total=1, result={},
                  params={"request": {"client": "株式会社 経路", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}, "today": "2026-12-06"})
        s.add(job)
        s.commit()
        job_id, public = job.id, job.public_id
    worker = Worker(portal.site, portal.app.state.sessions, portal.app.state.products, threads=1, coalesce=1)  # built here, in _run
    try:
        worker._run(job_id)
    finally:
        worker.shutdown()
    page = portal.client("agent").get(f"/jobs/{public}").text
    # the agent reads the portal's Japanese sentence for the failure; its detail (file, exit code) is for the server log
    assert "PDF を作成できませんでした（LibreOffice）" in page and str(storage_dir) not in page and "/tmp/" not in page
    assert "01_ご案内状.docx (exit 81)" in caplog.text


@pytest.mark.parametrize("query", ["\\", "a\\", "%", "_", "\\%", "'", '"', "\x1f"])
def test_search_with_like_special_characters_is_not_an_error(portal, searchable, query: str) -> None:  # type: ignore[no-untyped-def]
    r = portal.client("agent").get("/history", params={"q": query})
    assert r.status_code == 200


def test_a_very_long_file_name_keeps_the_upload_form(portal) -> None:  # type: ignore[no-untyped-def]
    name = "顧" * 300 + ".pdf"  # (a name past the multipart parser's header limit is refused before the route)
    r = _upload(portal.client("agent"), name, b"%PDF-1.4")
    assert r.status_code == 400 and 'id="file"' in r.text and ".csv, .xlsx" in r.text and name not in r.text
