"""Provenance: what content a document was built from, stamped into its PDF and checked by `docgen verify`."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from pypdf import DocumentInformation, PageObject, PdfReader
from pypdf.errors import PyPdfError

from generator.content.model import Product
from generator.documents.facts import cells, clauses, documents_using
from generator.documents.registry import DOCUMENTS, PACK, QUOTE
from generator.documents.signing import SignatureCheck, check_signature
from generator.errors import InputError


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def clause_ids(product: Product, document: str) -> list[str]:
    """IDs of the clauses ``document`` prints (see facts.DOCUMENT_USES)."""
    return [c.id for c in clauses(product).values() if document in documents_using(c.path)]


_BY_KIND = {d.kind(in_pack=False): d for d in DOCUMENTS} | {d.kind(in_pack=True): d for d in PACK}
# Keys only a client's pack carries, on top of the set every document has.
PACK_KEYS = ("/DocgenInputsHash", "/DocgenPremium", "/DocgenQuoteNumber")
# A short hash of each page as written (content stream and the images/forms it draws), in page order: stamped
# by whoever writes the final PDF (pack.merge_pdfs, brochure.rewrite_pdf) with page_hashes(), checked by verify.
PAGE_HASHES = "/DocgenPageHashes"
# what every page's footer prints before the content hash (NFKC-folded: the full-width colon becomes ':')
FOOTER_MARK = "管理番号:"


def page_hash(page: PageObject) -> str:  # of a reader or a writer
    """Short hash of what a page draws: its decoded content stream and the XObjects (images, forms) it names.

    Cheap (no text extraction) and exact: a page replaced or edited after docgen wrote it gets another hash.
    """
    digest = hashlib.sha256()
    contents = page.get_contents()
    digest.update(contents.get_data() if contents is not None else b"")
    xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
    for name in sorted(xobjects):
        obj = xobjects[name].get_object()
        digest.update(str(name).encode())
        digest.update(obj.get_data() if hasattr(obj, "get_data") else b"")
    return digest.hexdigest()[:12]


def pike_page_hash(page: pikepdf.Page) -> str:
    """:func:`page_hash` of a page of a pikepdf file, the same digest (pypdf joins a content array's streams by newlines).

    A pack is written by pikepdf and checked with pypdf by `docgen verify`: both must hash a page alike.
    """
    digest = hashlib.sha256()
    contents = page.obj.get("/Contents")
    if isinstance(contents, pikepdf.Array):
        data = bytearray()
        for stream in contents:
            data += stream.read_bytes()
            if not data or data[-1:] != b"\n":
                data += b"\n"
        digest.update(bytes(data))
    elif contents is not None:
        digest.update(contents.read_bytes())
    resources = page.obj.get("/Resources")
    found = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    xobjects = found if isinstance(found, pikepdf.Dictionary) else pikepdf.Dictionary()
    for name in sorted(xobjects.keys()):
        obj = xobjects[name]
        digest.update(name.encode())
        if isinstance(obj, pikepdf.Stream):
            try:
                digest.update(obj.read_bytes())
            except pikepdf.PdfError:  # a JPEG (DCT): pypdf gives its bytes as they are stored
                digest.update(obj.read_raw_bytes())
    return digest.hexdigest()[:12]


def page_hashes(pages: Iterable[PageObject]) -> dict[str, str]:
    """The :data:`PAGE_HASHES` entry for these pages, to merge into a PDF's document info just before writing."""
    return {PAGE_HASHES: " ".join(page_hash(p) for p in pages)}


def pdf_metadata(product: Product, documents: list[str], *, title: str, subject: str, author: str,
                 pack: dict[str, str] | None = None) -> dict[str, str]:
    """The PDF document info of every document docgen publishes: one key set, written here only.

    ``documents`` are the kinds the PDF holds (``brochure``, or a pack's ``proposal: …`` parts); ``pack`` gives a
    client pack's :data:`PACK_KEYS`.
    """
    m = product.meta
    info = {
        "/Title": title,
        "/Subject": subject,
        "/Author": author,
        "/Keywords": f"content {m.content_version}; rates {product.rates.rates_version}; approval {m.approval_number or '未取得'}; "
                     f"content-hash {product.digest()}",
        "/Creator": "docgen",
        "/Producer": "docgen (LibreOffice, pikepdf)",
    } | provenance_metadata(product, documents)
    if pack:
        unknown = set(pack) - set(PACK_KEYS)
        if unknown:
            raise ValueError(f"not a pack metadata key: {', '.join(sorted(unknown))}")
        info |= pack
    return info


def provenance_metadata(product: Product, documents: list[str]) -> dict[str, str]:
    """PDF info entries naming the content a document came from, clause by clause.

    ``/DocgenClauses`` holds ``ID=hash`` for every clause printed, so a PDF can later say which
    clauses changed since it was made without the old content at hand.
    """
    found = clauses(product)
    ids = [cid for doc in documents for cid in clause_ids(product, doc)]
    ids = list(dict.fromkeys(ids))
    meta = {
        "/DocgenProduct": product.key,
        "/DocgenContentVersion": product.meta.content_version,
        "/DocgenRatesVersion": product.rates.rates_version,
        "/DocgenApprovalNumber": product.meta.approval_number or "未取得",
        # no valid approval applied: every page carries the draft watermark (generator/documents/watermark.py)
        "/DocgenDraft": "false" if product.meta.approval_number else "true",
        "/DocgenContentHash": product.digest(),
        "/DocgenClauseIds": " ".join(ids),
        "/DocgenClauses": " ".join(f"{cid}={_short(found[cid].text)}" for cid in ids),
    }
    if any(_BY_KIND[doc].prints_premiums for doc in documents):
        meta["/DocgenCells"] = " ".join(f"{k}={c.premium}" for k, c in cells(product).items())
    return meta


@dataclass
class Verification:
    """How a PDF relates to the current content."""

    pdf: Path
    built_from: str
    current: str
    changed: list[str] = field(default_factory=list)  # clause IDs reworded since
    removed: list[str] = field(default_factory=list)  # clause IDs no longer in content
    premiums: list[str] = field(default_factory=list)  # "D01/B1/100000000: 149,000円 → 150,000円"
    altered: list[str] = field(default_factory=list)  # pages that are not the ones docgen made from the stamped content
    signature: SignatureCheck | None = None  # None: not checked

    @property
    def content_matches(self) -> bool:
        return not (self.changed or self.removed or self.premiums or self.altered)

    @property
    def matches(self) -> bool:
        """Content matches and, if the PDF is signed, the signature verifies (unaltered since signing)."""
        return self.content_matches and (self.signature is None or self.signature.ok)

    def as_dict(self) -> dict[str, Any]:
        return {"pdf": str(self.pdf), "status": "matches" if self.matches else "differs", "built_from": self.built_from,
                "current": self.current, "changed_clauses": self.changed, "removed_clauses": self.removed, "premiums": self.premiums,
                "altered": self.altered,
                "signature": self.signature.as_dict() if self.signature else None}

    def lines(self) -> list[str]:
        return self._content_lines() + ([self.signature.line()] if self.signature else [])

    def _content_lines(self) -> list[str]:
        if self.altered:  # the stamps describe pages that are no longer there: what they say proves nothing
            out = [f"{self.pdf}: ALTERED: its pages are not the ones docgen made (stamped content {self.built_from}, current {self.current})"]
            return out + [f"  {line}" for line in self.altered] + [f"  changed clause {cid}" for cid in self.changed]
        if self.content_matches:
            same = "same content" if self.built_from == self.current else "content changed elsewhere, not in this document"
            return [f"{self.pdf}: matches current content ({same}; built from {self.built_from}, current {self.current})"]
        out = [f"{self.pdf}: does NOT match current content (built from {self.built_from}, current {self.current})"]
        out += [f"  changed clause {cid}" for cid in self.changed]
        out += [f"  removed clause {cid}" for cid in self.removed]
        out += [f"  premium {p}" for p in self.premiums]
        return out


def stamped_content_hash(pdf: Path) -> str:
    """The /DocgenContentHash a PDF carries ("" when unreadable or unstamped: verify_pdf says why)."""
    try:
        metadata = PdfReader(pdf).metadata
        return str(metadata.get("/DocgenContentHash", "")) if metadata is not None else ""
    except (OSError, PyPdfError):
        return ""


def verify_pdf(pdf: Path, product: Product) -> Verification:
    """Compare the clause and premium stamps in ``pdf`` with ``product`` as it is now."""
    try:
        reader = PdfReader(pdf)
        info: DocumentInformation | dict[str, str] = reader.metadata or {}
    except (OSError, PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        # pypdf raises many types on a damaged file: each is a file that cannot be read, not a docgen bug
        raise InputError("FILE", str(pdf), f"cannot read as PDF: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") from None
    stamped = str(info.get("/DocgenClauses", ""))
    if not stamped:
        raise InputError("FILE", str(pdf), "has no docgen provenance (not built by docgen, or built before provenance stamps)")
    result = Verification(pdf, str(info.get("/DocgenContentHash", "?")), product.digest())
    now = {cid: _short(c.text) for cid, c in clauses(product).items()}
    for item in stamped.split():
        cid, _, digest = item.partition("=")
        if cid not in now:
            result.removed.append(cid)
        elif now[cid] != digest:
            result.changed.append(cid)
    current_cells = cells(product)
    for item in str(info.get("/DocgenCells", "")).split():
        key, _, premium = item.partition("=")
        cell = current_cells.get(key)
        if cell is None or str(cell.premium) != premium:
            result.premiums.append(f"{cell.label if cell else key}: {int(premium):,}円 → {f'{cell.premium:,}円' if cell else 'removed'}")
    try:
        result.altered = altered_pages(reader, info)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise InputError("FILE", str(pdf), f"its pages cannot be read: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") from None
    result.signature = check_signature(pdf)
    return result


def altered_pages(reader: PdfReader, info: DocumentInformation | dict[str, str]) -> list[str]:
    """Why the pages are not those docgen stamped: page hashes that differ, a footer naming other content, a missing premium.

    The page hashes catch any page replaced or edited since docgen wrote the PDF; the footers (every page prints
    ``管理番号：<content hash>``) tie each page's text to the stamped content, also in PDFs made before page hashes.
    """
    pages = reader.pages
    parts = _part_of_page(reader)
    def where(i: int) -> str:
        return f"page {i + 1}" + (f" ({parts[i]})" if parts.get(i) else "")

    problems: list[str] = []
    stamped = str(info.get(PAGE_HASHES, "")).split()
    if stamped:
        if len(stamped) != len(pages):
            problems.append(f"has {len(pages)} pages; docgen made {len(stamped)}")
        problems += [f"{where(i)} was changed or replaced after docgen made it"
                     for i, (page, digest) in enumerate(zip(pages, stamped, strict=False)) if page_hash(page) != digest]
    texts = [_fold(page.extract_text() or "") for page in pages]
    mark = FOOTER_MARK + str(info.get("/DocgenContentHash", ""))
    for i, text in enumerate(texts):
        if mark not in text:
            found = re.search(re.escape(FOOTER_MARK) + r"([0-9a-f]{6,64})", text)
            said = f"its footer names content {found.group(1)}" if found else "it has no docgen footer"
            problems.append(f"{where(i)}: {said}, not the stamped {mark.removeprefix(FOOTER_MARK)}")
    premium = str(info.get("/DocgenPremium", ""))
    quote = "".join(t for i, t in enumerate(texts) if parts.get(i) == QUOTE.part_title)  # the brochure's table has every premium
    if premium.isdigit() and quote and f"{int(premium):,}円" not in quote:
        problems.append(f"the stamped premium {int(premium):,}円 is not on the {QUOTE.part_title} pages")
    return problems


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _part_of_page(reader: PdfReader) -> dict[int, str]:
    """Page index -> title of the top-level bookmark it falls under (a pack's parts)."""
    starts = []
    for item in reader.outline:
        if not isinstance(item, list):
            page = reader.get_destination_page_number(item)
            if page is not None:
                starts.append((page, str(item.title)))
    starts.sort()
    out: dict[int, str] = {}
    for n, (start, title) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(reader.pages)
        out.update(dict.fromkeys(range(start, end), title))
    return out
