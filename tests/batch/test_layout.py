"""Layout documents: many rendered .docx in one, their own page counts in the footers, the static tail of a template."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from generator.batch import typeset as ts
from generator.batch.layout import STATIC_MARK, Group, Piece, Source, compose, same_styles
from generator.batch.typeset import Doc, Job, Layout, learn_layout, typeset
from generator.content.model import Product
from generator.content.request import parse_client
from generator.documents.proposal import plan_pack
from generator.documents.render import render_docx

CLIENTS = ["株式会社 一番", "有限会社 二番"]

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def rendered(product: Product, tmp_path: Path, key: str) -> list[Path]:
    out = []
    for client in CLIENTS:
        request, _ = parse_client({"client": client, "industry": "製造業", "revenue": "4.5億", "limit": "1億", "date": "2026-11-26"})
        plan = plan_pack(product, request, dt.date(2030, 1, 1), TEMPLATES)
        out.append(render_docx(TEMPLATES / f"{key}.docx", plan.contexts[key], tmp_path / f"{client}-{key}.docx"))
    return out


def xml(docx: Path, name: str) -> str:
    with zipfile.ZipFile(docx) as z:
        return z.read(name).decode()


def test_compose_gives_each_document_a_section_a_bookmark_and_its_own_page_count(product: Product, tmp_path: Path) -> None:
    sources = [Source.read(p) for p in rendered(product, tmp_path, "quote")]
    assert sources[0].shell == sources[1].shell and sources[0].combinable()
    out = compose(sources[0], [Piece(f"DocgenPiece{i}", s.blocks, s.sect, 3) for i, s in enumerate(sources)], tmp_path / "layout.docx")
    body = xml(out, "word/document.xml")
    assert body.count("<w:sectPr") == 2 and body.count('w:start="1"') == 2  # numbering restarts for every document
    assert re.findall(r'w:name="(DocgenPiece\d)"', body) == ["DocgenPiece0", "DocgenPiece1"]
    assert all(client in body for client in CLIENTS)
    footer = xml(out, "word/footer1.xml")
    assert "NUMPAGES" not in footer and " PAGE " in footer  # the page number stays a field, the count is printed
    assert re.search(r"<w:t[^>]*>3</w:t>", footer)
    assert "NUMPAGES" in xml(sources[0].path, "word/footer1.xml")  # the client's own Word file keeps its field


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def style_ids(xml_text: str) -> set[str]:
    return set(re.findall(r'w:styleId="([^"]+)"', xml_text))


def test_documents_of_one_family_share_a_layout_document_each_printing_its_own_count(product: Product, tmp_path: Path) -> None:
    letter = Source.read(rendered(product, tmp_path, "letter")[0])
    disclosure = Source.read(rendered(product, tmp_path, "disclosure")[0])
    assert letter.family == disclosure.family  # the same package but for the body and the styles each defines
    pieces = [Piece("DocgenPiece0", letter.blocks, letter.sect, 1), Piece("DocgenPiece1", disclosure.blocks, disclosure.sect, 5)]
    out = compose(letter, pieces, tmp_path / "layout.docx", [disclosure])
    # every style either document uses is defined
    assert style_ids(xml(out, "word/styles.xml")) == style_ids(xml(letter.path, "word/styles.xml")) | style_ids(xml(disclosure.path, "word/styles.xml"))
    rels = xml(out, "word/_rels/document.xml.rels")
    footers_by_id = dict(re.findall(r'Id="([^"]+)" Type="[^"]+/footer" Target="([^"]+)"', rels))
    assert len(footers_by_id) == 2
    body = xml(out, "word/document.xml")
    refs = re.findall(r'<w:footerReference w:type="default" r:id="([^"]+)"/>', body)
    assert len(refs) == 2 and refs[0] != refs[1]
    # the letter's section shows its count (1), the disclosure's its own (5): each in the footer its section names
    for ref, count in zip(refs, (1, 5), strict=True):
        footer = xml(out, f"word/{footers_by_id[ref]}")
        assert "NUMPAGES" not in footer and re.search(rf"<w:t[^>]*>{count}</w:t>", footer)
    types = xml(out, "[Content_Types].xml")
    assert all(f'PartName="/word/{target}" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"' in types
               for target in footers_by_id.values())


def test_a_style_defined_two_ways_keeps_documents_apart(product: Product, tmp_path: Path) -> None:
    letter, quote = (Source.read(rendered(product, tmp_path, key)[0]) for key in ("letter", "quote"))
    have: dict[str, bytes] = {}
    assert same_styles(have, letter) and same_styles(have, quote)
    styles = xml(quote.path, "word/styles.xml")
    changed = styles.replace('<w:name w:val="Normal"/>', '<w:name w:val="Normal"/><w:hidden/>', 1)
    assert changed != styles
    quote.parts["word/styles.xml"] = changed.encode()
    assert not same_styles(have, quote)
    assert not Group.starting(letter, 1).admits(Source.of(quote.path, quote.parts), 1)


def test_a_section_without_its_own_footers_is_not_laid_out_beside_another_count(product: Product, tmp_path: Path) -> None:
    letter, quote = (Source.read(rendered(product, tmp_path, key)[0]) for key in ("letter", "quote"))
    for ref in quote.sect.findall(f"{W}footerReference"):
        quote.sect.remove(ref)  # Word would show the footer of the section before it
    assert not quote.margins_named()
    assert Group.starting(letter, 1).admits(quote, 1) and not Group.starting(letter, 1).admits(quote, 2)
    # nor beside it, the other way round
    group = Group.starting(quote, 1)
    assert group.admits(letter, 1) and not group.admits(letter, 2)


def test_the_disclosure_splits_at_its_static_mark_and_the_tail_is_the_same_for_every_client(product: Product, tmp_path: Path) -> None:
    first, second = (Source.read(p) for p in rendered(product, tmp_path, "disclosure"))
    (mine, tail), (_, other_tail) = first.split_static(), second.split_static()
    assert first.fingerprint(tail) == second.fingerprint(other_tail)
    assert CLIENTS[0] in "".join("".join(b.itertext()) for b in mine) and "注意喚起情報" in "".join(tail[0].itertext())
    assert not any(CLIENTS[0] in "".join(b.itertext()) for b in tail)
    # a mark on a paragraph that does not start a page: no split (the personal part would share that page)
    ppr = tail[0].find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}pPr")
    ppr.remove(ppr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}pageBreakBefore"))
    assert first.split_static() is None


def test_a_template_without_the_mark_has_no_static_tail(product: Product, tmp_path: Path) -> None:
    assert Source.read(rendered(product, tmp_path, "quote")[0]).split_static() is None


def test_list_numbering_keeps_a_template_out_of_shared_layout(product: Product, tmp_path: Path) -> None:
    source = Source.read(rendered(product, tmp_path, "letter")[0])
    source.parts["word/numbering.xml"] = b'<w:numbering xmlns:w="x"><w:num w:numId="1"/></w:numbering>'
    assert not source.combinable()


def jobs(product: Product, tmp_path: Path) -> list[Job]:
    out = []
    for i, client in enumerate(CLIENTS):
        request, _ = parse_client({"client": client, "industry": "製造業", "revenue": "4.5億", "limit": "1億", "date": "2026-11-26"})
        plan = plan_pack(product, request, dt.date(2030, 1, 1), TEMPLATES)
        docs = tuple(Doc(key, key, f"{key}.docx", TEMPLATES / f"{key}.docx", plan.contexts[key], _props()) for key in ("letter", "disclosure"))
        out.append(Job(i, docs))
    return out


def _props():
    from generator.documents.render import DocProperties

    return DocProperties(title="t")


def footers(pdf: Path, pages: range) -> list[str]:
    """The 'k/n' each page's footer prints after the content hash."""
    reader = PdfReader(pdf)
    texts = [unicodedata.normalize("NFKC", re.sub(r"\s+", "", reader.pages[i].extract_text())) for i in pages]
    return ["/".join(re.search(r"管理番号:[0-9a-f]{12}(\d+)/(\d+)$", t).groups()) for t in texts]


def pages_alone(job: Job, tmp_path: Path) -> dict[str, int]:
    """What LibreOffice prints for each of a client's documents converted on its own: the count a shared run must keep."""
    from generator.documents.convert import convert_to_pdf
    from generator.documents.render import render_docx

    folder = tmp_path / "alone-reference"
    docx = [render_docx(d.template, d.context, folder / f"{d.key}.docx", properties=d.props) for d in job.docs]
    return {d.key: len(PdfReader(pdf).pages) for d, pdf in zip(job.docs, convert_to_pdf(docx, folder / "pdf"), strict=True)}


@pytest.mark.libreoffice
def test_a_wrong_page_count_guess_is_caught_and_the_document_laid_out_on_its_own(product: Product, tmp_path: Path) -> None:
    n = pages_alone(jobs(product, tmp_path)[0], tmp_path)["disclosure"]
    wrong = Layout(pages={"letter": 2, "disclosure": n})  # letters are one page: a layout run would print "1 / 2"
    results = typeset(jobs(product, tmp_path), tmp_path / "work", wrong, timeout=120)
    for result in results:
        assert result.error is None
        (letter,), (disclosure,) = result.parts
        assert footers(letter.pdf, letter.pages) == ["1/1"]  # laid out again on its own: its own count
        assert "alone" in letter.pdf.parent.name and "layout" in disclosure.pdf.name
        assert footers(disclosure.pdf, disclosure.pages) == [f"{k}/{n}" for k in range(1, n + 1)]


@pytest.mark.libreoffice
def test_learned_layout_puts_the_static_tail_in_once(product: Product, tmp_path: Path) -> None:
    alone = pages_alone(jobs(product, tmp_path)[0], tmp_path)
    n = alone["disclosure"]
    layout = learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", timeout=120)
    assert layout.pages == alone and alone["letter"] == 1
    (static,) = layout.statics.values()
    assert static.total == n and 0 < static.personal < n
    assert footers(static.pdf, range(n - static.personal)) == [f"{k}/{n}" for k in range(static.personal + 1, n + 1)]
    assert STATIC_MARK not in str(PdfReader(static.pdf).trailer["/Root"])  # no named destination left behind
    results = typeset(jobs(product, tmp_path), tmp_path / "work", layout, timeout=120)
    for result in results:
        (letter,), (personal, tail) = result.parts
        assert footers(personal.pdf, personal.pages) == [f"{k}/{n}" for k in range(1, static.personal + 1)] and tail.pdf == static.pdf
        assert letter.pdf == personal.pdf and footers(letter.pdf, letter.pages) == ["1/1"]  # one layout document, each its own count
    assert learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", timeout=120) == layout  # cached: no LibreOffice run


@pytest.mark.libreoffice
def test_a_layout_learnt_by_another_process_is_found_without_rendering(product: Product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", 120)
    assert first.pages and first.statics
    monkeypatch.setattr(ts, "_LEARNT", {})  # a new process: nothing learnt in memory

    def no_render(*_a, **_k):
        raise AssertionError("rendered again although the cache names the layout learnt from these inputs")

    monkeypatch.setattr(ts, "render_parts", no_render)
    assert learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", 120) == first
    # other inputs (the letter's context) are another entry: rendered, never served the old one
    other = jobs(product, tmp_path)[0]
    letter = other.docs[0]
    other = Job(other.index, (Doc(letter.key, letter.title, letter.file_name, letter.template, {**letter.context, "note": "x"},
                          letter.props), *other.docs[1:]))
    with pytest.raises(AssertionError, match="rendered again"):
        learn_layout(other, tmp_path / "cache", 120)
    # a memo naming something that is not a layout entry is ignored
    monkeypatch.setattr(ts, "_LEARNT", {})
    for memo in (tmp_path / "cache" / "layout-memo").iterdir():
        memo.write_text("../../etc")
    with pytest.raises(AssertionError, match="rendered again"):
        learn_layout(jobs(product, tmp_path)[0], tmp_path / "cache", 120)
