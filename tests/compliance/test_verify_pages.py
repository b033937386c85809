"""verify tells the truth: a PDF whose pages were replaced, removed or edited while its metadata was kept is ALTERED."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader, PdfWriter

from generator import api
from generator.documents.convert import convert_to_pdf
from generator.documents.provenance import PAGE_HASHES, verify_pdf

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    site = api.Site.at(Path(__file__).resolve().parents[2])
    product = api.load(site, lint=False)
    out = tmp_path_factory.mktemp("verify-pages")
    request = api.client_request(client="有限会社 伸和企画", contact="上", industry="製造業", revenue="4.5億", limit="1億")
    pack = api.build_pack(site, product, request, out=out, today=dt.date(2026, 11, 26))
    # a page printed from other content: what a forger would slip in (its footer names another content hash)
    doc = Document()
    doc.add_paragraph("お見積書 年間保険料 1,000円")
    doc.add_paragraph("サイバーLite　第0.9.0版　承認番号：未取得　管理番号：0123456789ab")
    doc.save(out / "foreign.docx")
    (foreign,) = convert_to_pdf([out / "foreign.docx"], out / "foreign")
    return product, pack, foreign


def rewrite(source: Path, target: Path, pages: list, *, drop: tuple[str, ...] = ()) -> Path:
    """``pages`` (0-based indexes of ``source``, or PageObjects from elsewhere) with the original metadata kept."""
    reader = PdfReader(source)
    writer = PdfWriter()
    for page in pages:
        writer.add_page(reader.pages[page] if isinstance(page, int) else page)
    for item in reader.outline:  # the parts' bookmarks stay where they were, as a forger's tool would keep them
        if not isinstance(item, list) and reader.get_destination_page_number(item) < len(pages):
            writer.add_outline_item(title=str(item.title), page_number=reader.get_destination_page_number(item))
    writer.add_metadata({k: v for k, v in reader.metadata.items() if k not in drop})
    writer.write(target)
    return target


def test_an_untouched_pack_matches(built):
    product, pack, _ = built
    result = verify_pdf(pack.pdf, product)
    assert result.altered == [] and result.matches, result.lines()
    assert result.lines()[0].endswith(f"matches current content (same content; built from {product.digest()}, current {product.digest()})")


def test_a_copy_rewritten_page_for_page_still_matches(built, tmp_path):
    product, pack, _ = built
    n = len(PdfReader(pack.pdf).pages)
    assert verify_pdf(rewrite(pack.pdf, tmp_path / "copy.pdf", list(range(n))), product).matches


def test_pages_swapped_are_altered(built, tmp_path):
    product, pack, _ = built
    n = len(PdfReader(pack.pdf).pages)
    order = [1, 0, *range(2, n)]
    result = verify_pdf(rewrite(pack.pdf, tmp_path / "swapped.pdf", order), product)
    assert not result.matches
    assert result.altered[:2] == ["page 1 (ご案内状) was changed or replaced after docgen made it",
                                  "page 2 (お見積書) was changed or replaced after docgen made it"]
    assert result.lines()[0].startswith(f"{tmp_path / 'swapped.pdf'}: ALTERED: its pages are not the ones docgen made")
    assert result.as_dict()["status"] == "differs" and result.as_dict()["altered"] == result.altered


def test_a_page_from_other_content_is_altered_even_without_page_hashes(built, tmp_path):
    product, pack, foreign = built
    n = len(PdfReader(pack.pdf).pages)
    pages = [0, PdfReader(foreign).pages[0], *range(2, n)]  # the quote page replaced by a forged one
    result = verify_pdf(rewrite(pack.pdf, tmp_path / "forged.pdf", pages, drop=(PAGE_HASHES,)), product)
    assert not result.matches
    assert f"page 2 (お見積書): its footer names content 0123456789ab, not the stamped {product.digest()}" in result.altered
    assert f"the stamped premium {pack.premium:,}円 is not on the お見積書 pages" in result.altered


def test_a_removed_page_is_altered(built, tmp_path):
    product, pack, _ = built
    n = len(PdfReader(pack.pdf).pages)
    result = verify_pdf(rewrite(pack.pdf, tmp_path / "short.pdf", list(range(n - 1))), product)
    assert f"has {n - 1} pages; docgen made {n}" in result.altered and not result.matches


def test_an_appended_page_is_altered(built, tmp_path):
    product, pack, foreign = built
    n = len(PdfReader(pack.pdf).pages)
    result = verify_pdf(rewrite(pack.pdf, tmp_path / "long.pdf", [*range(n), PdfReader(foreign).pages[0]]), product)
    assert f"has {n + 1} pages; docgen made {n}" in result.altered
    assert any(line.startswith(f"page {n + 1}") and "its footer names content 0123456789ab" in line for line in result.altered)


def test_the_cli_says_altered_and_fails(built, tmp_path, capsys):
    from generator.cli import main

    _, pack, _ = built
    n = len(PdfReader(pack.pdf).pages)
    swapped = rewrite(pack.pdf, tmp_path / "swapped.pdf", [1, 0, *range(2, n)])
    shutil.copy(pack.pdf, tmp_path / "ok.pdf")
    assert main(["verify", str(tmp_path / "ok.pdf")]) == 0
    assert main(["verify", str(swapped)]) == 1
    out = capsys.readouterr().out
    assert f"{swapped}: ALTERED" in out and "matches current content" not in out.split(str(swapped))[1]
