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
from generator.errors import FontError, PageReferenceError, TemplateError
from tests.principles import content_hash
from tests.seed import seed_class_industries, seed_damages, seed_limit_labels, seed_printed_tables, seed_text

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
            if f.name in NOT_PRINTED or f.name in ("sources", "file_hashes", "key", "disclosures"):  # disclosures: the 重要事項説明書's
                continue
            if re.fullmatch(r"emergency_support\.functions\[\d+\]", path) and f.name == "partners":
                continue  # partner IDs: their names are checked through emergency_support.partners
            if re.search(r"\.steps\[\d+\]$", path) and f.name == "functions":
                continue  # function IDs: the diagram prints their names (checked in the diagram tests)
            found += printed_strings(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            found += printed_strings(item, f"{path}[{i}]")
    elif isinstance(obj, str) and obj:
        found.append((path, obj))
    return found


def section_ids(product: Product) -> list[str]:
    return [p.id for p in sections(product)]


def section_titles(product: Product) -> list[str]:
    return [f"{p.number}．{p.title}" for p in sections(product)]


def sections(product: Product) -> list[Any]:
    return [
        *product.background.sections,
        product.examples,
        product.features,
        product.coverage,
        product.emergency_support,
        product.exclusions,
        product.risk_services,
    ]


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


@pytest.fixture(scope="module")
def heading_pages(product: Product, brochure) -> dict[str, int]:
    """Section ID → 1-based page of its heading, read from the PDF outline (LibreOffice's bookmarks of heading 1)."""
    reader = PdfReader(brochure.pdf)
    titles = dict(zip(section_titles(product), section_ids(product), strict=True))
    return {titles[str(i.title)]: reader.get_destination_page_number(i) + 1 for i in reader.outline if not isinstance(i, list)}


def resolve(text: str, pages: dict[str, int]) -> str:
    """Wording as printed: a {page:ID} reads as the page number of section ID."""
    return re.sub(r"\{page:([A-Z0-9-]+)\}", lambda m: str(pages[m.group(1)]), text)


def test_every_wording_string_is_in_the_pdf(product: Product, body_text: str, heading_pages: dict[str, int]) -> None:
    strings = printed_strings(product)
    assert len(strings) > 300
    missing = [(path, text) for path, text in strings if squash(resolve(text, heading_pages)) not in body_text]
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
        assert re.search(rf"{content_hash()}{number}/{len(pdf_pages)}(?!\d)", margin), page["margin"]  # PAGE / NUMPAGES after the hash
    assert brochure.pages == len(pdf_pages)


def test_pdf_metadata(product: Product, brochure) -> None:
    info = PdfReader(brochure.pdf).metadata
    assert info["/Title"] == product.meta.brochure_title
    assert info["/Author"] == product.meta.insurer.name
    assert info["/DocgenContentVersion"] == product.meta.content_version
    assert info["/DocgenRatesVersion"] == product.rates.rates_version
    assert info["/DocgenApprovalNumber"] == (product.meta.approval_number or "未取得")
    keywords = info["/Keywords"]
    assert product.meta.content_version in keywords and product.rates.rates_version in keywords
    ids = [x.id for g in product.exclusions.groups for x in g.items] + [p.id for p in product.rates.premises]
    assert all(i in info["/DocgenClauseIds"].split() for i in ids)  # every clause printed, by ID
    assert "/CreationDate" not in info and "/ModDate" not in info  # no wall-clock stamps


def test_output_names(product: Product, brochure) -> None:
    assert brochure.docx.name == f"{product.meta.slug}_brochure.docx"
    assert brochure.pdf.name == f"{product.meta.slug}_brochure.pdf"
    assert sorted(p.name for p in brochure.pdf.parent.iterdir()) == sorted([brochure.docx.name, brochure.pdf.name])


def test_building_twice_is_identical(brochure, brochure_again) -> None:
    assert brochure.docx.read_bytes() == brochure_again.docx.read_bytes()
    assert brochure.pdf.read_bytes() == brochure_again.pdf.read_bytes()  # published bytes: no /ID, no timestamps, fixed subsets
    first = [p.extract_text() for p in PdfReader(brochure.pdf).pages]
    second = [p.extract_text() for p in PdfReader(brochure_again.pdf).pages]
    assert first == second


# --- failures publish nothing ----------------------------------------------------------------


def test_template_lint_is_clean(product: Product, templates_dir: Path) -> None:
    from generator.documents.brochure import lint_brochure

    assert lint_brochure(product, templates_dir) == []


def test_template_error_publishes_nothing(product: Product, tmp_path: Path) -> None:
    from generator.documents.brochure import build_brochure

    doc = Document()
    doc.add_paragraph().add_run("{{ doc.title }} {{ no_such_variable }}")
    doc.save(tmp_path / "brochure.docx")
    out = tmp_path / "out"
    with pytest.raises(TemplateError, match="no_such_variable"):
        build_brochure(product, out, templates=tmp_path)
    assert not out.exists()


def test_font_gate_failure_publishes_nothing(product: Product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, templates_dir: Path) -> None:
    import generator.documents.brochure as brochure_module

    def refuse(pdf: Path) -> list:
        raise FontError(f"{pdf}: DejaVuSans not on the allow-list")

    monkeypatch.setattr(brochure_module, "check_fonts", refuse)
    out = tmp_path / "out"
    with pytest.raises(FontError):
        brochure_module.build_brochure(product, out, templates=templates_dir)
    assert not out.exists()


# --- section 6: the 緊急時サポート総合サービス flow diagram ------------------------------------------

# The seed's diagram (section 6, first page), read off the printed brochure: the 有事 stages in arrow order,
# steps of a stage side by side, and the function labels printed against each step.
SEED_FLOW = [
    ["情報漏えい又はおそれの覚知"],
    ["対策本部の設置"],
    ["初動対応", "調査対応", "応急対応"],
    ["クライシス判断"],
    ["対策方針の決定"],
    ["広報対応", "問い合わせ対応", "事後対応", "再発防止"],
]
SEED_SERVES = {
    "初動対応": {"ｺｰﾃﾞｨﾈｰｼｮﾝ機能", "調査・応急対応支援機能"},
    "調査対応": {"調査・応急対応支援機能"},
    "応急対応": {"調査・応急対応支援機能"},
    "広報対応": {"緊急時広報支援機能"},
    "問い合わせ対応": {"ｺｰﾙｾﾝﾀｰ支援機能"},
    "事後対応": {"信頼回復支援機能"},
    "再発防止": set(),
}


def seed_section_6() -> str:
    text = seed_text()
    return text[text.index("緊急時サポート総合サービスの仕組みの概要") : text.index("７．保険金をお支払いできない主な場合")]


def grid(table: Table) -> list[list[str]]:
    """Per row, the text of each grid column's cell (a merged cell repeats over the columns it spans)."""
    return [[c.text for c in row.cells] for row in table.rows]


def phase_tables(brochure) -> dict[str, list[list[str]]]:
    """The diagram's tables, keyed by the phase printed in their band (column 0 of every row)."""
    found = {}
    for block in body_blocks(brochure.docx):
        if isinstance(block, Table) and len(block.columns) == 13:
            rows = grid(block)
            found[rows[0][0]] = rows
    return found


def distinct(row: list[str]) -> list[tuple[int, str]]:
    """(first grid column, text) per cell right of the band, merged columns counted once."""
    out: list[tuple[int, str]] = []
    for col, text in enumerate(row[1:], start=1):
        if not out or col > 1 and row[col - 1] != text or col == 1:
            out.append((col, text))
    return out


def test_diagram_bands_hold_their_phases(brochure) -> None:
    tables = phase_tables(brochure)
    assert list(tables) == ["平時", "有事"]
    for phase, rows in tables.items():
        assert {r[0] for r in rows} == {phase}  # one band merged down the whole phase
    peace = tables["平時"]
    assert peace[0][1:] == ["貴社のお取組み"] * 12
    assert any(cell.startswith("事前準備・対策\n・不正アクセス") for cell in peace[1])


def test_diagram_follows_the_seed_flow(brochure) -> None:
    rows = phase_tables(brochure)["有事"]
    titles = {t for stage in SEED_FLOW for t in stage}
    stages, arrows = [], 0
    for r, row in enumerate(rows):
        cells = [(col, text) for col, text in distinct(row) if text]
        if [t for _, t in cells] == ["↓"]:
            arrows += 1
            assert stages and r + 1 < len(rows), "an arrow stands between two stages"
            continue
        heads = [(col, text.split("\n")[0]) for col, text in cells]
        if heads and all(h in titles for _, h in heads):
            stages.append(heads)
            below = rows[r + 1] if r + 1 < len(rows) else []
            functions_row = bool(below) and all(t not in titles | {"↓"} for _, t in ((c, x.split("\n")[0]) for c, x in distinct(below) if x))
            for col, title in heads:  # the functions row: under each step, the functions serving it
                served = set(below[col].split("\n")) - {""} if functions_row else set()
                assert served == SEED_SERVES.get(title, set()), title
    assert [[t for _, t in s] for s in stages] == SEED_FLOW
    assert arrows == len(SEED_FLOW) - 1


def test_diagram_words_come_from_the_seed(product: Product) -> None:
    d = product.emergency_support.diagram
    words = [d.title, d.caption] + [n.text for n in d.notes]
    for phase in d.phases:
        words += [phase.title, phase.label]
        for stage in phase.stages:
            for step in stage.steps:
                words += [step.title, *step.points]
    words += [f.short_name or f.name for f in product.emergency_support.functions]
    seed = squash(seed_section_6())
    assert [w for w in words if w and squash(w) not in seed] == []


# The seed's section 6 as printed, against ours: its bullets 〇 are list marks (data, not text), its partner
# lists run on with 、 where ours prints one per line, and its diagram spells one partner half-width where
# content keeps the second page's table spelling (emergency_support.yaml).
SEED_6_PRINTED_OTHERWISE = {"ｳｴｰﾊﾞｰ･ｼｬﾝﾄﾞｳｨ"}


def test_every_fragment_of_the_seeds_section_6_is_printed(body_text: str) -> None:
    missing = []
    for line in seed_section_6().splitlines():
        for token in line.split():
            parts = [part for chunk in re.split(r"(?<=）)|、", token.lstrip("〇")) if (part := chunk.strip())]
            missing += [part for part in parts if squash(part) not in body_text and part not in SEED_6_PRINTED_OTHERWISE]
    assert missing == []


def test_diagram_page_is_selectable_text_in_flow_order(brochure, heading_pages: dict[str, int], pdf_pages: list[dict[str, str]]) -> None:
    page = squash(pdf_pages[heading_pages["ESS"] - 1]["body"])
    at = 0
    for title in ["緊急時サポート総合サービスの仕組みの概要", "貴社のお取組み", "事前準備・対策", *(t for s in SEED_FLOW for t in s)]:
        found = page.find(squash(title), at)
        assert found >= 0, title
        at = found
    for name in set().union(*SEED_SERVES.values()):
        assert squash(name) in page, name


# --- page references ------------------------------------------------------------------------


def feature_3_reference(body: str) -> str:
    """The page feature (3) cites for 『緊急時サポート総合サービス』, as printed: （P13） in the seed."""
    m = re.search(re.escape(squash("サポートする『緊急時サポート総合サービス』が付帯されます。（P")) + r"(\d+)" + re.escape(squash("）")), body)
    assert m, "feature (3)'s page reference is not printed"
    return m.group(1)


def test_seed_cites_section_6_by_page() -> None:
    assert "が付帯されます。（P13）" in seed_text()  # what the content's {page:ESS} stands for


def test_page_reference_prints_the_page_section_6_starts_on(body_text: str, heading_pages: dict[str, int]) -> None:
    assert feature_3_reference(body_text) == str(heading_pages["ESS"])


def field_shows(docx: Path) -> list[tuple[str, str]]:
    """(instruction, shown value) of every PAGEREF field in the Word file's body."""
    with zipfile.ZipFile(docx) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    return re.findall(r"<w:instrText[^>]*> (PAGEREF \S+) \\h </w:instrText>.*?fldCharType=\"separate\"/></w:r><w:r><w:t[^>]*>([^<]*)</w:t>", xml)


def test_word_file_field_shows_the_laid_out_page(brochure, heading_pages: dict[str, int]) -> None:
    assert field_shows(brochure.docx) == [("PAGEREF sec_ESS", str(heading_pages["ESS"]))]  # a reader without field updates sees it too


def _template_copy(templates_dir: Path, out: Path, change) -> Path:
    doc = Document(str(templates_dir / "brochure.docx"))
    heading = next(p for p in doc.paragraphs if p.text == "{{ emergency.heading }}")
    change(doc, heading)
    out.mkdir()
    doc.save(str(out / "brochure.docx"))
    return out


def _built_text(pdf: Path) -> str:
    return squash("".join(page.extract_text() or "" for page in PdfReader(pdf).pages))


def test_page_reference_follows_section_6_when_it_moves(product: Product, templates_dir: Path, tmp_path: Path, heading_pages: dict[str, int]) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    from generator.documents.brochure import build_brochure

    def add_page_before(doc, heading) -> None:  # one more page before section 6: a paragraph starting a page of its own
        heading._p.addprevious(parse_xml(f'<w:p {nsdecls("w")}><w:pPr><w:pageBreakBefore/></w:pPr><w:r><w:t>挿入ページ</w:t></w:r></w:p>'))

    moved = build_brochure(product, tmp_path / "out", templates=_template_copy(templates_dir, tmp_path / "tpl", add_page_before))
    reader = PdfReader(moved.pdf)
    ess = next(i for i in reader.outline if not isinstance(i, list) and str(i.title).startswith(f"{product.emergency_support.number}．"))
    page = reader.get_destination_page_number(ess) + 1
    assert page == heading_pages["ESS"] + 1
    assert feature_3_reference(_built_text(moved.pdf)) == str(page)
    assert field_shows(moved.docx) == [("PAGEREF sec_ESS", str(page))]


def test_reference_that_no_longer_resolves_publishes_nothing(product: Product, templates_dir: Path, tmp_path: Path) -> None:
    from generator.documents.brochure import build_brochure

    def drop_bookmark(doc, heading) -> None:
        for el in heading._p.findall(qn("w:bookmarkStart")) + heading._p.findall(qn("w:bookmarkEnd")):
            heading._p.remove(el)

    out = tmp_path / "out"
    with pytest.raises(PageReferenceError, match=r"features\.yaml:\d+: features\.features\[2\]\.paragraphs\[0\]: page reference \{page:ESS\}"):
        build_brochure(product, out, templates=_template_copy(templates_dir, tmp_path / "tpl", drop_bookmark))
    assert not out.exists()


def test_drift_check_catches_a_reference_that_no_longer_resolves(site, product: Product, templates_dir: Path, tmp_path: Path) -> None:
    import shutil
    from dataclasses import replace

    from generator import api

    def drop_bookmark(doc, heading) -> None:
        for el in heading._p.findall(qn("w:bookmarkStart")):
            heading._p.remove(el)

    broken = _template_copy(templates_dir, tmp_path / "tpl", drop_bookmark)
    for other in templates_dir.glob("*.docx"):
        if other.name != "brochure.docx":
            shutil.copy(other, broken / other.name)
    with pytest.raises(PageReferenceError, match=r"\{page:ESS\}"):
        api.check(replace(site, templates=broken, cache=tmp_path / "cache"), [product])
