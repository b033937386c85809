"""Archiving a pack in two steps: staged (before the ledger's transaction), then installed by one rename."""

from __future__ import annotations

import zipfile
from pathlib import Path

from generator.web import storage


def built(folder: Path) -> tuple[Path, list[Path]]:
    folder.mkdir()
    pdf = folder / "サイバーLite_ご提案書.pdf"
    pdf.write_bytes(b"%PDF-1.7 pack")
    docx = [folder / "01_ご案内状.docx", folder / "02_お見積書.docx"]
    for n, d in enumerate(docx):
        d.write_bytes(b"PK docx %d" % n)
    return pdf, docx


def test_a_staged_archive_installs_under_its_record_and_holds_the_pdf_and_every_word_file(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    pdf, docx = built(tmp_path / "job")
    staging = storage.stage_pack(root, pdf, docx)
    assert staging.parent == root / "tmp" and not (root / "packs").exists()  # nothing a record could point at yet
    key = storage.install_pack(root, staging, 7)
    assert key == "packs/7" and not staging.exists()
    assert (root / key / storage.PACK_PDF).read_bytes() == b"%PDF-1.7 pack"
    with zipfile.ZipFile(root / key / storage.PACK_ZIP) as z:
        assert sorted(z.namelist()) == sorted([pdf.name, *(d.name for d in docx)])
        assert z.read(docx[1].name) == b"PK docx 1"
    storage.discard(staging)  # after installing: nothing to do


def test_installing_replaces_what_a_dead_run_left_under_the_same_record(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    (root / "packs" / "7").mkdir(parents=True)
    (root / "packs" / "7" / "half.pdf").write_bytes(b"left by a run that died before its row was committed")
    pdf, docx = built(tmp_path / "job")
    storage.install_pack(root, storage.stage_pack(root, pdf, docx), 7)
    assert sorted(p.name for p in (root / "packs" / "7").iterdir()) == sorted([storage.PACK_PDF, storage.PACK_ZIP])


def test_a_staged_archive_never_installed_is_discarded_whole(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    pdf, docx = built(tmp_path / "job")
    staging = storage.stage_pack(root, pdf, docx)
    storage.discard(staging)
    assert list((root / "tmp").iterdir()) == [] and pdf.exists()  # the built pack itself is not touched
