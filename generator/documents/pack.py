"""Pack stage: merge part PDFs into one PDF with a bookmark per part, metadata and atomic writes."""

from __future__ import annotations

import io
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import ArrayObject, Destination, IndirectObject, NameObject, NumberObject, PdfObject, TextStringObject

from generator.compliance.provenance import PAGE_HASHES, page_hash
from generator.compliance.watermark import stamp_pages
from generator.documents.render import write_atomic


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
    shared: bool = False  # the same pages in every pack (static pages, brochure): merged once, then copied (see _Tail)


def _copy_outline(writer: PdfWriter, reader: PdfReader, items: list, offset: int, parent, keep: range) -> None:
    # ``last`` is where a following list of children goes: the entry just copied, or ``parent``
    # when that entry was dropped (its page is missing), so its children move up to its level
    # instead of landing under the previous sibling.
    last = parent
    for item in items:
        if isinstance(item, list):
            _copy_outline(writer, reader, item, offset, last, keep)
            continue
        last = parent
        if isinstance(item, Destination):
            page = reader.get_destination_page_number(item)
            if page is not None and page in keep:
                last = writer.add_outline_item(title=str(item.title), page_number=offset + page, parent=parent)


class _Text(TextStringObject):
    """pypdf's text string, escaped with one regex instead of one write per byte: the same bytes, 10x faster.

    A pack's provenance is some 8 KB of text (every clause and premium cell hashed): pypdf's own loop was a sixth of
    its write time.
    """

    def write_to_stream(self, stream, encryption_key=None) -> None:  # noqa: ANN001 - pypdf's signature
        stream.write(b"(" + _ESCAPED.sub(lambda m: b"\\%03o" % m.group()[0], self.get_encoded_bytes()) + b")")


_ESCAPED = re.compile(rb"[^A-Za-z0-9 ]")  # what pypdf's TextStringObject writes as an octal escape


def add_metadata(writer: PdfWriter, metadata: dict[str, str]) -> None:
    r"""``writer.add_metadata(metadata)``, its text strings written fast (see :class:`_Text`).

    >>> import io
    >>> info = {"/Title": "サイバーLite ご提案書 (見本)", "/Keywords": "a\\b (c) 100%; D01/B1=55,000", "/Subject": ""}
    >>> fast, slow, a, b = PdfWriter(), PdfWriter(), io.BytesIO(), io.BytesIO()
    >>> add_metadata(fast, info); slow.add_metadata(info)
    >>> _ = fast.write(a), slow.write(b)
    >>> a.getvalue() == b.getvalue(), b"/Keywords (a\\134b \\050c\\051 100\\045\\073 D01\\057B1\\07555\\05400" in a.getvalue()
    (True, True)
    """
    writer.add_metadata(metadata)
    info = writer._info  # pypdf 7.1 (pinned): the document info dictionary add_metadata filled
    for key, value in list(info.items()):
        if type(value) is TextStringObject:
            info[key] = _Text(value)


_OUTLINES: weakref.WeakKeyDictionary[PdfReader, list] = weakref.WeakKeyDictionary()


def _outline(reader: PdfReader) -> list:
    """``reader.outline``, read once per reader: pypdf parses it again on every access (the brochure's, once per pack)."""
    if reader not in _OUTLINES:
        _OUTLINES[reader] = reader.outline
    return _OUTLINES[reader]


def merge_pdfs(parts: Sequence[Part], out: Path, metadata: dict[str, str], readers: dict[Path, PdfReader] | None = None) -> int:
    """Merge ``parts`` in order into ``out``; return the page count.

    ``readers`` lets a caller reuse one parsed reader for a part every pack shares (the brochure); trailing parts
    marked ``shared`` and read by such readers are merged once per thread and copied into each pack as written bytes.
    A fresh writer drops LibreOffice's random /ID and timestamps, so the same parts give the same text.
    """
    readers = readers or {}
    writer = PdfWriter()
    draft = metadata.get("/DocgenDraft") == "true"
    own = list(parts)
    while own and own[-1].shared and own[-1].pdf in readers:
        own.pop()
    tail = _tail(tuple(parts[len(own):]), readers, draft) if len(own) < len(parts) else None
    if tail:
        tail.number_into(writer)
    unstamped = []
    for part in own:
        reader = readers.get(part.pdf) or PdfReader(part.pdf)
        start, keep = len(writer.pages), _pages(part, reader)
        unstamped += _append(writer, part, reader, draft)
        _bookmark(writer, part, reader, start, keep)
    stamp_pages(writer, unstamped, tail.forms if tail else None)  # the tail's overlay: one copy in the pack
    hashes = [page_hash(page) for page in writer.pages]
    if tail:
        start = len(writer.pages)
        tail.append_pages(writer)
        for part, offset in zip(tail.parts, tail.starts, strict=True):
            reader = readers[part.pdf]
            _bookmark(writer, part, reader, start + offset, _pages(part, reader))
        hashes += tail.hashes
    add_metadata(writer, metadata | {PAGE_HASHES: " ".join(hashes)})  # last: the pages as they are written
    writer.page_mode = "/UseOutlines"
    buf = io.BytesIO()
    writer.write(buf)
    write_atomic(out, buf.getvalue())
    return len(writer.pages)


def _pages(part: Part, reader: PdfReader) -> range:
    return part.pages if part.pages is not None else range(len(reader.pages))


def _append(writer: PdfWriter, part: Part, reader: PdfReader, draft: bool) -> list[int]:
    """Append the part's pages; the indices of those a draft must still stamp (a draft brochure is stamped already)."""
    start, keep = len(writer.pages), _pages(part, reader)
    writer.append(reader, pages=None if part.pages is None else (keep.start, keep.stop), import_outline=False)
    return list(range(start, len(writer.pages))) if draft and (reader.metadata or {}).get("/DocgenDraft") != "true" else []


def _bookmark(writer: PdfWriter, part: Part, reader: PdfReader, start: int, keep: range) -> None:
    if not part.title:
        return
    top = writer.add_outline_item(title=part.title, page_number=start)  # keywords: pypdf 8 drops positional
    if part.nested and (outline := _outline(reader)):
        _copy_outline(writer, reader, outline, start - keep.start, top, keep)


class _Written(PdfObject):
    """An object of a shared tail as the bytes pypdf wrote for it: every pack carrying it copies them."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def write_to_stream(self, stream, encryption_key=None) -> None:  # noqa: ANN001 - pypdf's signature
        stream.write(self.data)


# A fresh PdfWriter's own objects (document info, page tree, catalog): a tail's objects are numbered after them.
_WRITER_OBJECTS = len(PdfWriter()._objects)


class _Tail:
    """Shared parts merged (and for a draft stamped) once, in a writer of their own: its objects written to bytes.

    A pack's writer takes them as its objects right after its own first three, so every reference in those bytes
    (numbered in the tail's writer, whose first three are the same) holds; the pack's own pages are numbered after
    them but come first in its page tree. Writing the brochure's objects again for every pack was half of a merge.
    """

    def __init__(self, parts: tuple[Part, ...], readers: list[PdfReader], draft: bool) -> None:
        self.parts, self.readers = parts, readers  # held: the ids in its cache key stay theirs (_tail)
        tail = PdfWriter()
        self.starts, unstamped = [], []
        for part, reader in zip(parts, readers, strict=True):
            self.starts.append(len(tail.pages))
            unstamped += _append(tail, part, reader, draft)
        self.forms = stamp_pages(tail, unstamped)
        tail._resolve_links()  # links between the tail's pages, as a write would patch them
        self.pages: list[PageObject] = list(tail.pages)
        self.hashes = [page_hash(page) for page in self.pages]
        self.numbers = [page.indirect_reference.idnum for page in self.pages]
        self.objects: list[PdfObject | None] = []
        for obj in tail._objects[_WRITER_OBJECTS:]:
            buf = io.BytesIO()
            obj.write_to_stream(buf)
            self.objects.append(_Written(buf.getvalue()))
        self._writer = tail  # the pages' objects live in it

    def number_into(self, writer: PdfWriter) -> None:
        """Make the tail's objects a fresh writer's next ones, before anything else is added to it."""
        if len(writer._objects) != _WRITER_OBJECTS:  # anything before would take the tail's object numbers
            raise ValueError("a shared tail goes into a writer that holds only its own first objects")
        writer._objects.extend(self.objects)

    def append_pages(self, writer: PdfWriter) -> None:
        """Make the tail's pages the writer's last ones."""
        kids = writer._pages.get_object()
        kids[NameObject("/Kids")] = ArrayObject([*kids["/Kids"], *(IndirectObject(n, 0, writer) for n in self.numbers)])
        writer.flattened_pages.extend(self.pages)
        kids[NameObject("/Count")] = NumberObject(len(writer.flattened_pages))


_TAILS: dict[tuple, _Tail] = {}
_TAILS_LOCK = threading.Lock()


def _tail(parts: tuple[Part, ...], readers: dict[Path, PdfReader], draft: bool) -> _Tail:
    """The tail of these shared parts and readers for this thread (pypdf objects are not shared between threads)."""
    used = [readers[part.pdf] for part in parts]
    # an entry holds its readers, so while it is cached no other reader can have one of the ids in its key
    key = (threading.get_ident(), draft, parts, tuple(map(id, used)))
    found = _TAILS.get(key)
    if found is None:
        found = _Tail(parts, used, draft)
        with _TAILS_LOCK:
            if len(_TAILS) > 16:
                _TAILS.clear()
            _TAILS[key] = found
    return found


def outline_titles(pdf: Path, depth: int = 1) -> list[str]:
    """Titles of the outline down to ``depth`` levels, depth-first; for tests and verify."""
    reader = PdfReader(pdf)
    out: list[str] = []

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                if level < depth:
                    walk(item, level + 1)
            else:
                out.append(str(item.title))

    walk(reader.outline, 1)
    return out
