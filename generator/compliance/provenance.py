"""Provenance: what content a document was built from, stamped into its PDF and checked by `docgen verify`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from generator.compliance.signing import SignatureCheck, check_signature
from generator.content.facts import cells, clauses, documents_using
from generator.content.model import Product
from generator.documents.registry import DOCUMENTS, PACK
from generator.errors import InputError


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def clause_ids(product: Product, document: str) -> list[str]:
    """IDs of the clauses ``document`` prints (see facts.DOCUMENT_USES)."""
    return [c.id for c in clauses(product).values() if document in documents_using(c.path)]


_BY_KIND = {d.kind(in_pack=False): d for d in DOCUMENTS} | {d.kind(in_pack=True): d for d in PACK}
# Keys only a client's pack carries, on top of the set every document has.
PACK_KEYS = ("/DocgenInputsHash", "/DocgenPremium", "/DocgenQuoteNumber")


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
        "/Producer": "docgen (LibreOffice, pypdf)",
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
        # no valid approval applied: every page carries the draft watermark (generator/compliance/watermark.py)
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
    signature: SignatureCheck | None = None  # None: not checked

    @property
    def content_matches(self) -> bool:
        return not (self.changed or self.removed or self.premiums)

    @property
    def matches(self) -> bool:
        """Content matches and, if the PDF is signed, the signature verifies (unaltered since signing)."""
        return self.content_matches and (self.signature is None or self.signature.ok)

    def as_dict(self) -> dict:
        return {"pdf": str(self.pdf), "status": "matches" if self.matches else "differs", "built_from": self.built_from,
                "current": self.current, "changed_clauses": self.changed, "removed_clauses": self.removed, "premiums": self.premiums,
                "signature": self.signature.as_dict() if self.signature else None}

    def lines(self) -> list[str]:
        return self._content_lines() + ([self.signature.line()] if self.signature else [])

    def _content_lines(self) -> list[str]:
        if self.content_matches:
            same = "same content" if self.built_from == self.current else "content changed elsewhere, not in this document"
            return [f"{self.pdf}: matches current content ({same}; built from {self.built_from}, current {self.current})"]
        out = [f"{self.pdf}: does NOT match current content (built from {self.built_from}, current {self.current})"]
        out += [f"  changed clause {cid}" for cid in self.changed]
        out += [f"  removed clause {cid}" for cid in self.removed]
        out += [f"  premium {p}" for p in self.premiums]
        return out


def verify_pdf(pdf: Path, product: Product) -> Verification:
    """Compare the clause and premium stamps in ``pdf`` with ``product`` as it is now."""
    try:
        info = PdfReader(pdf).metadata or {}
    except (OSError, PdfReadError) as exc:
        raise InputError("FILE", str(pdf), f"cannot read as PDF: {exc}") from None
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
    result.signature = check_signature(pdf)
    return result
