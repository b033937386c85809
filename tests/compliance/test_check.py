"""Compliance flow in a throwaway copy of the repository: build, drift, diff, redline, verify, revert."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from generator.documents.convert import convert_to_pdf, pdf_text
from tests.seed import seed_tables

# Every test here shares one module fixture that runs `docgen build` (LibreOffice) in a copy of the repository.
pytestmark = pytest.mark.libreoffice

REPO = Path(__file__).resolve().parents[2]
EXCLUSION_OLD = "記名被保険者の使用人等が行ったまたは加担もしくは共謀した窃盗、強盗、詐欺、横領または背任行為に起因する損害賠償請求"
EXCLUSION_NEW = "記名被保険者の使用人等が行ったまたは加担もしくは共謀した窃盗、強盗、恐喝、詐欺、横領または背任行為に起因する損害賠償請求"
D01_B1_1OKU = seed_tables()["D01"][0][2][3]  # 149,000円 in the seed


def _revised_paragraph(xml: str) -> str:
    """The one paragraph holding tracked changes."""
    (para,) = [p for p in re.findall(r"<w:p[ >].*?</w:p>", xml) if "<w:ins " in p or "<w:del " in p]
    return para


def accept_all(para: str) -> str:
    """Text after accepting every change: insertions stay, deletions go."""
    return re.sub(r"<[^>]+>", "", re.sub(r"<w:del [^>]*>.*?</w:del>", "", para))


def reject_all(para: str) -> str:
    """Text after rejecting every change: deletions stay, insertions go."""
    return re.sub(r"<[^>]+>", "", re.sub(r"<w:ins [^>]*>.*?</w:ins>", "", para))


def docgen(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the repository with freshly built, committed outputs."""
    root = tmp_path_factory.mktemp("repo")
    for part in ("generator", "content", "templates", "pyproject.toml"):
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / part)
    done = docgen(root, "build")
    assert done.returncode == 0, done.stderr
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "published")
    return root


def _sample_pack(repo: Path) -> Path:
    (pdf,) = (repo / "outputs" / "sample-pack").glob("*/*/*.pdf")
    return pdf


def test_fresh_outputs_pass_the_check(repo):
    done = docgen(repo, "check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("check: all 8 published outputs match")


def test_changed_premium_is_named_with_cell_and_file_line(repo):
    rates = repo / "content" / "cyber_lite" / "rates.yaml"
    original = rates.read_text(encoding="utf-8")
    row = "- [55000, 80000, 102000, 149000, 208000]"
    line = next(i for i, text in enumerate(original.splitlines(), 1) if row in text)
    rates.write_text(original.replace(row, "- [55000, 80000, 102000, 150000, 208000]"), encoding="utf-8")
    try:
        done = docgen(repo, "check")
    finally:
        rates.write_text(original, encoding="utf-8")
    assert done.returncode == 1
    expected = (
        f"outputs/brochure/cyber-lite_brochure.pdf is stale: rates D01 5億円以下 / 1億円 {D01_B1_1OKU:,}円 → 150,000円 "
        f"(content/cyber_lite/rates.yaml:{line}); run docgen build"
    )
    assert expected in done.stderr.splitlines()
    assert "02_お見積書.docx is stale: rates D01 5億円以下 / 1億円" in done.stderr
    assert "cyber-lite_wording.pdf is stale" in done.stderr  # its footer prints the content hash


def test_reworded_exclusion_check_diff_redline_verify_and_revert(repo, tmp_path):
    exclusions = repo / "content" / "cyber_lite" / "exclusions.yaml"
    original = exclusions.read_text(encoding="utf-8")
    assert original.count(EXCLUSION_OLD) == 1
    exclusions.write_text(original.replace(EXCLUSION_OLD, EXCLUSION_NEW), encoding="utf-8")
    try:
        check = docgen(repo, "check")
        assert check.returncode == 1
        stale = r"outputs/brochure/cyber-lite_brochure\.pdf is stale: clause EXC-LIA-02 changed \(content/cyber_lite/exclusions\.yaml:\d+\)"
        assert re.search(stale, check.stderr)
        assert "cyber-lite_wording.pdf is stale: clause EXC-LIA-02 changed" in check.stderr
        assert "03_重要事項説明書.docx is stale: clause EXC-LIA-02 changed" in check.stderr

        diff = docgen(repo, "diff", "HEAD", "content", "--out", str(tmp_path))
        assert diff.returncode == 0, diff.stderr
        (line,) = [x for x in diff.stdout.splitlines() if "EXC-LIA-02" in x]
        assert "changed" in line and "wording" in line and "brochure" in line and "重要事項説明書" in line
        assert "1 clause change(s), 0 premium change(s)" in diff.stdout
        (md,) = tmp_path.glob("*.md")
        assert "EXC-LIA-02" in md.read_text(encoding="utf-8")

        (redline,) = tmp_path.glob("*_redline.docx")
        xml = zipfile.ZipFile(redline).read("word/document.xml").decode()
        inserted = re.findall(r"<w:ins [^>]*w:author=\"docgen\"[^>]*>(.*?)</w:ins>", xml)
        assert [re.sub(r"<[^>]+>", "", x) for x in inserted] == ["恐喝、"]
        assert "<w:del " not in xml  # a pure insertion deletes nothing
        para = _revised_paragraph(xml)
        assert reject_all(para) == EXCLUSION_OLD and accept_all(para) == EXCLUSION_NEW
        (pdf,) = convert_to_pdf([redline], tmp_path / "pdf")
        text = "".join(pdf_text(pdf)).replace(" ", "").replace("\n", "")
        assert "恐喝" in text and "EXC-LIA-02" in text  # LibreOffice opened it and shows the change

        verify = docgen(repo, "verify", str(_sample_pack(repo)))
        assert verify.returncode == 1
        assert "does NOT match current content" in verify.stdout and "changed clause EXC-LIA-02" in verify.stdout
    finally:
        exclusions.write_text(original, encoding="utf-8")
    assert docgen(repo, "check").returncode == 0
    again = docgen(repo, "verify", str(_sample_pack(repo)))
    assert again.returncode == 0 and "matches current content" in again.stdout


def test_deleted_text_is_a_tracked_deletion(repo, tmp_path):
    exclusions = repo / "content" / "cyber_lite" / "exclusions.yaml"
    original = exclusions.read_text(encoding="utf-8")
    exclusions.write_text(original.replace(EXCLUSION_OLD, EXCLUSION_OLD.replace("、詐欺", "")), encoding="utf-8")
    try:
        assert docgen(repo, "diff", "HEAD", "content", "--out", str(tmp_path)).returncode == 0
    finally:
        exclusions.write_text(original, encoding="utf-8")
    xml = zipfile.ZipFile(next(tmp_path.glob("*_redline.docx"))).read("word/document.xml").decode()
    para = _revised_paragraph(xml)
    assert reject_all(para) == EXCLUSION_OLD and accept_all(para) == EXCLUSION_OLD.replace("、詐欺", "")
    deleted = [re.sub(r"<[^>]+>", "", x) for x in re.findall(r"<w:del [^>]*>(.*?)</w:del>", xml)]
    assert deleted in (["、詐欺"], ["詐欺、"]) and "<w:delText" in xml and "<w:ins " not in xml


def test_hand_edited_output_is_caught(repo):
    docx = repo / "outputs" / "wording" / "cyber-lite_wording.docx"
    saved = docx.read_bytes()
    other = repo / "outputs" / "brochure" / "cyber-lite_brochure.docx"
    docx.write_bytes(other.read_bytes())
    try:
        done = docgen(repo, "check")
    finally:
        docx.write_bytes(saved)
    assert done.returncode == 1
    assert "outputs/wording/cyber-lite_wording.docx was changed after it was built" in done.stderr


def test_missing_manifest(repo, tmp_path):
    done = docgen(repo, "check", "--outputs", str(tmp_path))
    assert done.returncode == 1 and "manifest.json is missing; run docgen build" in done.stderr


def test_diff_of_unknown_revision_is_a_clear_error(repo):
    done = docgen(repo, "diff", "no-such-rev", "content")
    assert done.returncode == 2
    assert "neither a content folder nor a git revision" in done.stderr
