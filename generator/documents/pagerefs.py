"""Page references: the page each ``{page:ID}`` in content must print, read back from the laid-out PDF.

The template turns a reference into a Word PAGEREF field pointing at the section's heading bookmark, and
LibreOffice fills it in from its own layout on export (measured: a stale ``?`` becomes the heading's page).
This module is the check that it did: the section's page comes from the PDF's outline (one entry per
heading 1), the printed number from the PDF's text between the words around the reference.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from generator.content.model import Product
from generator.content.validate import PAGE_REF, numbered_sections
from generator.documents.context import bookmark, section_heading
from generator.errors import PageReferenceError, Problem

_CONTEXT = 24  # characters of the surrounding words that locate a reference in the PDF's text


def squash(text: str) -> str:
    """Text as compared with a PDF's: NFKC, no whitespace (extraction breaks lines and adds spaces).

    >>> squash("（P 8）\\n")
    '(P8)'
    """
    return "".join(unicodedata.normalize("NFKC", text).split())


@dataclass(frozen=True)
class PageRef:
    """One ``{page:ID}`` in content: where it is, the section it names, and the words either side of it."""

    path: str
    target: str
    before: str
    after: str


def page_refs(product: Product) -> list[PageRef]:
    """Every page reference in the brochure's wording (validate allows them in feature paragraphs only)."""
    found = []
    for fi, feature in enumerate(product.features.features):
        for pi, text in enumerate(feature.paragraphs):
            pieces = PAGE_REF.split(text)
            for k in range(1, len(pieces), 2):
                before, after = PAGE_REF.sub("", "".join(pieces[:k])), PAGE_REF.sub("", "".join(pieces[k + 1 :]))
                found.append(PageRef(f"features.features[{fi}].paragraphs[{pi}]", pieces[k], before, after))
    return found


def section_pages(product: Product, pdf: Path) -> dict[str, int]:
    """Section ID → the 1-based page its heading lands on, from the PDF's top-level outline."""
    reader = PdfReader(pdf)
    by_heading = {section_heading(s.number, s.title): s.id for s in numbered_sections(product)}
    pages: dict[str, int] = {}
    for item in reader.outline:
        if isinstance(item, list):
            continue
        sid = by_heading.get(str(item.title))
        page = reader.get_destination_page_number(item)
        if sid and sid not in pages and page is not None:
            pages[sid] = page + 1
    return pages


def printed(ref: PageRef, text: str) -> list[str]:
    """What the squashed PDF ``text`` prints where ``ref`` stands (one entry per occurrence of its words)."""
    before, after = squash(ref.before)[-_CONTEXT:], squash(ref.after)[:_CONTEXT]
    tail = re.escape(after) if after else r"(?!\d)"
    return re.findall(re.escape(before) + r"(.{0,40}?)" + tail, text)


def problems(product: Product, pdf: Path) -> list[Problem]:
    """Every reference that does not print its section's page in ``pdf`` (a brochure docgen laid out)."""
    refs = page_refs(product)
    if not refs:
        return []
    pages = section_pages(product, pdf)
    text = squash("".join(page.extract_text() or "" for page in PdfReader(pdf).pages))
    out = []
    for ref in refs:
        src = product.source(ref.path)
        where = f"page reference {{page:{ref.target}}}"
        if ref.target not in pages:
            out.append(Problem(src.file, src.line, ref.path, f"{where}: section {ref.target} has no heading in the laid-out brochure's outline"))
            continue
        seen = printed(ref, text)
        if not seen:
            out.append(Problem(src.file, src.line, ref.path, f"{where}: its paragraph is not in the brochure's text"))
        elif any(s != str(pages[ref.target]) for s in seen):
            # LibreOffice prints its own message where a field's bookmark is gone: say that, not the squashed text
            shown = ", ".join(repr(s) if s.isdigit() else "no page number (its bookmark is missing from the template)" for s in seen)
            out.append(Problem(src.file, src.line, ref.path, f"{where} prints {shown}, but section {ref.target} starts on page {pages[ref.target]}"))
    return out


def with_pages(context: dict[str, Any], pages: dict[str, int]) -> dict[str, Any]:
    """The brochure context with each PAGEREF field's shown value set to its section's page (``?`` where unknown).

    >>> ctx = {"features": {"entries": [{"paragraphs": [[{"text": "（P", "ref": ""}, {"text": "?", "ref": "sec_ESS"}]]}]}}
    >>> with_pages(ctx, {"ESS": 8})["features"]["entries"][0]["paragraphs"][0][1]
    {'text': '8', 'ref': 'sec_ESS'}
    """
    by_bookmark = {bookmark(sid): str(page) for sid, page in pages.items()}
    entries = [
        e | {"paragraphs": [[seg | {"text": by_bookmark.get(seg["ref"], seg["text"])} if seg["ref"] else seg for seg in para] for para in e["paragraphs"]]}
        for e in context["features"]["entries"]
    ]
    return context | {"features": context["features"] | {"entries": entries}}


def check_page_refs(product: Product, pdf: Path) -> None:
    """Raise PageReferenceError listing every reference ``pdf`` prints wrong; the build's gate before publishing."""
    found = problems(product, pdf)
    if found:
        raise PageReferenceError(found)
