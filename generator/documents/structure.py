"""Merge tagged PDF parts into one file: each part's structure tree, marked content, annotations and outline kept.

A part is prepared once (:class:`Source`: pruned structure, renamed fonts, outline), a run of packs shares the pages
they all end with (:class:`Tail`), and :func:`merge` puts the pieces under one /Document; generator.documents.pdfa
then makes the file PDF/A-2b (XMP, OutputIntent, document info) and saves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name, Object, OutlineItem, Pdf

from generator.documents.pdfa import ObjGen, Stamps, rename_subsets
from generator.errors import ConversionError

_BARE_SPAN = {"/K", "/P", "/Pg", "/S", "/Type"}
OutlineEntry = tuple[str, int, list["OutlineEntry"]]  # (title, page index, the entries under it)


@dataclass
class Source:
    """A part's PDF made ready to merge once (per content version or batch): pruned structure, renamed fonts, outline.

    ``elements`` are the structure elements under each top-level element of its tree, copies without a parent, with
    the pages each draws on; ``marks`` the elements by MCID of each page, ``annots`` each page's tagged annotations.
    """

    pdf: Pdf
    elements: list[tuple[Dictionary, frozenset[int]]] = field(default_factory=list)
    marks: list[Array] = field(default_factory=list)
    annots: list[list[tuple[int, Dictionary]]] = field(default_factory=list)
    roles: dict[str, Object] = field(default_factory=dict)
    outline: list[OutlineEntry] = field(default_factory=list)
    hashes: dict[tuple[int, bool], str] = field(default_factory=dict)  # page hashes as merged (generator.documents.pack)
    _taken: dict[tuple[int, int], Array] = field(default_factory=dict)
    attributes: dict[bytes, Dictionary] = field(default_factory=dict)  # its structure attribute objects by content (_take)
    _starting: dict[int, list[int]] | None = None  # indexes into ``elements`` by an element's first page

    @property
    def name(self) -> str:
        """The file's name, for messages."""
        return Path(self.pdf.filename).name

    @classmethod
    def open(cls, path: Path) -> Source:
        """The PDF at ``path``, opened (:func:`open_part`) and prepared."""
        return cls.of(open_part(path))

    @classmethod
    def of(cls, pdf: Pdf) -> Source:
        """``pdf`` prepared; its structure elements are taken over in place (the file is this source's alone)."""
        source = cls(pdf)
        rename_subsets(pdf)
        index = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
        marks: list[list[Dictionary | None]] = [[] for _ in pdf.pages]  # Python lists while the tree is walked: one pikepdf array each at the end
        source.annots = [[] for _ in pdf.pages]
        annot_at = {a.objgen: (n, j) for n, page in enumerate(pdf.pages) for j, a in enumerate(page.obj.get("/Annots", ()))}
        root = pdf.Root.get("/StructTreeRoot")
        if root is not None:
            source.roles = {str(k): v for k, v in root.get("/RoleMap", {}).items()}
            tops = _kids(root)
            if len(tops) == 1 and isinstance(tops[0], Dictionary) and tops[0].get("/S") == "/Document":
                tops = _kids(tops[0])  # the pack's own /Document takes LibreOffice's place
            if all(isinstance(t, Dictionary) and t.get("/S") == "/Part" and "/T" not in t for t in tops):
                tops = [kid for top in tops for kid in _kids(top)]  # a file merge() wrote, not yet a pack: its pieces
            for top in tops:
                if isinstance(top, Dictionary) and "/S" in top:
                    pages: set[int] = set()
                    taken = source._take(top, index, annot_at, pages, marks)
                    if taken is not None:
                        if "/P" in taken:
                            del taken["/P"]  # no parent until a pack takes it (taken())
                        source.elements.append((taken, frozenset(pages)))
        source.marks = [pdf.make_indirect(Array(m)) for m in marks]
        source.outline = _outline(pdf, index)
        return source

    def taken(self, pages: range) -> Array:
        """The structure elements starting on ``pages`` under one group element, and the pages' MCID arrays; made once.

        An indirect array of this file, copied into a pack in one call (qpdf, in C++): the group becomes the pack's
        /Part of these pages, its elements' parent already set.
        """
        key = (pages.start, pages.stop)
        if key not in self._taken:
            group = self.pdf.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Part, K=Array()))
            if self._starting is None:  # a batch's layout PDF holds a hundred clients' elements: each pack takes its own
                self._starting = {}
                for i, (_, used) in enumerate(self.elements):
                    if used:
                        self._starting.setdefault(min(used), []).append(i)
            for elem, used in (self.elements[i] for i in sorted(i for n in pages for i in self._starting.get(n, ()))):
                if max(used) not in pages:  # it would take another document's pages along (another client's)
                    raise ConversionError(f"{self.name}: a structure element spans pages {min(used) + 1}-{max(used) + 1}, beyond pages "
                                          f"{pages.start + 1}-{pages.stop} of its document")
                if "/P" in elem:  # its parent is one group: its MCIDs point at it from the ParentTree
                    raise ConversionError(f"{self.name}: pages {pages.start + 1}-{pages.stop} overlap pages taken before from the same prepared PDF")
                elem.P = group
                group.K.append(elem)
            self._taken[key] = self.pdf.make_indirect(Array([group, Array([self.marks[n] for n in pages])]))
        return self._taken[key]

    def _take(self, elem: Dictionary, index: dict[ObjGen, int], annot_at: dict[ObjGen, tuple[int, int]], pages: set[int],
              marks: list[list[Dictionary | None]]) -> Dictionary | None:
        """``elem`` with its subtree made ready to copy into packs, in place: bare spans folded into their parents, MCIDs
        and annotations recorded; None when nothing of it is on a page.

        In place, not copied: a batch's layout PDF holds ~300 elements per client, and a copy per element (a new
        indirect object and every key converted twice) cost more than the walk itself. The parent is set by the caller.
        """
        pg = elem.get("/Pg")
        page = index.get(pg.objgen) if pg is not None else None
        attrs = elem.get("/A")
        if isinstance(attrs, Dictionary) and attrs.is_indirect:
            # LibreOffice writes each element's layout attributes as an object of its own, most of them alike: one
            # object for each distinct set, and a pack copies and writes a third fewer objects
            same = self.attributes.setdefault(attrs.unparse(resolved=True), attrs)
            if same is not attrs:  # an equal set seen before: that object
                elem.A = same
        kids: list[Object | int] = []
        for kid in _kids(elem):
            if isinstance(kid, int):
                if page is not None:
                    _mark(marks[page], int(kid), elem)
                    pages.add(page)
                    kids.append(kid)
                continue
            if not isinstance(kid, Dictionary):
                continue
            kind, role = kid.get("/Type"), kid.get("/S")
            if kind == "/MCR":
                kid_pg = kid.get("/Pg")
                where = index.get(kid_pg.objgen) if kid_pg is not None else page
                if where is not None and "/Stm" not in kid:
                    _mark(marks[where], int(kid.MCID), elem)
                    pages.add(where)
                kids.append(kid)
            elif kind == "/OBJR":
                found = annot_at.get(kid.Obj.objgen)
                if found is not None:
                    self.annots[found[0]].append((found[1], elem))
                    pages.add(found[0])
                kids.append(kid)
            elif role == "/Span" and set(kid.keys()) <= _BARE_SPAN:
                # LibreOffice's span per text portion says nothing (no attributes, language or alternate text): its
                # content goes to the parent, and a pack copies half as many structure elements
                span_pg = kid.get("/Pg")
                where = index.get(span_pg.objgen) if span_pg is not None else page
                for mcid in _kids(kid):
                    if isinstance(mcid, int) and where is not None:
                        _mark(marks[where], int(mcid), elem)
                        pages.add(where)
                        kids.append(mcid if where == page else Dictionary(Type=Name.MCR, Pg=span_pg, MCID=mcid))
                    elif isinstance(mcid, Dictionary) and "/S" in mcid:
                        child = self._take(mcid, index, annot_at, pages, marks)
                        if child is not None:
                            child.P = elem
                            kids.append(child)
                    else:  # a marked-content or object reference of its own: keep the span as it is
                        child = self._take(kid, index, annot_at, pages, marks)
                        if child is not None:
                            child.P = elem
                            kids.append(child)
                        break
            elif role is not None:
                child = self._take(kid, index, annot_at, pages, marks)
                if child is not None:
                    child.P = elem
                    kids.append(child)
        if not kids and page is None:
            return None
        elem.K = Array(kids)
        return elem


def _mark(marks: list[Dictionary | None], mcid: int, elem: Dictionary) -> None:
    if len(marks) <= mcid:
        marks += [None] * (mcid + 1 - len(marks))
    marks[mcid] = elem


_INHERITABLE = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")


def open_part(path: Path) -> Pdf:
    """``path`` opened to take pages from, each page holding the attributes it inherits (as qpdf leaves them).

    qpdf pushes inherited attributes down to every page before it copies one into another file; on a layout PDF of a
    hundred clients, whose page-tree root has /Resources and /MediaBox that every page overrides, that takes a fifth of
    a second. Here a page gets what it lacks, and the tree's nodes lose what no page reads any more.
    """
    pdf = pikepdf.open(path, inherit_page_attributes=False)
    for page in pdf.pages:
        for key in _INHERITABLE:
            if key not in page.obj:
                node, hops = page.obj.get("/Parent"), 0
                while isinstance(node, Dictionary) and key not in node and hops < 64:
                    node, hops = node.get("/Parent"), hops + 1
                if isinstance(node, Dictionary):
                    value = node[key]
                    page.obj[key] = value if value.is_indirect else value.__copy__()  # a direct value: each page its own
    todo = [pdf.Root.Pages]
    while todo:
        node = todo.pop()
        for key in _INHERITABLE:
            if key in node:
                del node[key]
        todo += [kid for kid in node.get("/Kids", ()) if isinstance(kid, Dictionary) and kid.get("/Type") == "/Pages"]
    return pdf


def _kids(elem: Object) -> list[Object]:
    kids = elem.get("/K")
    if kids is None:
        return []
    return list(kids) if isinstance(kids, Array) else [kids]


def _outline(pdf: Pdf, index: dict[ObjGen, int]) -> list[OutlineEntry]:
    def walk(items: Iterable[OutlineItem]) -> list[OutlineEntry]:
        out: list[OutlineEntry] = []
        for item in items:
            dest: object = item.destination
            if dest is None and item.action is not None and item.action.get("/S") == "/GoTo":
                dest = item.action.get("/D")
            page = index.get(dest[0].objgen) if isinstance(dest, Array) and len(dest) and isinstance(dest[0], Dictionary) else None
            children = walk(item.children)
            if page is not None:
                out.append((str(item.title), page, children))
            else:
                out += children
        return out

    with pdf.open_outline() as outline:
        return walk(outline.root)


@dataclass(frozen=True)
class Piece:
    """Pages of a prepared source to merge, and the bookmark that opens them (no title: continues the piece before)."""

    source: Source
    pages: range
    title: str = ""
    nested: bool = False


@dataclass
class Tail:
    """The file a run of packs is written from, whose last pieces are the same in each (brochure, static pages).

    Their pages, fonts, structure elements (and watermark) are copied in once; each pack then puts its own pages in
    front of them, and what the pack before built (its pages, structure root, outline, metadata) stays behind
    unreferenced: a save writes only what the file's root reaches. qpdf orders the objects in an object stream by
    their number in this file, so every object two packs share is made before any pack's own (:meth:`prime`, and the
    resources of each part PDF the first time a pack takes pages from it): a pack's bytes are the same whichever
    pack came before it (tests/documents/test_pack.py).
    """

    pieces: tuple[tuple[Source, range, str, bool], ...]
    stamp: tuple[int, ...] = ()  # the tail's pages (0-based within it) that carry the draft watermark
    draft: bool = False
    pdf: Pdf = field(default_factory=Pdf.new)
    lead: int = 0  # pages in front of the tail now (the last pack's own)
    stamped: bool = False  # the watermark is drawn on the tail's pages already
    stamps: Stamps = field(default_factory=dict)  # the watermark's objects in this file (generator.documents.watermark)
    uses: int = 0
    _primed: list[Source] = field(default_factory=list)
    _taken: set[tuple[int, int]] = field(default_factory=set)  # (id of a primed source, page) put in front before

    def took(self, pieces: Sequence[Piece]) -> bool:
        """True when a page of ``pieces`` was in front of the tail before: the pack before changed it, so this pack
        needs a new tail (a pack is built once per batch; the same client twice only when asked twice)."""
        return any((id(p.source), n) in self._taken for p in pieces for n in p.pages)

    def fits(self, pieces: Sequence[Piece]) -> bool:
        """True when ``pieces`` are this tail's, the very same prepared sources."""
        return len(pieces) == len(self.pieces) and all(
            a.source is b[0] and (a.pages, a.title, a.nested) == b[1:] for a, b in zip(pieces, self.pieces, strict=True))

    def prime(self) -> None:
        """Copy the tail's pages and structure elements into the file, before anything of a pack is."""
        if self.uses == 0 and not self._primed:
            for source, pages, _, _ in self.pieces:
                for n in pages:
                    self.pdf.pages.append(source.pdf.pages[n])
                self.pdf.copy_foreign(source.taken(pages))
                self._primed.append(source)

    def share(self, source: Source) -> None:
        """Copy the resources the pages of ``source`` share (LibreOffice's fonts) and its structure attribute objects
        (shared by its clients' elements) the first time a pack takes its pages."""
        if any(seen is source for seen in self._primed):
            return
        self._primed.append(source)
        for attributes in source.attributes.values():
            self.pdf.copy_foreign(attributes)
        for page in source.pdf.pages:
            res = page.obj.get("/Resources")
            if res is None:
                continue
            if res.is_indirect:
                self.pdf.copy_foreign(res)
                continue
            for kind in sorted(res.keys()):
                values = res[kind]
                if isinstance(values, Dictionary):
                    for key in sorted(values.keys()):
                        if values[key].is_indirect:
                            self.pdf.copy_foreign(values[key])


def merge(pieces: Sequence[Piece], tail: Tail | None = None) -> Pdf:
    """One tagged PDF of ``pieces`` in order: their pages, a /Part per bookmarked piece under one /Document, outline.

    With ``tail``, whose pieces end ``pieces``: written from the tail's file (:class:`Tail`), the pieces before it
    put in front of its pages.
    """
    if tail is None:
        dest = Pdf.new()
        for piece in pieces:
            for n in piece.pages:
                dest.pages.append(piece.source.pdf.pages[n])
    else:
        lead = pieces[: len(pieces) - len(tail.pieces)]
        assert tail.fits(pieces[len(lead) :]), "merge: the pieces do not end with the tail's"
        dest = tail.pdf
        tail.prime()
        del dest.pages[: tail.lead]
        assert not tail.took(lead), "merge: pages already taken into the tail's file"
        for piece in lead:
            tail.share(piece.source)
        at = 0
        for piece in lead:
            for n in piece.pages:
                dest.pages.insert(at, piece.source.pdf.pages[n])
                tail._taken.add((id(piece.source), n))  # its source stays in _primed: the id is not reused
                at += 1
        tail.lead, tail.uses = at, tail.uses + 1
    tree = dest.make_indirect(Dictionary(Type=Name.StructTreeRoot))
    document = dest.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document, P=tree, K=Array()))
    tree.K = Array([document])
    nums: list[int | Object] = []
    roles: dict[str, Object] = {}
    marks_by_page: list[Object] = []
    annots_by_page: list[list[tuple[int, Dictionary]]] = []
    outline: list[OutlineEntry] = []
    part = None
    start = 0
    for piece in pieces:
        src = piece.source
        group, marks = dest.copy_foreign(src.taken(piece.pages))  # the pages' elements under one group, their MCIDs
        if piece.title or part is None:
            part = group  # a bookmarked document: its own /Part of the pack's /Document
            group.P = document
            if piece.title:
                group.T = piece.title
            document.K.append(group)
        else:  # pages that continue the document before (the static 重要事項説明書 pages): a division of its part
            group.S, group.P = Name.Div, part
            part.K.append(group)
        marks_by_page += list(marks)
        annots_by_page += [src.annots[n] for n in piece.pages]
        roles.update(src.roles)
        own = [_shift(i, start - piece.pages.start) for i in src.outline if i[1] in piece.pages] if piece.nested else []
        if piece.title:
            outline.append((piece.title, start, own))
        else:  # a document of its own (brochure, wording): its bookmarks are the outline
            outline += own
        start += len(piece.pages)
    for n, (page, marks) in enumerate(zip(dest.pages, marks_by_page, strict=True)):
        page.obj.StructParents = n
        nums += [n, marks]
    key = len(dest.pages)
    for page, annots in zip(dest.pages, annots_by_page, strict=True):
        for j, elem in annots:
            page.obj.Annots[j].StructParent = key
            nums += [key, dest.copy_foreign(elem)]  # the copy made with the page's elements: same object
            key += 1
    tree.ParentTree = dest.make_indirect(Dictionary(Nums=Array(nums)))
    tree.ParentTreeNextKey = key
    if roles:
        tree.RoleMap = Dictionary({k: v for k, v in sorted(roles.items())})
    dest.Root.StructTreeRoot = tree
    write_outline(dest, outline)
    return dest


def _shift(entry: OutlineEntry, by: int) -> OutlineEntry:
    title, page, children = entry
    return title, page + by, [_shift(c, by) for c in children]


def write_outline(pdf: Pdf, entries: list[OutlineEntry]) -> None:
    """The outline of (title, page, children) entries, open, each opening its page (/Fit), as pikepdf's outline model
    writes it (the same objects: the same bytes) without its Python objects per item: a brochure's thirty bookmarks
    in every pack cost 3 ms through it.
    """
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines))
    pdf.Root.Outlines = outlines
    if _outline_level(pdf, outlines, entries, [p.obj for p in pdf.pages]) == 0:
        del outlines.Count


def _outline_level(pdf: Pdf, parent: Dictionary, entries: list[OutlineEntry], pages: list[Object]) -> int:
    count, first, prev = 0, None, None
    for title, page, children in entries:
        item = pdf.make_indirect(Dictionary(Title=pikepdf.String(title), Dest=Array([pages[page], Name.Fit]), Parent=parent))
        if prev is None:
            first = item
        else:
            prev.Next, item.Prev = item, prev
        prev = item
        count += 1 + _outline_level(pdf, item, [c for c in children if c[1] < len(pages)], pages)
    if first is not None:
        parent.First, parent.Last = first, prev
    parent.Count = count
    return count
