"""Building through the portal with the real LibreOffice: one pack, a client list with bad rows, a restart mid-job."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import time
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from generator.store.ledger import Job, PackRecord, Upload
from generator.web.jobs import RESUMED
from tests.seed import seed_limits, seed_tables
from tests.web.conftest import AGENCY_A, make_portal, wait_for_job

pytestmark = pytest.mark.libreoffice

CLIENT, CONTACT = "有限会社 伸和企画", "上"
OKU = 100_000_000


def seed_premium(code: str, revenue: int, limit: int) -> int:
    """The premium the printed brochure's table gives (band: over < revenue <= up_to)."""
    row = next(r for r in seed_tables()[code] if r[0] < revenue <= r[1])
    return row[2][seed_limits().index(limit)]


def pdf_text(data: bytes, tmp_path: Path) -> str:
    pdf = tmp_path / "got.pdf"
    pdf.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60).stdout


def yen(n: int) -> str:
    return f"{n:,}円"


def squash(text: str) -> str:
    """Text without whitespace: pdftotext puts spaces where LibreOffice split runs (149,000 円)."""
    return re.sub(r"\s+", "", text)


def test_build_one_pack_preview_and_downloads(live_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = live_portal.client("agent")
    form = {"client": CLIENT, "contact": CONTACT, "industry": "製造業", "revenue": "4.5億", "limit": "1億", "csrf_token": client.csrf}
    r = client.post("/packs", data=form)
    assert r.status_code == 303, r.text  # the request returns at once: the build is a job
    job_url = r.headers["location"]
    job_id = job_url.rsplit("/", 1)[1]
    assert client.get(job_url).status_code in (200, 303)
    job = wait_for_job(live_portal, job_id)
    assert job.state == "done", job.reason

    r = client.get(job_url)
    assert r.status_code == 303 and r.headers["location"].startswith("/packs/")
    page = client.get(r.headers["location"])
    pack_id = r.headers["location"].rsplit("/", 1)[1]
    premium = seed_premium("D01", 450_000_000, OKU)
    assert page.status_code == 200 and CLIENT in page.text and yen(premium) in page.text
    assert f'src="/packs/{pack_id}/pdf"' in page.text  # the preview frames the very file that is downloaded

    inline = client.get(f"/packs/{pack_id}/pdf")
    download = client.get(f"/packs/{pack_id}/pdf", params={"download": 1})
    assert inline.headers["content-type"] == "application/pdf" and inline.headers["content-disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in inline.headers["content-security-policy"]
    assert download.headers["content-disposition"].startswith("attachment") and inline.content == download.content
    text = squash(pdf_text(download.content, tmp_path))
    assert squash(f"{CLIENT} {CONTACT} 様") in text and yen(premium) in text

    with live_portal.sessions() as s:
        record = s.scalars(select(PackRecord).where(PackRecord.public_id == pack_id)).one()
    assert hashlib.sha256(download.content).hexdigest() == record.pdf_sha256
    assert (record.client, record.contact, record.premium, record.limit, record.revenue) == (CLIENT, CONTACT, premium, OKU, 450_000_000)
    assert record.quote_number in text and record.clauses and record.content_hash
    assert record.agency_id == live_portal.user("agent").agency_id

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/packs/{pack_id}/zip").content))
    names = archive.namelist()
    assert sum(n.endswith(".pdf") for n in names) == 1 and sum(n.endswith(".docx") for n in names) >= 3
    assert archive.read(next(n for n in names if n.endswith(".pdf"))) == download.content

    # history finds it by client name, by quote number and by date; re-download is the archived bytes
    for query in ({"q": "伸和"}, {"q": record.quote_number}, {"date": record.created_at.astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat()}):
        assert f"/packs/{pack_id}" in client.get("/history", params=query).text, query
    assert f"/packs/{pack_id}" not in client.get("/history", params={"q": "存在しない会社"}).text
    again = client.get(f"/packs/{pack_id}/pdf", params={"download": 1}).content
    assert hashlib.sha256(again).hexdigest() == record.pdf_sha256


def test_referral_and_refusal_build_nothing_and_say_why(live_portal) -> None:  # type: ignore[no-untyped-def]
    client = live_portal.client("agent")
    with live_portal.sessions() as s:
        before = s.scalar(select(Job.id).order_by(Job.id.desc()).limit(1))
    r = client.post("/packs", data={"client": CLIENT, "industry": "製造業", "revenue": "4.5億", "limit": "2億", "csrf_token": client.csrf})
    assert r.status_code == 400 and "要見積" in r.text
    r = client.post("/packs", data={"client": CLIENT, "industry": "製造業", "revenue": "200億", "limit": "1億", "csrf_token": client.csrf})
    assert r.status_code == 400 and "引受不可" in r.text
    with live_portal.sessions() as s:
        assert s.scalar(select(Job.id).order_by(Job.id.desc()).limit(1)) == before


LIST = (
    "会社名,担当者,業種,売上高,賠償保険金額\n"
    "株式会社 A&B <テスト>,山田,製造業,4.5億,1億\n"  # row 2: good (names print exactly, & and < too)
    "有限会社 丸,,製造業,たくさん,1億\n"  # row 3: revenue unreadable
    "株式会社 参考,佐藤,小売業,8億,3億\n"  # row 4: good
    "株式会社 見積,,製造業,4.5億,2億\n"  # row 5: 要見積 (not a published limit)
)


def test_client_list_bad_rows_first_then_a_job(live_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = live_portal.client("agent")
    r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": ("顧客一覧.csv", LIST.encode("utf-8"), "text/csv")})
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    upload_id = r.headers["location"].rsplit("/", 1)[1]
    assert page.status_code == 200
    table = page.text.split('id="errors-table"', 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S) if "<td" in tr]
    # the column as the list's own header and the upload page name it (upload_new.html: 売上高, 賠償保険金額)
    assert [(row[0], row[1], row[2]) for row in rows] == [("3", "売上高", "たくさん"), ("5", "賠償保険金額", "2億")]
    assert "金額として読めません" in rows[0][3]
    assert "要見積" in rows[1][3]
    assert re.search(r'id="good-rows">2<', page.text)
    with live_portal.sessions() as s:
        # nothing built before the agent says so
        assert s.scalars(select(Job).join(Upload, Job.upload_id == Upload.id).where(Upload.public_id == upload_id)).all() == []

    r = client.post(f"/uploads/{upload_id}/build", data={"csrf_token": client.csrf})
    assert r.status_code == 303
    job_id = r.headers["location"].rsplit("/", 1)[1]
    job = wait_for_job(live_portal, job_id)
    assert job.state == "done", job.reason
    result = client.get(f"/jobs/{job_id}").text
    assert "株式会社 A&amp;B &lt;テスト&gt;" in result and "株式会社 参考" in result
    assert yen(seed_premium("D01", 450_000_000, OKU)) in result and yen(seed_premium("D01", 800_000_000, 3 * OKU)) in result

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/zip").content))
    pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert len(pdfs) == 2
    texts = [squash(pdf_text(archive.read(n), tmp_path)) for n in pdfs]
    assert any(squash("株式会社 A&B <テスト> 山田 様") in t for t in texts) and any(squash("株式会社 参考 佐藤 様") in t for t in texts)
    errors = client.get(f"/jobs/{job_id}/errors.csv").content.decode("utf-8-sig").splitlines()
    assert errors[0] == "row,column,value,reason" and errors[1].startswith("3,revenue,たくさん,") and errors[2].startswith("5,limit,2億,")

    other = live_portal.client("other_agent")
    assert other.get(f"/jobs/{job_id}").status_code == 404 and other.get(f"/uploads/{upload_id}").status_code == 404


def test_unreadable_list_is_refused_with_the_reason(live_portal) -> None:  # type: ignore[no-untyped-def]
    client = live_portal.client("agent")
    r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": ("list.csv", "名前,色\nA,赤\n".encode(), "text/csv")})
    message = re.search(r'id="message">(.*?)</p>', r.text, re.S).group(1)
    assert r.status_code == 400 and message.startswith("list.csv：") and "列「名前」は顧客リストの列ではありません" in message
    assert "storage" not in message and "uploads/" not in message  # the name the agent gave, never the server's path
    r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": ("list.pdf", b"%PDF-1.4", "application/pdf")})
    assert r.status_code == 400 and ".csv, .xlsx" in r.text


def test_restart_mid_job_resumes_and_tells_the_agent(live_portal) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    agent = live_portal.user("agent")
    root = live_portal.site.storage
    raw = {"client": "株式会社 再起動", "contact": "", "industry": "製造業", "revenue": "4.5億", "limit": "1億",
           "agent_name": AGENCY_A, "agent_contact": ""}
    with live_portal.sessions() as s:
        # what a server killed mid-build leaves: a running job and a half-written scratch folder
        job = Job(kind="pack", state="running", agency_id=agent.agency_id, user_id=agent.id, params={"request": raw, "today": "2026-11-26"},
                  total=1, done=0, result={})
        s.add(job)
        s.commit()
        job_id, public = job.id, job.public_id
    half = root / "tmp" / f"job-{job_id}" / "half"
    half.mkdir(parents=True)
    (half / "サイバーLite_ご提案書.pdf").write_bytes(b"%PDF-1.4 truncated")

    restarted = make_portal(live_portal.url, live_portal.site, threads=1, build_jobs=1, users=False)
    with TestClient(restarted.app):  # runs the app's startup, which resumes the job
        job = wait_for_job(restarted, job_id)
    assert job.state == "done" and job.reason == RESUMED
    page = live_portal.client("agent").get(f"/jobs/{public}")
    assert page.status_code == 303  # done: on to its pack
    with live_portal.sessions() as s:
        record = s.scalars(select(PackRecord).where(PackRecord.job_id == job_id)).one()
        records = {r.storage_key for r in s.scalars(select(PackRecord))}
    assert record.pdf_sha256 == hashlib.sha256((root / record.storage_key / "pack.pdf").read_bytes()).hexdigest()
    assert not (root / "tmp" / f"job-{job_id}").exists()
    # every pack folder in storage belongs to a ledger row and is complete; nothing half-written is served
    for folder in (root / "packs").iterdir():
        assert f"packs/{folder.name}" in records and {p.name for p in folder.iterdir()} == {"pack.pdf", "pack.zip"}


def test_a_failed_job_shows_its_reason_and_leaves_no_pack(live_portal) -> None:  # type: ignore[no-untyped-def]
    agent = live_portal.user("agent")
    raw = {"client": "伸和\x07企画", "contact": "", "industry": "製造業", "revenue": "4.5億", "limit": "1億", "agent_name": AGENCY_A, "agent_contact": ""}
    with live_portal.sessions() as s:
        # a job whose input no longer passes (say, stored before a rule was tightened): the worker checks it again
        job = Job(kind="pack", state="queued", agency_id=agent.agency_id, user_id=agent.id, params={"request": raw, "today": "2026-11-26"},
                  total=1, result={})
        s.add(job)
        s.commit()
        job_id, public = job.id, job.public_id
    live_portal.app.state.worker.submit(job_id)
    job = wait_for_job(live_portal, job_id)
    assert job.state == "failed" and "制御文字（U+0007）" in job.reason  # the agent's language, from the error's data
    page = live_portal.client("agent").get(f"/jobs/{public}")
    assert page.status_code == 200 and "制御文字（U+0007）" in page.text and 'data-state="failed"' in page.text
    with live_portal.sessions() as s:
        assert s.scalars(select(PackRecord).where(PackRecord.job_id == job_id)).all() == []
    # the agent finds it again from the history page, another agency does not
    assert f'href="/jobs/{public}"' in live_portal.client("agent").get("/history").text
    assert f'href="/jobs/{public}"' not in live_portal.client("other_agent").get("/history").text


def test_the_page_waiting_on_a_pack_is_answered_the_moment_it_is_in_the_ledger(live_portal, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The job worker wakes the held progress request itself: the page asks as htmx does (the fragment's hx-get, at
    once) and learns of the pack in a few requests, with a hold far longer than the build."""
    from generator.web.routers import agents

    monkeypatch.setattr(agents, "HOLD", 90.0)  # a request not woken answers only after this: the test fails on time
    client = live_portal.client("agent")
    form = {"client": "株式会社 待機", "industry": "製造業", "revenue": "4.5億", "limit": "1億", "csrf_token": client.csrf}
    job_url = client.post("/packs", data=form).headers["location"]
    page = client.get(job_url)
    asks = re.compile(r'hx-get="([^"]+)"')
    requests, began = 0, time.monotonic()
    while not page.headers.get("hx-redirect"):
        assert page.status_code == 200 and 'hx-trigger="load' in page.text, page.text
        requests += 1
        assert requests <= 3, "asked again and again: the request was not held until the job changed"
        page = client.get(asks.search(page.text).group(1).replace("&amp;", "&"))
    assert time.monotonic() - began < agents.HOLD, "the pack was there long before the held request was answered"
    assert page.headers["hx-redirect"] == job_url
    with live_portal.sessions() as s:
        job = s.scalar(select(Job).where(Job.public_id == job_url.rsplit("/", 1)[1]))
        assert job.state == "done", job.reason
        assert s.scalar(select(PackRecord).where(PackRecord.job_id == job.id)) is not None
