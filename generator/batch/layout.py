"""Layout documents: many rendered .docx of one template laid out in one LibreOffice run, each found again by its pages."""

from __future__ import annotations

import copy
import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import pikepdf
from lxml import etree
from pypdf import PdfReader
from pypdf.generic import IndirectObject

from generator.batch.margins import W, print_counts
from generator.documents.render import write_atomic
from generator.errors import ConversionError

# A template marks where its client-independent part starts with this bookmark (see templates/README.md);
# letters only, as LibreOffice escapes other characters in the named destination it exports.
STATIC_MARK = "DocgenStatic"
# Parts that differ from client to client without changing the layout's frame (styles, headers, footers).
_OWN_PARTS = frozenset({"word/document.xml", "docProps/core.xml", "docProps/app.xml"})
_STYLES = "word/styles.xml"
_STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True, huge_tree=True)
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


@dataclass
class Source:
    """A rendered .docx read for layout: its parts, and its body as blocks plus the final section properties."""

    path: Path
    parts: dict[str, bytes]
    root: etree._Element
    blocks: list[etree._Element]
    sect: etree._Element
    shell: str  # hash of everything but the body: documents sharing it print alike
    # hash of everything but the body and the styles' definitions: documents of one family can share a layout document,
    # with the styles of all of them (the templates of a pack define the same styles, each adding those it uses)
    family: str

    @classmethod
    def read(cls, path: Path) -> Source:
        with zipfile.ZipFile(path) as z:
            parts = {name: z.read(name) for name in z.namelist()}
        return cls.of(path, parts)

    @classmethod
    def of(cls, path: Path, parts: dict[str, bytes]) -> Source:
        """The document at ``path`` from its ``parts`` in the package's order (render.render_parts: as just written)."""
        xml = parts["word/document.xml"]
        root = etree.fromstring(xml, _STRICT)
        body = root.find(_w("body"))
        blocks = list(body)
        if not blocks or blocks[-1].tag != _w("sectPr"):
            raise ConversionError(f"{path.name}: the document has no final section properties")
        digest = hashlib.sha256(xml[: xml.find(b"<w:body")])
        family = digest.copy()
        for name in sorted(set(parts) - _OWN_PARTS):
            part = hashlib.sha256(parts[name]).digest()
            digest.update(name.encode() + b"\0" + part)
            family.update(name.encode() + b"\0" + (_styles(parts[name], part)[0] if name == _STYLES else part))
        return cls(Path(path), parts, root, blocks[:-1], blocks[-1], digest.hexdigest(), family.hexdigest())

    @property
    def styles(self) -> dict[str, etree._Element]:
        """Its style definitions by style id."""
        data = self.parts.get(_STYLES)
        return _styles(data, hashlib.sha256(data).digest())[1] if data is not None else {}

    def margins_named(self) -> bool:
        """Whether its section names its own headers and footers (one without would show the section's before it)."""
        return self.sect.find(_w("headerReference")) is not None and self.sect.find(_w("footerReference")) is not None

    def combinable(self) -> bool:
        """Whether this document can share a layout document with others without changing how it prints.

        List numbering would run on from one document into the next, and a field in the body may point
        at a bookmark that another document repeats: such documents are laid out on their own.
        """
        numbering = self.parts.get("word/numbering.xml", b"")
        if b"<w:num " in numbering or b"<w:num>" in numbering:
            return False
        return not any(True for b in self.blocks for _ in b.iter(_w("instrText"), _w("fldSimple")))

    def split_static(self) -> tuple[list[etree._Element], list[etree._Element]] | None:
        """(personal blocks, static blocks) when the template marks a client-independent tail starting on a new page."""
        for i, block in enumerate(self.blocks):
            if block.tag == _w("p") and any(m.get(_w("name")) == STATIC_MARK for m in block.iter(_w("bookmarkStart"))):
                ppr = block.find(_w("pPr"))
                brk = ppr.find(_w("pageBreakBefore")) if ppr is not None else None
                if i == 0 or brk is None or brk.get(_w("val"), "true") in ("0", "false", "off"):
                    return None  # not on a page of its own: the personal part would share its first page
                return self.blocks[:i], self.blocks[i:]
        return None

    def fingerprint(self, blocks: Sequence[etree._Element]) -> str:
        """What ``blocks`` print as, in this frame: equal fingerprints lay out to the same pages."""
        digest = hashlib.sha256(self.shell.encode())
        for block in [*blocks, self.sect]:
            digest.update(etree.tostring(block))
        return digest.hexdigest()


_STYLE_CACHE: dict[bytes, tuple[bytes, dict[str, etree._Element]]] = {}


def _styles(data: bytes, digest: bytes) -> tuple[bytes, dict[str, etree._Element]]:
    """A styles part (``digest``: its SHA-256) as the hash of all but its style definitions, and those by style id;
    worked out once per part (every pack's documents bring the same few)."""
    found = _STYLE_CACHE.get(digest)
    if found is None:
        root = etree.fromstring(data, _STRICT)
        styles = {}
        for style in root.findall(_w("style")):
            styles[style.get(_w("styleId"), "")] = style
            root.remove(style)
        found = (hashlib.sha256(etree.tostring(root)).digest(), styles)
        if len(_STYLE_CACHE) >= 64:
            _STYLE_CACHE.clear()
        _STYLE_CACHE[digest] = found
    return found


def same_styles(have: dict[str, bytes], source: Source) -> bool:
    """Whether ``source`` defines no style of ``have`` (style id -> definition) differently; if so, ``have`` takes its others."""
    theirs = {key: etree.tostring(style) for key, style in source.styles.items()}
    if any(have.get(key, xml) != xml for key, xml in theirs.items()):
        return False
    for key, xml in theirs.items():
        have.setdefault(key, xml)
    return True


@dataclass(frozen=True)
class Piece:
    """One document's blocks in a layout document: ``name`` (letters and digits: LibreOffice escapes the rest)
    becomes a PDF named destination on its first page; ``total`` its page count, printed in its headers and footers."""

    name: str
    blocks: Sequence[etree._Element]
    sect: etree._Element
    total: int = 1


Member = TypeVar("Member")


@dataclass
class Group(Generic[Member]):
    """Documents laid out together in one layout document: of one family (:attr:`Source.family`), no style defined two
    ways; ``others``: its members' sources of other shells than the frame's, whose styles it takes in."""

    frame: Source
    members: list[tuple[Member, Piece]]
    others: list[Source] = field(default_factory=list)
    styles: dict[str, bytes] = field(default_factory=dict)
    totals: set[int] = field(default_factory=set)
    named: bool = True  # every section names its own headers and footers (Source.margins_named)

    @classmethod
    def starting(cls, frame: Source, total: int) -> Group[Member]:
        """A group of ``frame``'s document (of ``total`` pages), its first member to be added."""
        return cls(frame, [], totals={total}, named=frame.margins_named())

    def admits(self, source: Source, total: int) -> bool:
        """Whether ``source``'s document (of ``total`` pages) can join; if so its styles are taken in."""
        named = self.named and source.margins_named()
        if self.totals - {total} and not named:
            return False  # a section without its own footers shows the one before it: another document's count
        if source.shell != self.frame.shell and all(o.shell != source.shell for o in self.others):
            if not self.styles:
                same_styles(self.styles, self.frame)
            if not same_styles(self.styles, source):
                return False
            self.others.append(source)
        self.totals.add(total)
        self.named = named
        return True


def compose(frame: Source, pieces: Sequence[Piece], out: Path, others: Sequence[Source] = ()) -> Path:
    """Write one .docx holding every piece as its own section starting on a new page, page numbers restarting at 1.

    Each piece's ``total`` replaces the page-count fields of its headers and footers: LibreOffice counts the pages of
    the whole layout document, the reader of each part must see its own count. ``others``: documents of the frame's
    family whose pieces are here too; their styles join the frame's (:func:`same_styles` said none differs).
    """
    parts = dict(frame.parts)
    renamed = print_counts(parts, [p.total for p in pieces])
    if others:
        parts[_STYLES] = _merged_styles(frame, others)
    root = copy.deepcopy(frame.root)
    body = root.find(_w("body"))
    for child in list(body):
        body.remove(child)
    for i, piece in enumerate(pieces):
        blocks = [copy.deepcopy(b) for b in piece.blocks]
        for block in blocks:
            for mark in [*block.iter(_w("bookmarkStart")), *block.iter(_w("bookmarkEnd"))]:
                mark.getparent().remove(mark)
        _mark_first_paragraph(blocks, piece.name, i + 1)
        sect = copy.deepcopy(piece.sect)
        _restart_numbering(sect)
        for ref in [*sect.iter(_w("headerReference")), *sect.iter(_w("footerReference"))]:
            rid = ref.get(_R_ID, "")
            ref.set(_R_ID, renamed[piece.total].get(rid, rid))
        if i == len(pieces) - 1:
            body.extend([*blocks, sect])
            continue
        if not blocks or blocks[-1].tag != _w("p"):
            blocks.append(etree.Element(_w("p")))
        body.extend(blocks)
        ppr = blocks[-1].find(_w("pPr"))
        if ppr is None:
            ppr = etree.Element(_w("pPr"))
            blocks[-1].insert(0, ppr)
        ppr.append(sect)  # a paragraph's sectPr ends its section there: no extra paragraph is printed
    parts["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    write_atomic(out, buffer.getvalue())
    return out


def locate(pdf: Path, names: Sequence[str]) -> dict[str, range]:
    """Page indices of each piece in the laid-out PDF, from the named destinations of their bookmarks.

    Read with qpdf (pikepdf), which reads the tagged layout PDF lazily: pypdf parses every object of it first.
    Pages are only told apart (no inherited attributes pushed down to them: a fifth of a second per layout PDF).
    """
    with pikepdf.open(pdf, inherit_page_attributes=False) as opened:
        index = {page.obj.objgen: n for n, page in enumerate(opened.pages)}
        found: dict[str, int] = {}
        tree = opened.Root.get("/Names")
        dests = tree.get("/Dests") if isinstance(tree, pikepdf.Dictionary) else None
        entries: list[tuple[str, pikepdf.Object]] = list(pikepdf.NameTree(dests).items()) if dests is not None else []
        if "/Dests" in opened.Root:  # the PDF 1.1 form: a dictionary of names
            entries += [(str(k).lstrip("/"), v) for k, v in opened.Root.Dests.items()]
        for name, dest in entries:
            dest = dest.get("/D", dest) if isinstance(dest, pikepdf.Dictionary) else dest
            if isinstance(dest, pikepdf.Array) and len(dest) and isinstance(dest[0], pikepdf.Dictionary):
                page = index.get(dest[0].objgen)
                if page is not None:
                    found[str(name).lstrip("/")] = page
        total = len(opened.pages)
    starts: list[int] = []
    for name in names:
        page = found.get(name)
        if page is None or (starts and page <= starts[-1]):
            raise ConversionError(f"{pdf.name}: cannot find where {name} starts in the laid-out PDF")
        starts.append(page)
    ends = [*starts[1:], total]
    return {name: range(a, b) for name, a, b in zip(names, starts, ends, strict=True)}


def destination_pages(reader: PdfReader) -> dict[str, int]:
    """Named destination (without its slash) -> page index."""
    index = {page.indirect_reference.idnum: i for i, page in enumerate(reader.pages) if page.indirect_reference is not None}
    found: dict[str, int] = {}
    for name, dest in reader.named_destinations.items():
        ref = dest.get("/Page")
        page = index.get(ref.idnum) if isinstance(ref, IndirectObject) else reader.get_destination_page_number(dest)
        if page is not None and page >= 0:
            found[name.lstrip("/")] = page
    return found


def _mark_first_paragraph(blocks: list[etree._Element], name: str, ident: int) -> None:
    first = next((p for b in blocks for p in b.iter(_w("p"))), None)
    if first is None:
        first = etree.Element(_w("p"))
        blocks.insert(0, first)
    start = etree.Element(_w("bookmarkStart"), {_w("id"): str(ident), _w("name"): name})
    end = etree.Element(_w("bookmarkEnd"), {_w("id"): str(ident)})
    at = 1 if len(first) and first[0].tag == _w("pPr") else 0
    first.insert(at, end)
    first.insert(at, start)


def _restart_numbering(sect: etree._Element) -> None:
    kind = sect.find(_w("type"))
    if kind is not None:
        kind.set(_w("val"), "nextPage")
    numbering = sect.find(_w("pgNumType"))
    if numbering is None:
        numbering = etree.Element(_w("pgNumType"))
        # schema order: pgNumType goes after pgSz/pgMar/paperSrc/pgBorders/lnNumType
        later = [c for c in sect if c.tag in {_w(t) for t in ("cols", "formProt", "vAlign", "noEndnote", "titlePg", "textDirection",
                                                               "bidi", "rtlGutter", "docGrid", "printerSettings", "sectPrChange")}]
        if later:
            later[0].addprevious(numbering)
        else:
            sect.append(numbering)
    numbering.set(_w("start"), "1")


def _merged_styles(frame: Source, others: Sequence[Source]) -> bytes:
    root = etree.fromstring(frame.parts[_STYLES], _STRICT)
    have = {style.get(_w("styleId"), "") for style in root.findall(_w("style"))}
    for other in others:
        for key, style in other.styles.items():
            if key not in have:
                have.add(key)
                root.append(copy.deepcopy(style))
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return data
