"""Tests for the brochure stage: one real LibreOffice build, checked against the content YAML and the seed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree
from pypdf import PdfReader

from generator.content.model import Product
from generator.errors import FontError, TemplateError
from tests.seed import seed_class_industries, seed_damages, seed_limit_labels, seed_printed_tables

pytestmark = pytest.mark.libreoffice

ALLOWED = {"IPAexGothic", "IPAexMincho"}
# Fields that are identifiers, references or metadata rather than printed wording.
NOT_PRINTED = {"id", "slug", "content_version", "approval_number", "rates_version", "fee", "section"}
FEES = {"free": "無料", "paid": "有料"}  # the brief's wording for RiskService.fee


def squash(text: str) -> str:
    """Compare text as read from a PDF: NFKC, no whitespace (extraction breaks lines and adds spaces)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def wareki(day: dt.date) -> str:
    """和暦 from first principles, not generator.jpformat: 令和 began on 2019-05-01 (year 1 is 元年)."""
    assert day >= dt.date(2019, 5, 1)
    year = day.year - 2018
    return f"令和{'元' if year == 1 else year}年{day.month}月{day.day}日"


def circled(i: int) -> str:
    return chr(0x2460 + i)


def printed_strings(obj: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, text) of every wording string in the product, found by walking the model generically."""
    found: list[tuple[str, str]] = []
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            if f.name in NOT_PRINTED or f.name in ("sources", "file_hashes", "key"):
                continue
            if re.fullmatch(r"emergency_support\.functions\[\d+\]", path) and f.name == "partners":
                continue  # partner IDs: their names are checked through emergency_support.partners
            found += printed_strings(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            found += printed_strings(item, f"{path}[{i}]")
    elif isinstance(obj, str) and obj:
        found.append((path, obj))
    return found


def section_titles(product: Product) -> list[str]:
    parts = [
        *product.background.sections,
        product.examples,
        product.features,
        product.coverage,
        product.emergency_support,
        product.exclusions,
        product.risk_services,
    ]
    return [f"{p.number}．{p.title}" for p in parts]


def body_blocks(path: Path) -> list[Paragraph | Table]:
    doc = Document(str(path))
    blocks: list[Paragraph | Table] = []
    for child in doc.element.body.iterchildren():
        if child.tag == qn("w:p"):
            blocks.append(Paragraph(child, doc))
        elif child.tag == qn("w:tbl"):
            blocks.append(Table(child, doc))
    return blocks


def table_after(blocks: list[Paragraph | Table], label: str) -> list[list[str]]:
    """Rows of cell texts of the first table after the heading reading exactly ``label`` (the cover lists titles too)."""
    start = next(i for i, b in enumerate(blocks) if isinstance(b, Paragraph) and b.text == label and b.style.name.startswith("Heading"))
    table = next(b for b in blocks[start + 1 :] if isinstance(b, Table))
    return [[cell.text for cell in row.cells] for row in table.rows]


def premium_cell(rows: list[list[str]], band: str, limit: str) -> str:
    header = next(r for r in rows if limit in r)
    row = next(r for r in rows if r[0] == band)
    return row[header.index(limit)]


@pytest.fixture(scope="module")
def pdf_pages(brochure) -> list[dict[str, str]]:
    """Per page: body text and header/footer text, split by the page margins of the built .docx."""
    section = Document(str(brochure.docx)).sections[0]
    top, bottom = section.top_margin.pt, section.bottom_margin.pt
    pages = []
    for page in PdfReader(brochure.pdf).pages:
        height = float(page.mediabox.height)
        parts: dict[str, list[str]] = {"body": [], "margin": []}

        def visit(text: str, cm: list, tm: list, font: Any, size: Any, parts: dict = parts, height: float = height) -> None:
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            parts["body" if bottom < y < height - top else "margin"].append(text)

        page.extract_text(visitor_text=visit)
        pages.append({k: "".join(v) for k, v in parts.items()})
    return pages


@pytest.fixture(scope="module")
def body_text(pdf_pages: list[dict[str, str]]) -> str:
    # Header and footer are left out so a paragraph running over a page break reads as one.
    return squash("".join(p["body"] for p in pdf_pages))


# --- text: every piece of content is printed -----------------------------------------------


def test_every_wording_string_is_in_the_pdf(product: Product, body_text: str) -> None:
    strings = printed_strings(product)
    assert len(strings) > 300
    missing = [(path, text) for path, text in strings if squash(text) not in body_text]
    assert not missing, "\n".join(f"{p}: {t[:60]}" for p, t in missing)


def test_named_content_is_in_the_pdf(product: Product, body_text: str) -> None:
    expected = [x.text for g in product.exclusions.groups for x in g.items]
    expected += [p.name for p in product.emergency_support.partners]
    expected += [s.name for s in product.risk_services.services] + [c.description for c in product.examples.cases]
    expected += [p.text for p in product.rates.premises] + section_titles(product)
    expected += [f"{item}：{amount}" for item, amount in seed_damages()]  # as the seed prints them: 原因調査費用：約1,000万円
    assert [t for t in expected if squash(t) not in body_text] == []


def test_all_premium_cells_are_in_the_pdf(body_text: str) -> None:
    printed = seed_printed_tables()  # the seed's own text: nothing formatted by the code under test
    assert sum(len(cells) for rows in printed.values() for _, cells in rows) == 75
    for code, rows in printed.items():
        table = "".join(label + "".join(cells) for label, cells in rows)
        assert squash(table) in body_text, code  # each band row reads label then its five premiums


# --- tables: values sit in the right cells ----------------------------------------------------


def test_premium_tables_cell_by_cell(brochure) -> None:
    """All 75 cells in their class's table, under their limit, in their band's row: headers, labels and cells as the seed prints them."""
    blocks = body_blocks(brochure.docx)
    headings = [p.text for p in blocks if isinstance(p, Paragraph) and re.match(r"D0\d：", p.text)]
    industries = seed_class_industries()
    checked = 0
    for code, printed_rows in seed_printed_tables().items():
        (heading,) = [h for h in headings if h.startswith(f"{code}：")]
        assert [s.rstrip("※") for s in heading.removeprefix(f"{code}：").split("、")] == industries[code]
        rows = table_after(blocks, heading)
        assert rows[0][0] == "売上高" and rows[0][1] == "賠償保険金額"
        assert rows[1][1:] == seed_limit_labels()
        assert rows[2:] == [[label, *cells] for label, cells in printed_rows], code
        checked += sum(len(cells) for _, cells in printed_rows)
    assert checked == 75


@pytest.mark.parametrize(
    ("label_start", "band", "limit", "premium"),
    [
        ("D01：製造業", "5億円以下", "1,000万円", "55,000円"),
        ("D02：物流業", "50億円超100億円以下", "3億円", "2,755,000円"),
        ("D03：通信", "5億円以下", "1,000万円", "82,000円"),
    ],
)
def test_premium_cells_straight_from_the_seed(brochure, label_start: str, band: str, limit: str, premium: str) -> None:
    blocks = body_blocks(brochure.docx)
    label = next(b.text for b in blocks if isinstance(b, Paragraph) and b.text.startswith(label_start))
    assert premium_cell(table_after(blocks, label), band, limit) == premium


def test_example_cases_table(product: Product, brochure) -> None:
    ex = product.examples
    rows = table_after(body_blocks(brochure.docx), f"{ex.number}．{ex.title}")
    assert rows[0] == ["業種", "攻撃種類", "事故内容", "主な想定被害額"]
    assert len(rows) == 1 + len(ex.cases)
    printed = iter(seed_damages())  # the seed lists each case's damages in case order
    for row, case in zip(rows[1:], ex.cases, strict=True):
        damages = [f"{item}：{amount}" for item, amount in (next(printed) for _ in case.damages)]
        assert row == [case.industry, case.attack, case.description, "\n".join(damages)]
    assert next(printed, None) is None  # and no seed damage is left over


def test_risk_services_and_support_functions_tables(product: Product, brochure) -> None:
    docx_tables = [[[c.text for c in r.cells] for r in b.rows] for b in body_blocks(brochure.docx) if isinstance(b, Table)]
    services = next(t for t in docx_tables if t[0] == ["サービス", "概要", "費用"])
    expected = [[f"{circled(i)}{s.name}", s.description, FEES[s.fee]] for i, s in enumerate(product.risk_services.services)]
    assert services[1:] == expected
    functions = next(t for t in docx_tables if t[0][0] == "機能")
    names = {p.id: p.name for p in product.emergency_support.partners}
    for row, fn in zip(functions[1:], product.emergency_support.functions, strict=True):
        assert row[0] == fn.name
        assert row[1].split("\n") == [f"・{s}" for s in fn.services]
        assert row[2].split("\n") == [names[p] for p in fn.partners]


def test_exclusions_are_numbered_paragraphs_in_their_groups(product: Product, brochure) -> None:
    paras = [b.text for b in body_blocks(brochure.docx) if isinstance(b, Paragraph)]
    for group in product.exclusions.groups:
        expected = [f"【{group.title}】"]
        for i, item in enumerate(group.items):
            expected.append(f"{circled(i)}{item.text}")
            expected += [item.note] if item.note else []
            expected += [f"{s.label}．{s.text}" for s in item.subitems]
        start = paras.index(expected[0])
        assert paras[start : start + len(expected)] == expected


# --- fonts, outline, footer, metadata --------------------------------------------------------


def test_fonts_are_embedded_ipaex_only(brochure) -> None:
    from generator.documents.fonts import check_fonts

    fonts = check_fonts(brochure.pdf)
    assert fonts and {f.name for f in fonts} <= ALLOWED and all(f.embedded for f in fonts)
    out = subprocess.run(["pdffonts", str(brochure.pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    assert rows
    for row in rows:
        assert re.sub(r"^[A-Z]{6}\+", "", row[0]) in ALLOWED, row
        assert row[-5] == "yes", row  # emb column


def test_template_names_only_ipaex_fonts(templates_dir: Path) -> None:
    with zipfile.ZipFile(templates_dir / "brochure.docx") as z:
        parts = {n: etree.fromstring(z.read(n)) for n in z.namelist() if n.endswith(".xml")}
    names: set[str] = set()
    for part, root in parts.items():
        for el in root.iter():
            for attr, value in el.attrib.items():
                local = etree.QName(attr).localname
                assert not local.endswith(("Theme", "theme")), f"{part}: theme font reference {local}"
                if etree.QName(el).localname == "rFonts" or (local == "typeface" and value):
                    names.add(value)
    assert names <= ALLOWED, names


def test_outline_top_level_is_the_eight_sections(product: Product, brochure) -> None:
    reader = PdfReader(brochure.pdf)
    top = [str(item.title) for item in reader.outline if not isinstance(item, list)]
    assert top == section_titles(product)
    assert len(top) == 8


def test_footer_on_every_page(product: Product, brochure, pdf_pages: list[dict[str, str]]) -> None:
    meta = product.meta
    approval = meta.approval_number or "未取得"
    wanted = [meta.name, f"第{meta.content_version}版", f"承認番号：{approval}", f"発効日：{wareki(meta.effective_date)}"]
    footer_xml = "".join(rel.target_part.blob.decode("utf-8") for rel in Document(str(brochure.docx)).part.rels.values() if rel.reltype.endswith("/footer"))
    assert re.search(r"<w:instrText[^>]*> PAGE </w:instrText>", footer_xml)
    assert re.search(r"<w:instrText[^>]*> NUMPAGES </w:instrText>", footer_xml)
    for number, page in enumerate(pdf_pages, start=1):
        margin = squash(page["margin"])
        assert all(squash(w) in margin for w in wanted), (number, page["margin"])
        assert margin.endswith(f"{number}/{len(pdf_pages)}"), page["margin"]
    assert brochure.pages == len(pdf_pages)


def test_pdf_metadata(product: Product, brochure) -> None:
    info = PdfReader(brochure.pdf).metadata
    assert info["/Title"] == product.meta.brochure_title
    assert info["/Author"] == product.meta.insurer.name
    assert info["/DocgenContentVersion"] == product.meta.content_version
    assert info["/DocgenRatesVersion"] == product.rates.rates_version
    assert info["/DocgenApproval"] == product.meta.approval_number
    keywords = info["/Keywords"]
    assert product.meta.content_version in keywords and product.rates.rates_version in keywords
    ids = [x.id for g in product.exclusions.groups for x in g.items] + [p.id for p in product.rates.premises]
    assert all(i in keywords.split() for i in ids)
    assert "/CreationDate" not in info and "/ModDate" not in info  # no wall-clock stamps


def test_output_names(product: Product, brochure) -> None:
    assert brochure.docx.name == f"{product.meta.slug}_brochure.docx"
    assert brochure.pdf.name == f"{product.meta.slug}_brochure.pdf"
    assert sorted(p.name for p in brochure.pdf.parent.iterdir()) == sorted([brochure.docx.name, brochure.pdf.name])


def test_building_twice_is_identical(brochure, brochure_again) -> None:
    assert brochure.docx.read_bytes() == brochure_again.docx.read_bytes()
    first = [p.extract_text() for p in PdfReader(brochure.pdf).pages]
    second = [p.extract_text() for p in PdfReader(brochure_again.pdf).pages]
    assert first == second


# --- failures publish nothing ----------------------------------------------------------------


def test_template_lint_is_clean(product: Product) -> None:
    from generator.documents.brochure import lint_brochure

    assert lint_brochure(product) == []


def test_template_error_publishes_nothing(product: Product, tmp_path: Path) -> None:
    from generator.documents.brochure import build_brochure

    doc = Document()
    doc.add_paragraph().add_run("{{ doc.title }} {{ no_such_variable }}")
    doc.save(tmp_path / "bad.docx")
    out = tmp_path / "out"
    with pytest.raises(TemplateError, match="no_such_variable"):
        build_brochure(product, out, template=tmp_path / "bad.docx")
    assert not out.exists()


def test_font_gate_failure_publishes_nothing(product: Product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.documents.brochure as brochure_module

    def refuse(pdf: Path) -> list:
        raise FontError(f"{pdf}: DejaVuSans not on the allow-list")

    monkeypatch.setattr(brochure_module, "check_fonts", refuse)
    out = tmp_path / "out"
    with pytest.raises(FontError):
        brochure_module.build_brochure(product, out)
    assert not out.exists()
