"""Pack stage: merge part PDFs into one PDF with a bookmark per part, metadata and atomic writes."""

from __future__ import annotations

import io
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import Destination, TextStringObject

from generator.compliance.provenance import page_hashes
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

    ``readers`` lets a caller reuse one parsed reader for a part every pack shares (the brochure).
    A fresh writer drops LibreOffice's random /ID and timestamps, so the same parts give the same text.
    """
    writer = PdfWriter()
    draft = metadata.get("/DocgenDraft") == "true"
    unstamped: list[int] = []
    for part in parts:
        reader = (readers or {}).get(part.pdf) or PdfReader(part.pdf)
        start = len(writer.pages)
        keep = part.pages if part.pages is not None else range(len(reader.pages))
        writer.append(reader, pages=None if part.pages is None else (keep.start, keep.stop), import_outline=False)
        if draft and (reader.metadata or {}).get("/DocgenDraft") != "true":  # a draft brochure is stamped already
            unstamped += range(start, len(writer.pages))
        if not part.title:
            continue
        top = writer.add_outline_item(title=part.title, page_number=start)  # keywords: pypdf 8 drops positional
        if part.nested and (outline := _outline(reader)):
            _copy_outline(writer, reader, outline, start - keep.start, top, keep)
    stamp_pages(writer, unstamped)
    add_metadata(writer, metadata | page_hashes(writer.pages))  # last: the pages as they are written
    writer.page_mode = "/UseOutlines"
    buf = io.BytesIO()
    writer.write(buf)
    write_atomic(out, buf.getvalue())
    return len(writer.pages)


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
