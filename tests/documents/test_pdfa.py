"""PDF/A-2b, tagged, Japanese: published outputs pass the pikepdf check, a plain pypdf merge does not (no LibreOffice).

The parts are the published brochure and wording (LibreOffice's PDF/A-2 + PDF/UA export, kept current by `docgen check`).
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pikepdf
import pytest
from pypdf import PdfReader, PdfWriter

from generator.documents.pack import Part, merge_pdfs
from generator.documents.pdfa import icc_profile, save
from generator.documents.pdfa_check import check
from generator.documents.provenance import page_hash
from generator.documents.structure import Source, write_outline
from generator.errors import ConversionError

REPO = Path(__file__).resolve().parents[2]
BROCHURE = REPO / "outputs" / "brochure" / "cyber-lite_brochure.pdf"
WORDING = REPO / "outputs" / "wording" / "cyber-lite_wording.pdf"
PUBLISHED = [BROCHURE, WORDING, *sorted((REPO / "outputs" / "sample-pack").rglob("*.pdf"))]
METADATA = {"/Title": "サイバーLite ご提案書 — 有限会社 伸和企画 上 様", "/Author": "さくら保険サービス株式会社", "/Subject": "ご提案書",
            "/Keywords": "content 1.0.0; a & b <c>", "/Creator": "docgen", "/Producer": "docgen (LibreOffice, pikepdf)",
            "/DocgenContentHash": "0123456789ab", "/DocgenDraft": "true"}


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pdfa") / "pack.pdf"
    merge_pdfs([Part("パンフレット", BROCHURE), Part("約款", WORDING, pages=range(0, 3))], out, METADATA)
    return out


def test_the_published_outputs_are_there() -> None:
    assert len(PUBLISHED) == 3 and all(p.is_file() for p in PUBLISHED)


@pytest.mark.parametrize("pdf", PUBLISHED, ids=lambda p: p.name)
def test_every_published_output_passes_the_check(pdf: Path) -> None:
    assert check(pdf) == []


def test_a_pikepdf_merge_of_two_published_documents_passes(merged: Path) -> None:
    assert check(merged) == []


def test_a_plain_pypdf_merge_of_the_same_parts_fails(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.append(PdfReader(BROCHURE))
    writer.append(PdfReader(WORDING), pages=(0, 3))
    writer.add_metadata(METADATA)
    writer.write(tmp_path / "plain.pdf")
    problems = check(tmp_path / "plain.pdf")
    assert "no XMP metadata stream (PDF/A identification)" in problems
    assert "0 PDF/A OutputIntents (GTS_PDFA1); exactly one wanted" in problems
    assert "not marked as tagged (/MarkInfo /Marked true)" in problems
    assert "document language /Lang is missing, not ja-JP" in problems
    assert "the title is not shown as the window title (/ViewerPreferences /DisplayDocTitle true)" in problems


def test_the_merged_pack_is_identified_as_pdfa_2b_and_pdfua_1(merged: Path) -> None:
    with pikepdf.open(merged) as pdf:
        meta = pdf.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"], meta["pdfuaid:part"]) == ("2", "B", "1")
        assert meta["dc:title"] == METADATA["/Title"] and meta["pdf:Keywords"] == METADATA["/Keywords"]
        xml = pdf.Root.Metadata.read_bytes()
        assert b"<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>" in xml  # the extension schema PDF/A-2 asks for
        assert not re.search(rb"Date>", xml)  # no wall clock: XMP dates would differ between two builds
        assert pdf.Root.Lang == "ja-JP" and pdf.Root.ViewerPreferences.DisplayDocTitle is True
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and intent.DestOutputProfile.read_bytes() == icc_profile()
        assert icc_profile()[36:40] == b"acsp" and icc_profile()[16:20] == b"RGB "  # an ICC profile of an RGB space
        assert "/Encrypt" not in pdf.trailer and "/CreationDate" not in pdf.trailer.Info


def test_each_part_is_a_titled_part_of_one_document_with_headings_and_table_headers(merged: Path) -> None:
    with pikepdf.open(merged) as pdf:
        (document,) = pdf.Root.StructTreeRoot.K
        assert document.S == "/Document"
        assert [(str(p.S), str(p.T)) for p in document.K] == [("/Part", "パンフレット"), ("/Part", "約款")]
        kinds: set[str] = set()

        def walk(elem: pikepdf.Dictionary) -> None:
            kinds.add(str(elem.S))
            for kid in elem.K if isinstance(elem.K, pikepdf.Array) else [elem.K]:
                if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                    assert elem == kid.P  # every parent pointer fixed
                    walk(kid)

        walk(document)
        assert {"/H1", "/H2", "/Table", "/TH", "/TD"} <= kinds  # headings as headings, header rows as header cells


def test_page_and_annotation_parents_are_numbered_once_across_the_pack(merged: Path) -> None:
    with pikepdf.open(merged) as pdf:
        tree = pdf.Root.StructTreeRoot
        keys = [int(k) for k in tree.ParentTree.Nums[::2]]
        pages = [int(p.obj.StructParents) for p in pdf.pages]
        annots = [int(a.StructParent) for p in pdf.pages for a in p.obj.get("/Annots", ()) if "/StructParent" in a]
        assert pages == list(range(len(pdf.pages)))
        assert sorted(keys) == keys and set(keys) == set(pages) | set(annots) and len(keys) == len(pages) + len(annots)
        assert int(tree.ParentTreeNextKey) == max(keys) + 1


def test_the_draft_watermark_is_an_artifact_drawn_first(merged: Path, tmp_path: Path) -> None:
    with pikepdf.open(merged) as pdf:
        for page in pdf.pages:
            first = page.obj.Contents[0].read_bytes()
            assert first.startswith(b"/Artifact BMC") and first.rstrip().endswith(b"EMC") and b"/DocgenDraftMark Do" in first


def test_subset_names_are_unique_and_the_same_every_build(merged: Path, tmp_path: Path) -> None:
    with pikepdf.open(merged) as pdf:
        names = {}
        for page in pdf.pages:
            for font in page.Resources.get("/Font", {}).values():
                names.setdefault(str(font.BaseFont), set()).add(font.objgen)
        assert all(len(objs) == 1 for objs in names.values()), names
        assert not any(name.startswith("/BAAAAA+") for name in names)
    again = tmp_path / "again.pdf"
    merge_pdfs([Part("パンフレット", BROCHURE), Part("約款", WORDING, pages=range(0, 3))], again, METADATA)
    assert again.read_bytes() == merged.read_bytes()  # /ID, XMP and subset tags come from the content


def test_page_hashes_read_by_pypdf_match_what_pikepdf_wrote(merged: Path) -> None:
    reader = PdfReader(merged)
    assert [page_hash(p) for p in reader.pages] == str(reader.metadata["/DocgenPageHashes"]).split()


# --- the check finds what it is for: each broken on purpose ------------------------------------------------------


def broken(merged: Path, tmp_path: Path, change) -> list[str]:  # noqa: ANN001 - a function of a pikepdf file
    with pikepdf.open(merged) as pdf:
        change(pdf)
        pdf.save(tmp_path / "broken.pdf")
    return check(tmp_path / "broken.pdf")


def test_check_finds_a_wrong_language_and_a_hidden_title(merged: Path, tmp_path: Path) -> None:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.Lang = pikepdf.String("en-US")
        pdf.Root.ViewerPreferences.DisplayDocTitle = False

    assert broken(merged, tmp_path, change) == ["document language /Lang is en-US, not ja-JP",
                                                "the title is not shown as the window title (/ViewerPreferences /DisplayDocTitle true)"]


def test_check_finds_marked_content_the_tree_does_not_reach(merged: Path, tmp_path: Path) -> None:
    def change(pdf: pikepdf.Pdf) -> None:
        first = pdf.Root.StructTreeRoot.K[0].K[0]  # the brochure's part: its content is no longer in the tree
        first.K = pikepdf.Array()

    problems = broken(merged, tmp_path, change)
    assert problems and all("not reachable from the structure tree" in p for p in problems)


def test_check_finds_a_page_without_its_parent_tree_entry(merged: Path, tmp_path: Path) -> None:
    def change(pdf: pikepdf.Pdf) -> None:
        del pdf.pages[1].obj["/StructParents"]

    assert broken(merged, tmp_path, change) == ["page 2: marked content but no /StructParents"]


def test_check_finds_javascript_a_launch_action_and_a_second_program_under_one_subset_name(merged: Path, tmp_path: Path) -> None:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))
        pdf.Root.Outlines.First.A = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")))
        fonts = [f for p in pdf.pages for f in p.Resources.Font.values()]
        other = next(f for f in fonts if f.objgen != fonts[0].objgen and "/FontDescriptor" in f)
        other.BaseFont = fonts[0].BaseFont

    problems = broken(merged, tmp_path, change)
    assert [p for p in problems if "action" in p and "JavaScript" in p] and [p for p in problems if "Launch action" in p]
    assert any(p.startswith("font subset name") and "2 different font programs" in p for p in problems), problems


def test_check_finds_encryption(merged: Path, tmp_path: Path) -> None:
    with pikepdf.open(merged) as pdf:
        pdf.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="", R=6))
    assert check(tmp_path / "locked.pdf") == ["encrypted (PDF/A forbids encryption)"]


def test_pages_cut_through_a_structure_element_are_an_error_not_a_leak() -> None:
    """A batch layout PDF holds many clients: an element running past a client's pages would carry the next one's along."""
    source = Source.of(pikepdf.open(WORDING))
    elem, pages = source.elements[0]
    source.elements[0] = (elem, pages | {max(pages) + 1})  # as a table running onto the next client's first page would
    with pytest.raises(ConversionError, match="spans pages"):
        source.taken(range(min(pages), max(pages) + 1))
    assert source.taken(range(min(pages), max(pages) + 2))  # the whole of it: taken


def test_a_page_that_inherits_its_resources_and_box_keeps_them_in_the_pack(tmp_path: Path) -> None:
    # LibreOffice's layout PDFs put /Resources and /MediaBox on the page-tree root as well; open_part hands a page what
    # it inherits instead of qpdf pushing it down: a page without its own must still draw with them in the pack
    source = pikepdf.open(WORDING)
    first = source.pages[0].obj
    root = source.Root.Pages
    root.Resources, root.MediaBox = first.Resources, pikepdf.Array([0, 0, 300, 400])
    del first.Resources, first.MediaBox
    source.save(tmp_path / "inherits.pdf")
    with pikepdf.open(WORDING) as original:
        own = set(original.pages[0].obj.Resources.Font.keys())

    out = tmp_path / "pack.pdf"
    merge_pdfs([Part("約款", tmp_path / "inherits.pdf", pages=range(0, 2))], out, METADATA)
    with pikepdf.open(out) as pack:
        page = pack.pages[0].obj
        assert "/Resources" in page and set(page.Resources.Font.keys()) == own
        assert [float(v) for v in page.MediaBox] == [0, 0, 300, 400]
    assert check(out) == []


def test_the_outline_is_written_as_pikepdfs_outline_model_writes_it(merged: Path) -> None:
    # write_outline replaces the model for speed: the same bookmarks, nesting, counts and destinations
    def items(pdf: pikepdf.Pdf) -> list:
        def walk(level: list) -> list:
            return [(str(i.title), pdf.pages.index(pikepdf.Page(i.destination[0])), str(i.destination[1]), walk(i.children)) for i in level]

        with pdf.open_outline() as outline:
            return walk(outline.root)

    entries = [("A", 0, [("A1", 0, []), ("A2", 1, [("A2a", 2, [])])]), ("B", 2, []), ("C", 1, [("gone", 99, [])])]
    ours, model = pikepdf.open(merged), pikepdf.open(merged)
    for pdf in (ours, model):
        del pdf.Root.Outlines
    write_outline(ours, entries)
    with model.open_outline() as outline:
        def item(title: str, page: int, children: list) -> pikepdf.OutlineItem:
            made = pikepdf.OutlineItem(title, page)
            made.children.extend(item(*c) for c in children if c[1] < len(model.pages))
            return made

        outline.root.extend(item(*e) for e in entries)
    assert items(ours) == items(model) == [("A", 0, "/Fit", [("A1", 0, "/Fit", []), ("A2", 1, "/Fit", [("A2a", 2, "/Fit", [])])]),
                                           ("B", 2, "/Fit", []), ("C", 1, "/Fit", [])]
    assert ours.Root.Outlines.Count == model.Root.Outlines.Count == 6
    assert [int(i.Count) for i in (ours.Root.Outlines.First, ours.Root.Outlines.First.First)] == [3, 0]


def test_the_file_id_is_the_sha256_of_the_file_as_written_with_the_placeholder_in_its_place() -> None:
    def written(width: int) -> tuple[bytes, bytes]:
        pdf = pikepdf.new()
        pdf.add_blank_page(page_size=(width, 400))
        data = save(pdf)
        with pikepdf.open(io.BytesIO(data)) as opened:
            first, second = (bytes(half) for half in opened.trailer.ID)
        assert first == second  # a new file: both halves the same, as PDF 14.4 has it for a file never updated
        return data, first

    data, found = written(300)
    placeholder = b"[<31415926535897932384626433832795><31415926535897932384626433832795>]"  # qpdf's static ID
    before = data.replace(b"[<" + found.hex().encode() + b"><" + found.hex().encode() + b">]", placeholder)
    assert before != data and hashlib.sha256(before).digest()[:16] == found
    assert written(300) == (data, found)  # same content, same bytes
    assert written(301)[1] != found
