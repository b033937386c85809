"""Pack stage: merging part PDFs, bookmarks per part, nested outlines, metadata, atomic writes (no LibreOffice)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NumberObject

from generator.documents.pack import Part, merge_pdfs, outline_titles


def blank_pdf(path: Path, widths: list[int], outline: list[tuple[str, int, list[tuple[str, int]]]] = ()) -> Path:
    """Blank pages told apart by their width; ``outline`` is [(title, page, [(child title, page)])]."""
    writer = PdfWriter()
    for width in widths:
        writer.add_blank_page(width=width, height=400)
    for title, page, children in outline:
        top = writer.add_outline_item(title=title, page_number=page)
        for child, child_page in children:
            writer.add_outline_item(title=child, page_number=child_page, parent=top)
    writer.write(path)
    return path


def tree(pdf: Path) -> list:
    """The outline as nested [(title, page index, children)], read back with pypdf."""
    reader = PdfReader(pdf)

    def walk(items: list) -> list:
        out: list = []
        for item in items:
            if isinstance(item, list):
                title, page, _ = out[-1]
                out[-1] = (title, page, walk(item))
            else:
                out.append((str(item.title), reader.get_destination_page_number(item), []))
        return out

    return walk(reader.outline)


@pytest.fixture
def parts(tmp_path: Path) -> list[Part]:
    letter = blank_pdf(tmp_path / "letter.pdf", [101])
    quote = blank_pdf(tmp_path / "quote.pdf", [201, 202], outline=[("見積の内訳", 1, [])])  # not nested: dropped
    brochure = blank_pdf(
        tmp_path / "brochure.pdf",
        [301, 302, 303, 304],
        outline=[("1．環境", 1, []), ("5．概要", 2, [("（1）補償", 2), ("（8）保険料表", 3)])],
    )
    return [Part("ご案内状", letter, nested=False), Part("お見積書", quote, nested=False), Part("パンフレット", brochure, nested=True)]


METADATA = {"/Title": "サイバーLite ご提案書 — 有限会社 伸和企画 上 様", "/Author": "さくら保険サービス株式会社", "/DocgenContentHash": "0123456789ab"}


def test_pages_in_part_order_and_count_returned(parts: list[Part], tmp_path: Path) -> None:
    out = tmp_path / "pack" / "pack.pdf"
    pages = merge_pdfs(parts, out, METADATA)
    widths = [round(float(p.mediabox.width)) for p in PdfReader(out).pages]
    assert widths == [101, 201, 202, 301, 302, 303, 304]
    assert pages == 7


def test_one_bookmark_per_part_at_its_first_page_with_nested_sections(parts: list[Part], tmp_path: Path) -> None:
    out = tmp_path / "pack.pdf"
    merge_pdfs(parts, out, METADATA)
    # brochure pages start at index 3 (1 letter page + 2 quote pages): its own bookmarks shift by 3
    assert tree(out) == [
        ("ご案内状", 0, []),
        ("お見積書", 1, []),
        ("パンフレット", 3, [("1．環境", 4, []), ("5．概要", 5, [("（1）補償", 5, []), ("（8）保険料表", 6, [])])]),
    ]
    assert outline_titles(out) == ["ご案内状", "お見積書", "パンフレット"]
    assert outline_titles(out, depth=3) == ["ご案内状", "お見積書", "パンフレット", "1．環境", "5．概要", "（1）補償", "（8）保険料表"]
    assert PdfReader(out).trailer["/Root"]["/PageMode"] == "/UseOutlines"  # the viewer opens with the bookmarks shown


def test_metadata_is_written_as_given(parts: list[Part], tmp_path: Path) -> None:
    out = tmp_path / "pack.pdf"
    merge_pdfs(parts, out, METADATA)
    info = PdfReader(out).metadata
    for key, value in METADATA.items():
        assert info[key] == value


def test_a_shared_reader_is_used_instead_of_the_file(parts: list[Part], tmp_path: Path) -> None:
    shared = PdfReader(parts[2].pdf)
    gone = tmp_path / "not-on-disk.pdf"  # only the reader knows this part: proves the file is not opened again
    merge_pdfs([parts[0], Part("パンフレット", gone)], tmp_path / "pack.pdf", METADATA, readers={gone: shared})
    assert tree(tmp_path / "pack.pdf")[1][:2] == ("パンフレット", 1)


def test_same_parts_give_the_same_bytes(parts: list[Part], tmp_path: Path) -> None:
    merge_pdfs(parts, tmp_path / "a.pdf", METADATA)
    merge_pdfs(parts, tmp_path / "b.pdf", METADATA)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_failed_merge_writes_nothing(parts: list[Part], tmp_path: Path) -> None:
    out = tmp_path / "pack" / "pack.pdf"
    with pytest.raises(FileNotFoundError):
        merge_pdfs([parts[0], Part("パンフレット", tmp_path / "missing.pdf")], out, METADATA)
    assert not out.exists()
    assert not list(tmp_path.rglob("*.part"))


def test_replacing_an_existing_pack_leaves_no_temp_file(parts: list[Part], tmp_path: Path) -> None:
    out = tmp_path / "pack.pdf"
    out.write_bytes(b"old")
    merge_pdfs(parts, out, METADATA)
    assert len(PdfReader(out).pages) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["pack.pdf", "letter.pdf", "quote.pdf", "brochure.pdf"])


def test_bookmark_to_a_missing_page_is_dropped_and_its_children_do_not_move_under_its_sibling(tmp_path: Path) -> None:
    writer = PdfWriter()
    for width in (301, 302, 303):
        writer.add_blank_page(width=width, height=400)
    a = writer.add_outline_item(title="A", page_number=0)
    writer.add_outline_item(title="A1", page_number=0, parent=a)
    b = writer.add_outline_item(title="B", page_number=2)
    writer.add_outline_item(title="B1", page_number=1, parent=b)
    pages = writer._root_object["/Pages"]
    del pages["/Kids"][2]  # B's page is cut out of the page tree: its bookmark points nowhere
    pages[NameObject("/Count")] = NumberObject(2)
    writer.write(tmp_path / "src.pdf")

    merge_pdfs([Part("パンフレット", tmp_path / "src.pdf")], tmp_path / "pack.pdf", METADATA)
    (top,) = tree(tmp_path / "pack.pdf")
    a_entry = next(c for c in top[2] if c[0] == "A")
    assert a_entry[2] == [("A1", 0, [])]  # B1 is not A's child
    assert "B" not in [c[0] for c in top[2]]
    assert ("B1", 1, []) in top[2]  # B1 keeps its place one level up, where B was


def test_merge_uses_no_deprecated_pypdf_calls(parts: list[Part], tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # pypdf 8 removes what it deprecates now
        merge_pdfs(parts, tmp_path / "pack.pdf", METADATA)
