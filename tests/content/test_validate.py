"""`docgen validate` over the real content and over a corpus of one-defect copies of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.cli import main
from generator.content.load import load_product
from generator.content.model import CONTENT_FILES
from generator.content.validate import check_product

CONTENT = Path(__file__).resolve().parents[2] / "content"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
CORPUS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "validate").glob("bad.*.yaml"))
PRODUCT = "cyber_lite"


def test_real_content_is_clean(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {PRODUCT} ") and "75 premium cells" in out
    assert check_product(load_product(CONTENT / PRODUCT)) == []


def test_validate_exit_code_from_a_real_process():
    done = subprocess.run([sys.executable, "-m", "generator", "validate"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1  # a one-line summary per product


def _corrupt(tmp_path: Path, case: dict) -> tuple[Path, Path]:
    root = tmp_path / "content"
    shutil.copytree(CONTENT / PRODUCT, root / PRODUCT)
    target = root / PRODUCT / case["file"]
    if "rename" in case:
        target.rename(target.with_name(case["rename"]))
        return root, target.with_name(case["rename"])
    text = target.read_text(encoding="utf-8")
    assert text.count(case["find"]) == 1, f"fixture must match exactly once in {case['file']}: {case['find']!r}"
    target.write_text(text.replace(case["find"], case["replace"]), encoding="utf-8")
    return root, target


@pytest.mark.parametrize("fixture", CORPUS, ids=[p.name for p in CORPUS])
def test_each_defect_is_reported_with_file_line_and_path(fixture, tmp_path, capsys):
    case = yaml.safe_load(fixture.read_text(encoding="utf-8"))
    root, target = _corrupt(tmp_path, case)
    assert main(["--content", str(root), "validate"]) == 1
    err = capsys.readouterr().err.splitlines()
    matching = [line for line in err if case["expect"] in line]
    assert matching, f"expected {case['expect']!r} in:\n" + "\n".join(err)
    if case.get("line", True):
        needle = case.get("line_of", case["replace"].split("\n")[0])
        lines = target.read_text(encoding="utf-8").splitlines()
        hits = [i for i, line in enumerate(lines, 1) if needle.strip() in line]
        line_no = hits[case.get("nth", 1) - 1]
        assert any(f"{target.name}:{line_no}: " in line for line in matching), (line_no, matching)
    assert err[-1].startswith("docgen: ") and "problem(s) found" in err[-1]


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    cases = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in CORPUS]
    root = tmp_path / "content"
    shutil.copytree(CONTENT / PRODUCT, root / PRODUCT)
    picked = [c for c in cases if c["file"] == "coverage.yaml"]
    for case in picked:
        path = root / PRODUCT / case["file"]
        path.write_text(path.read_text(encoding="utf-8").replace(case["find"], case["replace"]), encoding="utf-8")
    assert main(["--content", str(root), "validate"]) == 1
    err = capsys.readouterr().err
    for case in picked:
        assert case["expect"] in err


def test_missing_file_and_unknown_product(tmp_path, capsys):
    root = tmp_path / "content"
    shutil.copytree(CONTENT / PRODUCT, root / PRODUCT)
    (root / PRODUCT / "exclusions.yaml").unlink()
    assert main(["--content", str(root), "validate"]) == 1
    assert "exclusions.yaml: missing content file" in capsys.readouterr().err
    assert main(["--content", str(root), "validate", "--product", "cyber_lit"]) == 2  # a bad option, not bad content
    assert "--product: 'cyber_lit': no such product; allowed: cyber_lite" in capsys.readouterr().err


def test_a_second_product_is_just_a_folder(tmp_path, capsys):
    root = tmp_path / "content"
    shutil.copytree(CONTENT / PRODUCT, root / PRODUCT)
    shutil.copytree(CONTENT / PRODUCT, root / "cyber_lite_2027")
    assert main(["--content", str(root), "validate"]) == 0
    assert capsys.readouterr().out.count("ok: ") == 2


def test_content_files_are_all_known():
    assert sorted(p.name for p in (CONTENT / PRODUCT).glob("*.yaml")) == sorted(CONTENT_FILES)


def test_a_broken_template_is_reported_by_name(tmp_path, capsys):
    from docx import Document

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    doc = Document(str(templates / "brochure.docx"))
    doc.add_paragraph("{{ doc.titel }}")  # an attribute typo only a real render finds
    doc.add_paragraph("{{ footer.product|shout }}")  # a filter that does not exist
    doc.save(str(templates / "brochure.docx"))
    assert main(["--templates", str(templates), "validate"]) == 1
    err = capsys.readouterr().err
    assert "brochure.docx: " in err and "unknown filter 'shout'" in err

    shutil.copy2(TEMPLATES / "brochure.docx", templates / "brochure.docx")
    doc = Document(str(templates / "wording.docx"))
    doc.add_paragraph("{{ coverage.intro_text }}")
    doc.save(str(templates / "wording.docx"))
    assert main(["--templates", str(templates), "validate"]) == 1
    err = capsys.readouterr().err
    assert "wording.docx: " in err and "intro_text" in err and "brochure.docx" not in err
