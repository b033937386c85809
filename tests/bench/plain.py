"""`python -m tests.bench.plain proposals …`: docgen without PDF/A and tags, for the bench's cost ratio only (never shipped).

LibreOffice exports untagged PDF 1.x (no SelectPdfVersion, PDFUACompliance or UseTaggedPDF), and each pack is merged
the way docgen merged before issue 26: pages, bookmarks and document info, no structure tree, parent tree, XMP,
OutputIntent or object streams. Everything else (rendering, layout runs, static tails, watermark, page hashes,
signing) is docgen's own code, so the ratio against the same list built normally is the cost of PDF/A + tagging.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from unittest import mock

import pikepdf

from generator.documents import pack, soffice
from generator.documents import structure as pdfa  # the merge lives in structure.py (pdfa.py finishes and saves)


def _merge(pieces: Sequence[pdfa.Piece], tail: object = None) -> pikepdf.Pdf:
    """Pages in order, a bookmark per titled piece with the piece's own bookmarks under it when nested (each pack a new
    file, as before PDF/A: no shared tail, see the patch of pack._tail)."""
    dest = pikepdf.new()
    outline: list = []
    for piece in pieces:
        start = len(dest.pages)
        dest.pages.extend(piece.source.pdf.pages[n] for n in piece.pages)
        own = [pdfa._shift(i, start - piece.pages.start) for i in piece.source.outline if i[1] in piece.pages] if piece.nested else []
        outline += [(piece.title, start, own)] if piece.title else own
    pdfa.write_outline(dest, outline)
    return dest


def _of(pdf: pikepdf.Pdf) -> pdfa.Source:
    """A source as the plain merge needs it: its outline, no structure (an untagged layout PDF has none to copy)."""
    source = pdfa.Source(pdf)
    pdfa.rename_subsets(pdf)  # unique subset names: the pre-PDF/A merge renamed them too
    source.outline = pdfa._outline(pdf, {page.objgen: n for n, page in enumerate(pdf.pages)})
    return source


def _finish(pdf: pikepdf.Pdf, info: dict[str, str]) -> None:
    pdf.trailer.Info = pdf.make_indirect(pikepdf.Dictionary({k: pikepdf.String(v) for k, v in info.items()}))


def _save(pdf: pikepdf.Pdf) -> bytes:
    buf = io.BytesIO()
    pdf.save(buf, deterministic_id=True)
    return buf.getvalue()


def main(argv: list[str]) -> int:
    untagged = {**soffice.FILTER_OPTIONS, "UseTaggedPDF": False, "SelectPdfVersion": 0, "PDFUACompliance": False}
    with (mock.patch.dict(soffice.FILTER_OPTIONS, untagged), mock.patch.object(pdfa.Source, "of", staticmethod(_of)),
          mock.patch.object(pack, "merge", _merge), mock.patch.object(pack, "_tail", lambda *_: None),
          mock.patch.object(pack, "finish", _finish), mock.patch.object(pack, "save", _save)):
        from generator import __main__ as entry

        sys.argv = ["docgen", *argv]
        return entry.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
