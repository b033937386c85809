"""Verify in the portal (issue 24): the same verdict as `docgen verify` for the same file, in Japanese; nothing of the
upload kept beyond the audit entry and its SHA-256; the size bounded.

The PDFs are the published sample pack (outputs/, what `docgen check` keeps current) and copies of it changed the way
a forger would: pages swapped, a clause's stamp changed, signed then one byte flipped. No LibreOffice is started.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select

from generator.cli import main
from generator.documents.signing import ENV_CERT, ENV_KEY, ENV_TRUST, load_signer, sign_pdf
from generator.settings import load as load_settings
from generator.store.audit import AuditEntry
from tests.compliance.test_signing import make_pki
from tests.web.conftest import REPO

SAMPLE = next((REPO / "outputs" / "sample-pack").rglob("*.pdf"))


def rewrite(target: Path, order: list[int] | None = None, metadata: dict[str, str] | None = None) -> Path:
    """The sample pack with its pages in ``order`` and its metadata (bookmarks kept) updated by ``metadata``."""
    reader = PdfReader(SAMPLE)
    writer = PdfWriter()
    for i in order if order is not None else range(len(reader.pages)):
        writer.add_page(reader.pages[i])
    for item in reader.outline:
        if not isinstance(item, list):
            writer.add_outline_item(title=str(item.title), page_number=reader.get_destination_page_number(item))
    writer.add_metadata({**{k: v for k, v in reader.metadata.items()}, **(metadata or {})})
    writer.write(target)
    return target


def cli_verdict(pdf: Path, capsys) -> dict:  # type: ignore[no-untyped-def]
    """What `docgen verify --json` says about ``pdf`` (the command-line face over the same API)."""
    capsys.readouterr()
    main(["verify", "--json", str(pdf)])
    return json.loads(capsys.readouterr().out)


def upload(client, pdf: Path | bytes, name: str = "届いた提案書.pdf"):  # type: ignore[no-untyped-def]
    data = pdf if isinstance(pdf, bytes) else pdf.read_bytes()
    return client.post("/verify", data={"csrf_token": client.csrf}, files={"file": (name, data, "application/pdf")})


@pytest.fixture(scope="module")
def officer(portal):  # type: ignore[no-untyped-def]
    return portal.client("compliance")


def status_of(page: str) -> str:
    return re.search(r'id="verdict" data-status="(\w+)"', page).group(1)


def test_an_untouched_pack_matches_as_on_the_command_line(portal, officer, capsys) -> None:  # type: ignore[no-untyped-def]
    r = upload(officer, SAMPLE)
    assert r.status_code == 200, r.text[:400]
    cli = cli_verdict(SAMPLE, capsys)
    assert cli["status"] == "matches" and status_of(r.text) == "matches"
    assert "現在の内容と一致します" in r.text
    assert f'id="built-from">{cli["built_from"]}<' in r.text and f'id="current">{cli["current"]}<' in r.text
    assert "電子署名なし" in r.text  # the sample pack is a draft: never signed
    assert hashlib.sha256(SAMPLE.read_bytes()).hexdigest() in r.text


def test_swapped_pages_are_altered_as_on_the_command_line(portal, officer, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    n = len(PdfReader(SAMPLE).pages)
    swapped = rewrite(tmp_path / "swapped.pdf", [1, 0, *range(2, n)])
    cli = cli_verdict(swapped, capsys)
    r = upload(officer, swapped)
    assert r.status_code == 200 and status_of(r.text) == "altered" and cli["status"] == "differs" and cli["altered"]
    assert "改ざんの疑い（ALTERED）" in r.text
    # the first two pages (the letter and the quote, by the pack's bookmarks) are not the ones docgen made
    assert "1ページ目（ご案内状）：docgen が作成した後に差し替えまたは編集されています" in r.text
    assert "2ページ目（お見積書）：docgen が作成した後に差し替えまたは編集されています" in r.text
    assert len(re.findall(r"<li>", r.text.split('id="altered"')[1].split("</ul>")[0])) == len(cli["altered"])


def test_a_changed_clause_differs_and_is_named(portal, officer, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    stamps = str(PdfReader(SAMPLE).metadata["/DocgenClauses"]).split()
    first_id = stamps[0].partition("=")[0]
    stamps[0] = f"{first_id}=0000000000"  # as if the PDF was built when that clause read differently
    older = rewrite(tmp_path / "older.pdf", metadata={"/DocgenClauses": " ".join(stamps)})
    cli = cli_verdict(older, capsys)
    assert cli["status"] == "differs" and cli["changed_clauses"] == [first_id] and cli["altered"] == []
    r = upload(officer, older)
    assert status_of(r.text) == "differs" and "現在の内容と一致しません" in r.text
    assert f"<td>{first_id}</td>" in r.text.split('id="changed"')[1]


def test_a_signature_is_checked_and_one_flipped_byte_breaks_it(portal, officer, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pki = make_pki(tmp_path)
    monkeypatch.setenv(ENV_TRUST, str(pki["ca"]))  # the insurer's CA configured, as in tests/compliance/test_signing.py
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(SAMPLE.read_bytes())
    sign_pdf(signed, load_signer(load_settings({ENV_KEY: str(pki["key"]), ENV_CERT: str(pki["cert"])})), reason="テスト 承認番号 T-1")
    cli = cli_verdict(signed, capsys)
    assert cli["status"] == "matches" and cli["signature"]["ok"] and cli["signature"]["signed"] and cli["signature"]["trusted"], cli["signature"]
    r = upload(officer, signed)
    assert status_of(r.text) == "matches" and "電子署名は有効です" in r.text and "Test Insurer Signing" in r.text
    assert "信頼点（DOCGEN_SIGNING_TRUST）で確認済み" in r.text
    data = bytearray(signed.read_bytes())
    at = data.index(b"/DocgenContentHash") + 2  # a byte the signature covers, in the document info
    data[at] ^= 0x20
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(bytes(data))
    cli = cli_verdict(broken, capsys)
    assert cli["status"] == "differs" and not cli["signature"]["ok"]
    r = upload(officer, broken)
    assert status_of(r.text) != "matches" and "電子署名が無効です" in r.text


def test_not_a_docgen_pdf_says_so_in_japanese(portal, officer) -> None:  # type: ignore[no-untyped-def]
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    blank = io.BytesIO()
    writer.write(blank)
    r = upload(officer, blank.getvalue(), "blank.pdf")
    assert r.status_code == 400 and "docgen が作成した PDF ではありません" in r.text
    r = upload(officer, b"this is not a PDF at all", "note.pdf")
    assert r.status_code == 400 and "PDF として読み込めません" in r.text
    assert tempfile.gettempdir() not in r.text and "upload.pdf" not in r.text  # no server path on the page
    r = officer.post("/verify", data={"csrf_token": officer.csrf})
    assert r.status_code == 400 and "検証する PDF を選んでください" in r.text


def test_nothing_of_the_upload_is_kept_but_its_hash(portal, officer) -> None:  # type: ignore[no-untyped-def]
    def leftovers() -> set[str]:
        return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("docgen-verify-")}

    before_storage = sorted(str(p) for p in portal.site.storage.rglob("*"))
    before_tmp = leftovers()
    data = SAMPLE.read_bytes()
    assert upload(officer, data, "有限会社 伸和企画 御中.pdf").status_code == 200
    assert leftovers() == before_tmp  # the temp copy is gone
    assert sorted(str(p) for p in portal.site.storage.rglob("*")) == before_storage  # nothing stored
    with portal.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "verify").order_by(AuditEntry.seq.desc())).first()
    assert entry.actor == portal.emails["compliance"]
    assert entry.target == entry.detail["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry.detail["bytes"] == len(data) and entry.detail["status"] == "matches"
    assert "伸和企画" not in json.dumps(entry.detail, ensure_ascii=False)  # not the file's name, which names a client


def test_the_upload_is_bounded(portal, officer) -> None:  # type: ignore[no-untyped-def]
    settings = portal.app.state.settings
    portal.app.state.settings = dataclasses.replace(settings, verify_max_bytes=2**20)  # 1 MB
    pack = SAMPLE.read_bytes()
    big = pack + b"%" + b"0" * max(0, 2**20 + 1 - len(pack)) + b"\n"  # the sample pack, a comment after it: just over 1 MB
    try:
        assert len(big) > 2**20
        r = upload(officer, big)
        assert r.status_code == 413 and "1 MB を超えています" in r.text
    finally:
        portal.app.state.settings = settings
    huge = officer.post("/verify", data={"csrf_token": officer.csrf},
                        files={"file": ("huge.pdf", b"0" * (settings.verify_max_bytes + 2 * 2**20), "application/pdf")})
    assert huge.status_code == 413  # refused by its length before the body is read


def test_admin_verifies_too_agents_and_marketing_cannot(portal) -> None:  # type: ignore[no-untyped-def]
    admin = portal.client("admin")
    assert status_of(upload(admin, SAMPLE).text) == "matches"
    for who in ("agent", "marketing"):
        client = portal.client(who)
        assert client.get("/verify").status_code == 403
        r = upload(client, SAMPLE)
        assert r.status_code == 403 and "現在の内容と一致" not in r.text
