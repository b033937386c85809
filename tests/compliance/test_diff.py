"""Diff, redline and provenance without git: two in-memory versions of the product."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zipfile

import pytest

from generator.compliance.diff import compare, markdown, segments, summary_lines
from generator.compliance.redline import write_redline
from generator.documents.facts import clauses, documents_using
from generator.documents.provenance import provenance_metadata, verify_pdf


def _reword_exclusion(product, group: int, item: int, text: str):
    exc = product.exclusions
    groups = list(exc.groups)
    items = list(groups[group].items)
    items[item] = dataclasses.replace(items[item], text=text)
    groups[group] = dataclasses.replace(groups[group], items=tuple(items))
    return dataclasses.replace(product, exclusions=dataclasses.replace(exc, groups=tuple(groups)))


def _reprice(product, cls: int, band: int, limit: int, premium: int):
    rates = product.rates
    classes = list(rates.classes)
    rows = [list(r) for r in classes[cls].premiums]
    rows[band][limit] = premium
    classes[cls] = dataclasses.replace(classes[cls], premiums=tuple(tuple(r) for r in rows))
    return dataclasses.replace(product, rates=dataclasses.replace(rates, classes=tuple(classes)))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("損害賠償請求", "損害賠償の請求"),
        ("保険料は年額", "保険金は月額"),
        ("", "新しい条項"),
        ("削除される条項", ""),
        ("窃盗、強盗、詐欺", "窃盗、詐欺"),
        ("1,000万円/3,000万円", "1,000万円/2,000万円/3,000万円"),
    ],
)
def test_segments_rebuild_both_versions(old, new):
    ops = segments(old, new)
    assert "".join(t for op, t in ops if op != "+") == old  # reject every change
    assert "".join(t for op, t in ops if op != "-") == new  # accept every change
    assert all(t for _, t in ops)


def test_no_change_is_empty(product):
    d = compare(product, product)
    assert d.empty and summary_lines(d) == ["no wording or premium changes between old and new"]


def test_changed_clause_and_cell_with_impact(product):
    first = product.exclusions.groups[0].items[0]
    new = _reprice(_reword_exclusion(product, 0, 0, first.text + "（改定）"), 0, 0, 3, 150_000)
    d = compare(product, new, "v1", "v2")
    assert [(c.id, c.kind) for c in d.clauses] == [(first.id, "changed")]
    assert set(d.clauses[0].used_by) >= {"brochure", "wording", "proposal: 重要事項説明書"}
    (cell,) = d.cells
    assert cell.describe() == "D01 5億円以下 / 1億円 149,000円 → 150,000円"
    assert "proposal: お見積書" in cell.used_by and "wording" not in cell.used_by
    md = markdown(d)
    assert f"### {first.id}" in md and "| D01/B1/100000000 | D01 5億円以下 / 1億円 149,000円 → 150,000円 |" in md


def test_added_and_removed_clauses(product):
    exc = product.exclusions
    group = exc.groups[2]
    removed = group.items[-1]
    added = dataclasses.replace(removed, id="EXC-BI-99", text="新たに追加された除外事由")
    groups = (*exc.groups[:2], dataclasses.replace(group, items=(*group.items[:-1], added)))
    new = dataclasses.replace(product, exclusions=dataclasses.replace(exc, groups=groups))
    kinds = {c.id: c.kind for c in compare(product, new).clauses}
    assert kinds[removed.id] == "removed" and kinds["EXC-BI-99"] == "added"


def test_letter_changes_reach_only_the_letter_and_brochure_cover(product):
    letter = product.letter
    body = (dataclasses.replace(letter.body[0], text=letter.body[0].text + "。"), *letter.body[1:])
    new = dataclasses.replace(product, letter=dataclasses.replace(letter, body=body))
    (change,) = compare(product, new).clauses
    assert change.used_by == ["proposal: ご案内状"]
    assert documents_using("letter.body[0]") == ["proposal: ご案内状"]


def test_redline_changes_accept_to_new_and_reject_to_old(product, templates_dir, tmp_path):
    first = product.exclusions.groups[0].items[1]
    new_text = first.text.replace("窃盗、強盗", "窃盗、恐喝、強盗")
    new = _reprice(_reword_exclusion(product, 0, 1, new_text), 2, 4, 4, 2_000_000)
    out = write_redline(compare(product, new, "v1", "v2"), tmp_path / "r.docx", templates=templates_dir, author="審査部", when=dt.datetime(2026, 11, 26, 9, 0))
    xml = zipfile.ZipFile(out).read("word/document.xml").decode()
    assert 'w:author="審査部"' in xml and 'w:date="2026-11-26T09:00:00Z"' in xml
    ids = [int(i) for i in re.findall(r"<w:(?:ins|del) w:id=\"(\d+)\"", xml)]
    assert ids == sorted(set(ids))  # unique revision ids, in order
    paragraphs = [p for p in re.findall(r"<w:p[ >].*?</w:p>", xml) if "<w:ins " in p or "<w:del " in p]
    strip = lambda s: re.sub(r"<[^>]+>", "", s)  # noqa: E731
    accepted = [strip(re.sub(r"<w:del [^>]*>.*?</w:del>", "", p)) for p in paragraphs]
    rejected = [strip(re.sub(r"<w:ins [^>]*>.*?</w:ins>", "", p)) for p in paragraphs]
    assert accepted == [new_text, "2,000,000円"] and rejected == [first.text, "1,907,000円"]
    settings = zipfile.ZipFile(out).read("word/settings.xml").decode()
    assert "<w:trackRevisions/>" in settings
    assert settings.index("<w:trackRevisions/>") < settings.index("<w:defaultTabStop")  # CT_Settings order
    again = write_redline(compare(product, new, "v1", "v2"), tmp_path / "r2.docx", templates=templates_dir,
                          author="審査部", when=dt.datetime(2026, 11, 26, 9, 0))
    assert again.read_bytes() == out.read_bytes()


def test_provenance_lists_the_clauses_a_document_prints(product):
    meta = provenance_metadata(product, ["proposal: ご案内状"])
    ids = meta["/DocgenClauseIds"].split()
    assert ids and all(i.startswith("LTR") for i in ids)
    assert "/DocgenCells" not in meta
    wording = provenance_metadata(product, ["wording"])["/DocgenClauseIds"].split()
    assert {e.id for g in product.exclusions.groups for e in g.items} <= set(wording)
    assert set(wording) <= set(clauses(product))


@pytest.mark.libreoffice  # the brochure fixture is a real LibreOffice build
def test_verify_brochure_now_and_after_a_change(product, brochure):
    assert verify_pdf(brochure.pdf, product).matches
    first = product.exclusions.groups[1].items[0]
    changed = _reprice(_reword_exclusion(product, 1, 0, first.text + "（改定）"), 1, 0, 0, 120_000)
    result = verify_pdf(brochure.pdf, changed)
    assert not result.matches
    assert result.changed == [first.id]
    assert result.premiums == ["D02 5億円以下 / 1,000万円: 119,000円 → 120,000円"]
