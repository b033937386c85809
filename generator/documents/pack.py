"""Pack stage: merge part PDFs into one PDF with a bookmark per part, metadata and atomic writes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import Destination

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
        if part.nested and reader.outline:
            _copy_outline(writer, reader, reader.outline, start - keep.start, top, keep)
    stamp_pages(writer, unstamped)
    writer.add_metadata(metadata | page_hashes(writer.pages))  # last: the pages as they are written
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
