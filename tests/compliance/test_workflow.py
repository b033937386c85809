"""The approval workflow end to end through the CLI, with real LibreOffice builds in a throwaway site.

draft pack (watermark) → submit → approve → pack prints the number (no watermark) → one exclusion reworded →
new pack is a draft again and `docgen check` names the approval the published outputs no longer match.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from generator.cli import main
from generator.documents.watermark import DRAFT_TEXT
from tests.compliance.conftest import reviewers_database
from tests.compliance.disclosure_helpers import TEST_WORDING, fill_pending

REPO = Path(__file__).resolve().parents[2]
NUMBER = "CL-TEST-2026-001"
CLIENT = ["--contact", "上", "--industry", "製造業", "--revenue", "4.5億", "--limit", "1億", "--date", "2026-12-02"]

pytestmark = pytest.mark.libreoffice


def reword_first_exclusion(exclusions: Path) -> str:
    """Append a sentence to the first exclusion's text; returns its ID."""
    lines = exclusions.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip().startswith("- id: EXC-") and lines[i + 1].strip().startswith("text:"):  # an item, not a group
            cid = line.split(":", 1)[1].strip()
            j = i + 1
            head, _, value = lines[j].partition("text:")
            value = value.strip()
            quote = value[0] if value[:1] in "\"'" else ""
            body = value.strip("\"'")
            lines[j] = f"{head}text: {quote}{body}（改定）{quote}\n"
            exclusions.write_text("".join(lines), encoding="utf-8")
            return cid
    raise AssertionError("no exclusion found")


def red_pixels(pdf: Path, page: int, out: Path) -> int:
    """Pixels of the watermark's red (solid or translucent) on one page rendered at 60 dpi (how a person would see it).

    Nothing else on a letter page is red: the brand colours are blue and grey.
    """
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(out)], check=True)
    img = Image.open(out.with_suffix(".png")).convert("RGB")
    return sum(1 for r, g, b in img.get_flattened_data() if r > 150 and r - g > 50 and r - b > 50)


def pages_text(pdf: Path) -> list[str]:
    return [p.extract_text() or "" for p in PdfReader(pdf).pages]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(REPO / "content", root / "content")
    shutil.copytree(REPO / "templates", root / "templates", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    fill_pending(root / "content" / "cyber_lite" / "disclosures.yaml")
    mp = pytest.MonkeyPatch()
    for var, sub in (("DOCGEN_CONTENT", "content"), ("DOCGEN_TEMPLATES", "templates"), ("DOCGEN_OUTPUTS", "outputs"), ("DOCGEN_STORAGE", "storage")):
        mp.setenv(var, str(root / sub))
    mp.delenv("DOCGEN_DATABASE_URL", raising=False)
    url = f"sqlite:///{root / 'storage' / 'docgen.sqlite3'}"
    reviewers_database(url)
    runs: dict = {"root": root}

    def run(name: str, *argv: str) -> None:
        import contextlib
        import io

        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(list(argv))
        runs[name] = {"code": code, "out": out.getvalue(), "err": err.getvalue()}

    try:
        run("draft", "proposal", "--client", "株式会社 草案", *CLIENT, "--out", str(root / "packs"))
        run("submit", "submit", "--user", "marketing@example.jp")
        run("self", "approve", "--user", "marketing@example.jp")
        run("approve", "approve", "--user", "compliance@example.jp", "--number", NUMBER, "--valid-from", "2026-01-01")
        run("approved", "proposal", "--client", "株式会社 承認後", *CLIENT, "--out", str(root / "packs"))
        run("build", "build")
        run("check_ok", "check")
        runs["changed_id"] = reword_first_exclusion(root / "content" / "cyber_lite" / "exclusions.yaml")
        run("changed", "proposal", "--client", "株式会社 改定後", *CLIENT, "--out", str(root / "packs"))
        run("check_changed", "check")
        run("audit", "audit", "verify")
    finally:
        mp.undo()
    return runs


def _pdf(scenario: dict, client: str) -> Path:
    return scenario["root"] / "packs" / f"{client} 上" / "サイバーLite_ご提案書.pdf"


def test_pack_before_approval_is_a_draft_on_every_page(scenario: dict, tmp_path: Path) -> None:
    assert scenario["draft"]["code"] == 0, scenario["draft"]["err"]
    assert "DRAFT" in scenario["draft"]["err"]  # the CLI says so on the build
    pdf = _pdf(scenario, "株式会社 草案")
    texts = pages_text(pdf)
    assert all(DRAFT_TEXT in t for t in texts), [i for i, t in enumerate(texts) if DRAFT_TEXT not in t]
    info = PdfReader(pdf).metadata
    assert info["/DocgenDraft"] == "true" and info["/DocgenApprovalNumber"] == "未取得"
    assert red_pixels(pdf, 1, tmp_path / "draft-p1") > 500  # the banner and the diagonal notice are visible


def test_submitter_cannot_approve_it(scenario: dict) -> None:
    assert scenario["submit"]["code"] == 0, scenario["submit"]["err"]
    assert scenario["self"]["code"] == 2  # a --user whose role may not approve is a bad option (README exit codes)
    assert "role 'marketing' cannot approve" in scenario["self"]["err"]


def test_pack_after_approval_prints_the_number_and_no_watermark(scenario: dict, tmp_path: Path) -> None:
    assert scenario["approve"]["code"] == 0, scenario["approve"]["err"]
    assert NUMBER in scenario["approve"]["out"]
    assert scenario["approved"]["code"] == 0, scenario["approved"]["err"]
    assert f"approval number {NUMBER}" in scenario["approved"]["err"]
    pdf = _pdf(scenario, "株式会社 承認後")
    texts = pages_text(pdf)
    assert not any(DRAFT_TEXT in t for t in texts)
    footers = [t for t in texts if "承認番号" in t]
    assert footers and all(NUMBER in t for t in footers)
    info = PdfReader(pdf).metadata
    assert info["/DocgenDraft"] == "false" and info["/DocgenApprovalNumber"] == NUMBER and NUMBER in info["/Keywords"]
    assert red_pixels(pdf, 1, tmp_path / "approved-p1") == 0
    # the 重要事項説明書 prints the (test) wording of the once-missing items, and no placeholder
    joined = "".join(texts)
    assert TEST_WORDING in joined and "【未記載】" not in joined


def test_published_outputs_match_the_approval(scenario: dict) -> None:
    assert scenario["build"]["code"] == 0, scenario["build"]["err"]
    assert scenario["check_ok"]["code"] == 0, scenario["check_ok"]["err"]
    assert f"published outputs match approval {NUMBER}" in scenario["check_ok"]["out"]


def test_changed_exclusion_makes_new_packs_drafts_again(scenario: dict, tmp_path: Path) -> None:
    assert scenario["changed"]["code"] == 0, scenario["changed"]["err"]
    pdf = _pdf(scenario, "株式会社 改定後")
    texts = pages_text(pdf)
    assert all(DRAFT_TEXT in t for t in texts)
    assert not any(NUMBER in t for t in texts)
    assert PdfReader(pdf).metadata["/DocgenDraft"] == "true"
    assert red_pixels(pdf, 1, tmp_path / "changed-p1") > 500
    # the pack approved before is untouched and still carries the number
    assert PdfReader(_pdf(scenario, "株式会社 承認後")).metadata["/DocgenApprovalNumber"] == NUMBER


def test_check_names_the_approval_outputs_no_longer_match(scenario: dict) -> None:
    result = scenario["check_changed"]
    assert result["code"] == 1
    assert f"were approved as {NUMBER}" in result["err"] and "has no valid approval" in result["err"]
    assert f"clause {scenario['changed_id']} changed" in result["err"]


def test_audit_chain_of_the_workflow_verifies(scenario: dict) -> None:
    assert scenario["audit"]["code"] == 0, scenario["audit"]["err"]
    assert "audit log intact: 2 entries" in scenario["audit"]["out"]  # submit, approve
