"""Pack stage: merging part PDFs, bookmarks per part, nested outlines, metadata, atomic writes (no LibreOffice)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pikepdf
import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NumberObject

from generator.documents.pack import Part, merge_pdfs, outline_titles
from generator.documents.structure import Source
from generator.documents.watermark import stamp_pages


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
    shared = Source.of(pikepdf.open(parts[2].pdf))
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


# --- a shared tail (static pages, brochure): merged once, copied into each pack ----------------------------------


def linked_pdf(path: Path, widths: list[int], link: tuple[int, int]) -> Path:
    """Blank pages of these widths with an outline entry per page and one link from page link[0] to page link[1]."""
    from pypdf.annotations import Link

    writer = PdfWriter()
    for width in widths:
        writer.add_blank_page(width=width, height=400)
    for i in range(len(widths)):
        writer.add_outline_item(title=f"節{i + 1}", page_number=i)
    writer.add_annotation(link[0], Link(rect=(10, 10, 90, 40), target_page_index=link[1]))
    writer.write(path)
    return path


def described(pdf: Path) -> dict:
    """What a reader sees of a pack: page widths, outline, where each link goes, metadata, watermark overlays used."""
    reader = PdfReader(pdf)
    links = [(i, reader.get_page_number(a.get_object()["/Dest"][0].get_object())) for i, page in enumerate(reader.pages)
             for a in page.get("/Annots") or []]
    marks = {p["/Resources"]["/XObject"].raw_get("/DocgenDraftMark").idnum for p in reader.pages
             if "/DocgenDraftMark" in ((p.get("/Resources") or {}).get("/XObject") or {})}
    return {"widths": [round(float(p.mediabox.width)) for p in reader.pages], "outline": tree(pdf), "links": links,
            "metadata": dict(reader.metadata), "stamped": [i for i, p in enumerate(reader.pages) if "/DocgenDraftMark" in
                                                           ((p.get("/Resources") or {}).get("/XObject") or {})], "overlays": len(marks)}


@pytest.fixture
def tailed(tmp_path: Path) -> tuple[list[Part], dict[Path, Source]]:
    """A letter of its own; a disclosure whose last two pages are every pack's; a brochure with bookmarks and a link."""
    letter = blank_pdf(tmp_path / "letter.pdf", [101])
    own = blank_pdf(tmp_path / "own.pdf", [252])  # the size of a static page: one overlay draws on both
    static = blank_pdf(tmp_path / "static.pdf", [251, 252, 253])
    brochure = linked_pdf(tmp_path / "brochure.pdf", [301, 302, 303], link=(0, 2))
    parts = [Part("ご案内状", letter, nested=False), Part("重要事項説明書", own, nested=False),
             Part("", static, nested=False, pages=range(1, 3), shared=True), Part("パンフレット", brochure, nested=True, shared=True)]
    return parts, {p.pdf: Source.of(pikepdf.open(p.pdf)) for p in parts}


DRAFT = METADATA | {"/DocgenDraft": "true"}


def test_a_shared_tail_reads_as_the_parts_merged_one_by_one(tailed: tuple, tmp_path: Path) -> None:
    parts, readers = tailed
    one_by_one = [Part(p.title, p.pdf, p.nested, p.pages) for p in parts]
    assert merge_pdfs(one_by_one, tmp_path / "plain.pdf", DRAFT) == merge_pdfs(parts, tmp_path / "tail.pdf", DRAFT, readers=readers) == 7
    plain, tail = described(tmp_path / "plain.pdf"), described(tmp_path / "tail.pdf")
    assert tail == plain
    # and from first principles: own pages first, the static pages cut to 2, the brochure's bookmarks and link moved
    assert tail["widths"] == [101, 252, 252, 253, 301, 302, 303]
    assert tail["outline"] == [("ご案内状", 0, []), ("重要事項説明書", 1, []),
                               ("パンフレット", 4, [("節1", 4, []), ("節2", 5, []), ("節3", 6, [])])]
    assert tail["links"] == [(4, 6)]
    assert tail["stamped"] == list(range(7)) and tail["overlays"] == 6  # a draft: every page, one overlay per page size
    assert tail["metadata"]["/DocgenPageHashes"].count(" ") == 6


def test_a_pack_with_a_tail_has_the_same_bytes_whether_the_tail_is_new_or_reused(tailed: tuple, tmp_path: Path) -> None:
    parts, readers = tailed
    merge_pdfs(parts, tmp_path / "first.pdf", DRAFT, readers=readers)
    merge_pdfs(parts, tmp_path / "second.pdf", DRAFT, readers=readers)
    fresh = {path: Source.of(pikepdf.open(path)) for path in readers}  # new sources: the tail is prepared again
    merge_pdfs(parts, tmp_path / "third.pdf", DRAFT, readers=fresh)
    assert (tmp_path / "first.pdf").read_bytes() == (tmp_path / "second.pdf").read_bytes() == (tmp_path / "third.pdf").read_bytes()


def test_another_brochure_reader_is_never_served_the_old_tail(tailed: tuple, tmp_path: Path) -> None:
    parts, readers = tailed
    merge_pdfs(parts, tmp_path / "old.pdf", METADATA, readers=readers)
    linked_pdf(parts[3].pdf, [401, 402], link=(1, 0))  # the brochure rebuilt: a new reader of it
    readers = readers | {parts[3].pdf: Source.of(pikepdf.open(parts[3].pdf))}
    merge_pdfs(parts, tmp_path / "new.pdf", METADATA, readers=readers)
    new = described(tmp_path / "new.pdf")
    assert new["widths"] == [101, 252, 252, 253, 401, 402] and new["links"] == [(5, 4)]


def test_a_tail_only_for_trailing_parts_read_by_a_shared_reader(tailed: tuple, tmp_path: Path) -> None:
    parts, readers = tailed
    # shared but not at the end, or not in ``readers``: merged as an ordinary part, the result the same
    reordered = [parts[3], parts[0], parts[1], parts[2]]
    merge_pdfs(reordered, tmp_path / "a.pdf", METADATA, readers={p: r for p, r in readers.items() if p != parts[2].pdf})
    assert described(tmp_path / "a.pdf")["widths"] == [301, 302, 303, 101, 252, 252, 253]


def test_a_packs_bytes_do_not_depend_on_the_packs_written_before_it_from_the_same_tail(tailed: tuple, tmp_path: Path) -> None:
    parts, readers = tailed
    other = blank_pdf(tmp_path / "other.pdf", [102, 252])  # another client: a letter and its disclosure in one PDF
    others = [Part("ご案内状", other, nested=False, pages=range(0, 1)), Part("重要事項説明書", other, nested=False, pages=range(1, 2)), *parts[2:]]
    readers = readers | {other: Source.of(pikepdf.open(other))}
    merge_pdfs(parts, tmp_path / "a.pdf", DRAFT, readers=readers)
    merge_pdfs(others, tmp_path / "b-after-a.pdf", DRAFT, readers=readers)  # the tail copied in for the pack before
    fresh = {path: Source.of(pikepdf.open(path)) for path in readers}  # new sources: a new tail, the same pages in front
    merge_pdfs(others, tmp_path / "b-alone.pdf", DRAFT, readers=fresh)
    assert (tmp_path / "b-after-a.pdf").read_bytes() == (tmp_path / "b-alone.pdf").read_bytes()
    assert described(tmp_path / "b-alone.pdf")["widths"] == [102, 252, 252, 253, 301, 302, 303]
    assert described(tmp_path / "b-alone.pdf")["stamped"] == list(range(7))


def test_a_draft_packs_pages_share_the_overlay_its_stamped_brochure_brings_along(tmp_path: Path) -> None:
    brochure = blank_pdf(tmp_path / "brochure.pdf", [301, 302])
    with pikepdf.open(brochure, allow_overwriting_input=True) as pdf:  # a cached draft brochure: stamped when published
        stamp_pages(pdf)
        pdf.docinfo["/DocgenDraft"] = "true"
        pdf.save(brochure)
    letter = blank_pdf(tmp_path / "letter.pdf", [301, 150])  # a page of the brochure's first size, and one of its own
    parts = [Part("ご案内状", letter, nested=False), Part("パンフレット", brochure, nested=True, shared=True)]
    readers = {p.pdf: Source.of(pikepdf.open(p.pdf)) for p in parts}
    merge_pdfs(parts, tmp_path / "pack.pdf", DRAFT, readers=readers)
    pack = described(tmp_path / "pack.pdf")
    assert pack["widths"] == [301, 150, 301, 302] and pack["stamped"] == [0, 1, 2, 3]
    assert pack["overlays"] == 3  # one per page size: the letter's first page is drawn with the brochure's overlay
    forms = [p["/Resources"]["/XObject"].raw_get("/DocgenDraftMark").idnum for p in PdfReader(tmp_path / "pack.pdf").pages]
    assert forms[0] == forms[2] and len({forms[1], forms[2], forms[3]}) == 3
    merge_pdfs(parts, tmp_path / "alone.pdf", DRAFT)  # merged without a shared tail: the same
    assert described(tmp_path / "alone.pdf")["overlays"] == 3


def tagged_pdf(path: Path, widths: list[int], attributes: list[dict]) -> Path:
    """Pages of these widths, each with one tagged paragraph whose layout attributes are an object of its own (as
    LibreOffice writes them): ``attributes[i]`` the content of page i's."""
    pdf = pikepdf.new()
    root = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot))
    document = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.Document, P=root, K=pikepdf.Array()))
    root.K = document
    pdf.Root.StructTreeRoot = root
    for width, attrs in zip(widths, attributes, strict=True):
        pdf.add_blank_page(page_size=(width, 400))
        page = pdf.pages[-1]
        page.Contents = pdf.make_stream(b"/P <</MCID 0>> BDC EMC")
        a = pdf.make_indirect(pikepdf.Dictionary({k: pikepdf.Name(v) for k, v in attrs.items()}))
        document.K.append(pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.P, P=document, Pg=page.obj,
                                                               K=pikepdf.Array([0]), A=a)))
    pdf.save(path)
    return path


def test_a_packs_bytes_do_not_depend_on_which_client_of_a_layout_pdf_came_first(tailed: tuple, tmp_path: Path) -> None:
    # the merge keeps one attribute object per distinct set in a part: clients 0 and 2 share theirs, and the pack of
    # client 2 must be the same file whether client 0's pack was written from the tail before it or not
    layout = tagged_pdf(tmp_path / "layout.pdf", [111, 112, 113], [{"/O": "/Layout", "/Placement": "/Block"},
                                                                   {"/O": "/Layout", "/Placement": "/Inline"},
                                                                   {"/O": "/Layout", "/Placement": "/Block"}])
    parts, readers = tailed
    pack = {n: [Part("ご案内状", layout, nested=False, pages=range(n, n + 1)), *parts[2:]] for n in (0, 2)}
    shared = readers | {layout: Source.open(layout)}
    assert len(shared[layout].attributes) == 2  # three attribute objects, two distinct sets
    merge_pdfs(pack[0], tmp_path / "a.pdf", METADATA, readers=shared)
    merge_pdfs(pack[2], tmp_path / "b-after-a.pdf", METADATA, readers=shared)
    fresh = {path: Source.of(pikepdf.open(path)) for path in shared}
    merge_pdfs(pack[2], tmp_path / "b-alone.pdf", METADATA, readers=fresh)
    assert (tmp_path / "b-after-a.pdf").read_bytes() == (tmp_path / "b-alone.pdf").read_bytes()
    with pikepdf.open(tmp_path / "b-alone.pdf") as pdf:  # the attributes travel with the paragraph
        (paragraph,) = [e for e in pdf.objects if isinstance(e, pikepdf.Dictionary) and e.get("/S") == "/P"]
        assert paragraph.A.Placement == "/Block" and paragraph.Pg.objgen == pdf.pages[0].obj.objgen
