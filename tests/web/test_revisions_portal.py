"""The portal by 保険始期日: the quote names its revision, and an uploaded list mixing start dates builds each pack from its own."""

from __future__ import annotations

import dataclasses
import html
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from generator import api
from generator.store.ledger import PackRecord
from tests.revisions_kit import NEW_PREMIUM, SECOND, SEED_PREMIUM, add_second_revision, copy_site
from tests.web.conftest import Portal, fresh_portal, portal_site, wait_for_job


@pytest.fixture(scope="module")
def two_portal(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    folder = tmp_path_factory.mktemp(f"revisions-{db_kind}")
    copied = copy_site(folder / "site")
    add_second_revision(copied)
    site = dataclasses.replace(portal_site(folder), content=copied.content)
    with fresh_portal(db_kind, folder, site, threads=1, build_jobs=1) as made:
        try:
            yield made
        finally:
            made.app.state.worker.shutdown(wait=True)  # type: ignore[attr-defined]


def premium_of(page: str, limit: int = 100_000_000) -> int:
    cells = dict(re.findall(r'<td>([^<]*)</td>\s*<td class="num" data-premium="(\d+)"', page))
    return int(cells["1億円"]) if limit == 100_000_000 else -1


def test_the_quote_names_the_revision_of_its_start_date(two_portal: Portal) -> None:
    client = two_portal.client("agent")
    ask = {"industry": "製造業", "revenue": "4.5億", "limit": "100000000"}
    before = client.get("/quote", params=ask | {"start": "2027-03-31"})
    assert before.status_code == 200 and premium_of(before.text) == SEED_PREMIUM
    shown = html.unescape(re.search(r'id="quote-revision">(.*?)</p>', before.text, re.S).group(1))
    assert "適用改定 2026-12" in re.sub(r"<[^>]+>", "", shown) and "令和9年3月31日始期まで" in shown and "保険始期日 令和9年3月31日" in shown
    after = client.get("/quote/ladder", params=ask | {"start": "2027-04-01"})
    assert premium_of(after.text) == NEW_PREMIUM
    assert f"適用改定 <strong>{SECOND}</strong>（令和9年4月1日以降始期" in after.text
    # the 見積 → 提案書 link carries the start date on
    assert "start=2027-04-01" in after.text
    today = client.get("/quote/ladder", params=ask)
    assert premium_of(today.text) == SEED_PREMIUM and "指定なし（本日時点の改定）" in today.text
    early = client.get("/quote", params=ask | {"start": "2026-11-30"})
    assert early.status_code == 400
    message = html.unescape(re.search(r'id="quote-message">(.*?)</p>', early.text, re.S).group(1))
    assert "保険始期日" in message and "適用できる cyber_lite の改定がありません" in message
    assert "2026-12: 2026-12-01〜2027-03-31, 2027-04: 2027-04-01〜" in message


def test_a_pack_form_start_date_no_revision_prices_makes_no_job(two_portal: Portal) -> None:
    client = two_portal.client("agent")
    r = client.post("/packs", data={"client": "有限会社 早すぎ", "industry": "製造業", "revenue": "4.5億", "limit": "1億", "start": "2026-01-05",
                                    "csrf_token": client.csrf})
    assert r.status_code == 400 and "2026-12-01〜2027-03-31" in html.unescape(r.text)


@pytest.mark.libreoffice
def test_an_uploaded_list_mixing_start_dates_builds_each_pack_from_its_revision(two_portal: Portal, tmp_path: Path) -> None:
    from tests.web.test_jobs import pdf_text, squash

    client = two_portal.client("agent")
    listing = ("会社名,業種,売上高,賠償保険金額,保険始期日\n"
               "有限会社 伸和企画,製造業,4.5億,1億,2027-03-31\n"
               "東都印刷株式会社,製造業,4.5億,1億,2027-04-01\n"
               "株式会社 早すぎ,製造業,4.5億,1億,2026-11-01\n")
    r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": ("始期別.csv", listing.encode("utf-8"), "text/csv")})
    assert r.status_code == 303, r.text
    upload_id = r.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/uploads/{upload_id}").text
    assert re.search(r'id="good-rows">2<', page)
    assert "2026-11-01" in page and "2026-12-01〜2027-03-31" in html.unescape(page)  # the bad row before anything is built
    r = client.post(f"/uploads/{upload_id}/build", data={"csrf_token": client.csrf})
    job = wait_for_job(two_portal, r.headers["location"].rsplit("/", 1)[1])
    assert job.state == "done", job.reason
    sched = api.schedule(two_portal.site, lint=False)
    with two_portal.sessions() as s:
        records = {rec.client: rec for rec in s.scalars(select(PackRecord).where(PackRecord.job_id == job.id))}
    assert {c: (r.premium, r.content_hash) for c, r in records.items()} == {
        "有限会社 伸和企画": (SEED_PREMIUM, sched.by_name("2026-12").product.digest()),
        "東都印刷株式会社": (NEW_PREMIUM, sched.by_name(SECOND).product.digest()),
    }
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job.public_id}/zip").content))
    texts = {n: squash(pdf_text(archive.read(n), tmp_path)) for n in archive.namelist() if n.endswith(".pdf")}
    (second,) = [t for n, t in texts.items() if "東都印刷" in n]
    assert squash(f"{NEW_PREMIUM:,}円") in second and squash(f"保険始期日：令和9年4月1日（改定 {SECOND}、承認番号 未取得）") in second


def test_compliance_lists_revisions_with_dates_and_approval_state(two_portal: Portal) -> None:
    page = two_portal.client("compliance").get("/compliance")
    assert page.status_code == 200
    table = page.text.split('id="revisions"', 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr data-revision[^>]*>(.*?)</tr>", table, re.S)]
    sched = api.schedule(two_portal.site, lint=False)
    assert [r[:7] for r in rows] == [
        ["2026-12", "令和8年12月1日〜令和9年3月31日", "令和8年12月1日〜令和9年3月31日", "適用中", "2026-12", sched.revisions[0].product.digest(), "未提出"],
        [SECOND, "令和9年4月1日〜", "令和9年4月1日〜", "適用予定", SECOND, sched.revisions[1].product.digest(), "未提出"],
    ]


@pytest.mark.libreoffice
def test_the_ledger_impact_of_a_wording_change_is_per_revision(two_portal: Portal, tmp_path: Path) -> None:
    """A revision starts as a copy, so both revisions' packs print the same clause stamps: a change to 2027-04's wording
    reaches only the packs built from 2027-04."""
    import shutil

    from generator.compliance.impact import affected_packs

    client = two_portal.client("agent")
    for name, start in (("有限会社 影響前", "2027-03-31"), ("株式会社 影響後", "2027-04-01")):
        r = client.post("/packs", data={"client": name, "industry": "製造業", "revenue": "4.5億", "limit": "1億", "start": start,
                                        "csrf_token": client.csrf})
        assert r.status_code == 303, r.text
        job = wait_for_job(two_portal, r.headers["location"].rsplit("/", 1)[1])
        assert job.state == "done", job.reason
    before = tmp_path / "before"
    shutil.copytree(two_portal.site.content, before)
    exclusions = two_portal.site.content / "cyber_lite" / "revisions" / SECOND / "exclusions.yaml"
    text = exclusions.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("text:"))
    exclusions.write_text(text.replace(line, line + "（改定）", 1), encoding="utf-8")
    try:
        d = api.diff(two_portal.site, str(before), str(two_portal.site.content), revision=SECOND)
        others = api.other_revisions(two_portal.site, d)
        with two_portal.sessions() as s:
            hit = {p.client for p in affected_packs(s, d, others)}
            everyone = {p.client for p in affected_packs(s, d)}
    finally:
        exclusions.write_text(text, encoding="utf-8")
    assert "株式会社 影響後" in hit and "有限会社 影響前" not in hit
    assert "有限会社 影響前" in everyone  # what a search by clause stamps alone would have listed
