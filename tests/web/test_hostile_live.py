"""The issuing policy end to end (issue 23): a list naming the agency its own way builds a pack that prints the
account's agency, agent and today's date; the all-packs zip holds the pack's files directly."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from generator.jpformat import format_date
from generator.web.routers.agents import _today
from tests.web.conftest import AGENCY_A, wait_for_job

pytestmark = pytest.mark.libreoffice


def test_a_list_pack_prints_the_account_not_the_list(live_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = live_portal.client("agent")
    csv = ("会社名,業種,売上高,賠償保険金額,代理店名,代理店連絡先,日付\n"
           "株式会社 方針,製造業,4.5億,1億,㈱　さくら保険ｻｰﾋﾞｽ,,\n"
           "株式会社 他社名,製造業,4.5億,1億,ひまわり保険代理店,,\n")
    r = client.post("/uploads", data={"csrf_token": client.csrf}, files={"file": ("方針.csv", csv.encode(), "text/csv")})
    assert r.status_code == 303
    upload = r.headers["location"].rsplit("/", 1)[1]
    r = client.post(f"/uploads/{upload}/build", data={"csrf_token": client.csrf})
    job_id = r.headers["location"].rsplit("/", 1)[1]
    job = wait_for_job(live_portal, job_id)
    assert job.state == "done", job.reason
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/zip").content))
    names = archive.namelist()
    assert not [n for n in names if n.endswith(".zip")] and [n for n in names if n.endswith(".docx")]
    (pdf_name,) = [n for n in names if n.endswith(".pdf")]
    assert pdf_name.startswith("株式会社 方針/")
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(archive.read(pdf_name))
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60).stdout)
    assert AGENCY_A in text and "担当：agent" in text and re.sub(r"\s+", "", format_date(_today())) in text
    assert "ｻｰﾋﾞｽ" not in text and "ひまわり" not in text
