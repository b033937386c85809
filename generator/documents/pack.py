"""Pack stage: merge part PDFs into one tagged PDF/A-2b file with a bookmark per part, metadata and atomic writes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from pypdf import PdfReader
from pypdf.generic import Destination

from generator.documents.pdfa import finish, save
from generator.documents.provenance import PAGE_HASHES, pike_page_hash
from generator.documents.render import write_atomic
from generator.documents.structure import Piece, Source, Tail, merge
from generator.documents.watermark import covers, prepare, stamp_pages
from generator.errors import ConversionError


@dataclass(frozen=True)
class Part:
    """One document of a pack: its bookmark title and PDF; ``nested`` keeps its own bookmarks under it.

    ``pages`` takes only those pages (0-based) of the PDF. An empty ``title`` continues the part before it
    without a bookmark of its own: one document whose pages come from two PDFs.
    """

    title: str
    pdf: Path
    nested: bool = True
    pages: range | None = None
    shared: bool = False  # the same pages in every pack (static pages, brochure): prepared once (shared_source)


_SOURCES = threading.local()  # per thread: pikepdf files are not shared between the portal's job threads
_TAILS = threading.local()  # per thread likewise: the pack tail written last (structure.Tail)
_TAIL_USES = 100  # packs written from one tail's file before a new one: what each leaves behind is dropped with it


def shared_source(path: Path) -> Source:
    """A PDF every pack shares (brochure, static pages), read and prepared once per thread and file version."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    cache: dict[tuple[str, int, int], Source] = _SOURCES.__dict__.setdefault("cache", {})
    if key not in cache:
        if len(cache) > 32:
            cache.clear()
        cache[key] = Source.open(path)
    return cache[key]


def merge_pdfs(parts: Sequence[Part], out: Path, metadata: dict[str, str], readers: dict[Path, Source] | None = None) -> int:
    """Merge ``parts`` in order into ``out`` as one tagged PDF/A-2b file (documents/structure.py, pdfa.py); return the page count.

    ``readers`` lets a caller reuse one prepared source for a part every pack shares (the brochure, the static pages,
    a batch's layout PDF). A draft's pages are stamped with the watermark unless their PDF is a stamped draft already.
    The file's /ID and XMP come from its content, so the same parts give the same bytes.
    """
    readers = readers or {}
    draft = metadata.get("/DocgenDraft") == "true"
    pieces: list[Piece] = []
    unstamped: list[int] = []
    origins: list[tuple[Source, int, bool, bool]] = []
    start = 0
    for part in parts:
        source = readers.get(part.pdf) or _read(part.pdf)
        pages = part.pages if part.pages is not None else range(len(source.pdf.pages))
        pieces.append(Piece(source, pages, part.title, part.nested))
        stamp = draft and str(source.pdf.docinfo.get("/DocgenDraft", "")) != "true"
        if stamp:
            unstamped += range(start, start + len(pages))
        origins += [(source, n, stamp, part.shared) for n in pages]
        start += len(pages)
    # the parts every pack ends with (static pages, brochure), read through the caller's prepared sources
    count = next((i for i, part in enumerate(reversed(parts)) if not (part.shared and part.pdf in readers)), len(parts))
    ending = pieces[len(pieces) - count :] if count < len(parts) else []  # a pack of nothing else: a new file
    first = start - sum(len(piece.pages) for piece in ending)
    tail = _tail(ending, pieces[: len(pieces) - count], tuple(n - first for n in unstamped if n >= first), draft) if ending else None
    try:
        if tail is not None and tail.uses == 0:  # what every pack from it shares first (structure.Tail)
            tail.prime()
            if draft:
                prepare(tail.pdf, [page for piece in pieces for page in piece.source.pdf.pages], tail.stamps)
        pdf = merge(pieces, tail)
        if tail is not None and tail.stamped:  # its pages were stamped with the first pack written from it
            unstamped = [n for n in unstamped if n < first]
        if unstamped:
            stamp_pages(pdf, unstamped, tail.stamps if tail is not None else None)
    except BaseException:
        _TAILS.tail = None  # half changed: the next pack starts a new one
        raise
    if tail is not None:
        tail.stamped = True
    hashes = [_hash(page, *origin) for page, origin in zip(pdf.pages, origins, strict=True)]
    finish(pdf, metadata | {PAGE_HASHES: " ".join(hashes)})  # last: the pages as they are written
    write_atomic(out, save(pdf))
    return len(pdf.pages)


def _tail(ending: Sequence[Piece], lead: Sequence[Piece], stamp: tuple[int, ...], draft: bool) -> Tail:
    """This thread's tail of the pieces ``ending`` a pack, the pack's own ``lead`` put in front of it; a new one when
    they differ from the last one's or a page of ``lead`` was in it before. ``stamp``: its pages (0-based within it)
    the draft watermark goes on."""
    tail = getattr(_TAILS, "tail", None)
    if (tail is None or not tail.fits(ending) or (tail.stamp, tail.draft) != (stamp, draft) or tail.uses >= _TAIL_USES
            or tail.took(lead)
            # a page size (or origin) the watermark was not prepared for when the tail was new: made now, its objects
            # would be numbered after the packs' before, and this pack's bytes would depend on them
            or draft and tail.uses and not covers(tail.stamps, [p.source.pdf.pages[n] for p in lead for n in p.pages])):
        tail = Tail(tuple((p.source, p.pages, p.title, p.nested) for p in ending), stamp, draft)
        _TAILS.tail = tail
    return tail


def _hash(page: pikepdf.Page, source: Source, n: int, stamped: bool, shared: bool) -> str:
    """A page's hash; a shared page's (the same drawing in every pack: brochure, static pages) worked out once."""
    if not shared:
        return pike_page_hash(page)
    key = (n, stamped)
    if key not in source.hashes:
        source.hashes[key] = pike_page_hash(page)
    return source.hashes[key]


def _read(path: Path) -> Source:
    try:
        return Source.open(path)
    except FileNotFoundError:
        raise
    except pikepdf.PdfError as exc:
        raise ConversionError(f"{path}: cannot be read as a PDF to merge: {exc}") from None


def outline_titles(pdf: Path, depth: int = 1) -> list[str]:
    """Titles of the outline down to ``depth`` levels, depth-first; for tests and verify."""
    reader = PdfReader(pdf)
    out: list[str] = []

    def walk(items: Sequence[object], level: int) -> None:  # pypdf's outline: destinations, a list for each level below
        for item in items:
            if isinstance(item, list):
                if level < depth:
                    walk(item, level + 1)
            elif isinstance(item, Destination):
                out.append(str(item.title))

    walk(reader.outline, 1)
    return out
