"""Assemble stage: merge each typeset client's parts and the brochure into its pack PDF, then install the folder whole."""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf

from generator.batch.typeset import Converter, Job, Layout, Typeset, typeset
from generator.content.model import Product
from generator.documents.pack import Part, merge_pdfs, shared_source
from generator.documents.proposal import PackPlan
from generator.documents.provenance import pdf_metadata
from generator.documents.registry import BROCHURE, PACK_KINDS, PERSONALISED
from generator.documents.render import write_atomic
from generator.documents.signing import sign_issued
from generator.documents.structure import Source
from generator.errors import DocgenError, OutputConflict

MANIFEST = "pack.json"


@dataclass(frozen=True)
class Pack:
    """One installed pack: its folder, PDF and Word files, quote and the provenance its PDF carries."""

    plan: PackPlan
    folder: Path
    pages: int
    skipped: bool = False  # already up to date: nothing was rebuilt

    @property
    def pdf(self) -> Path:
        return self.folder / self.plan.pdf_name

    @property
    def docx(self) -> tuple[Path, ...]:
        return tuple(self.folder / d.word_name for d in PERSONALISED)

    @property
    def client(self) -> str:
        return self.plan.request.client

    @property
    def addressee(self) -> str:
        return self.plan.request.addressee

    @property
    def quote_number(self) -> str:
        return self.plan.quote_number

    @property
    def premium(self) -> int:
        return self.plan.quote.premium

    def provenance(self) -> dict[str, str]:
        """The PDF's document info as built (content hash, clause stamps, approval), read from the file.

        pikepdf reads the trailer's /Info alone (~4 ms); pypdf parsed the whole cross-reference table of a 1 MB pack
        first (~50 ms, under the GIL: a fifth of a portal pack's Python time).
        """
        with pikepdf.open(self.pdf) as pdf:
            return {str(k): str(v) for k, v in pdf.docinfo.items()}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as text, money as int yen."""
        r, q = self.plan.request, self.plan.quote
        return {"row": r.row, "client": r.client, "contact": r.contact, "addressee": r.addressee, "status": "up to date" if self.skipped else "built",
                "folder": str(self.folder), "pdf": str(self.pdf), "docx": [str(p) for p in self.docx], "pages": self.pages,
                "quote_number": self.plan.quote_number, "class": q.class_code, "band": q.band_label, "limit": q.limit, "premium": q.premium,
                } | revision_fields(self.plan)


def revision_fields(plan: PackPlan) -> dict[str, Any]:
    """The revision a pack was built from, as pack.json and ``--json`` name it (and the start date asked for)."""
    r = plan.request
    return {"revision": plan.revision, "revision_effective": plan.revision_effective.isoformat() if plan.revision_effective else None,
            "start": r.start.isoformat() if r.start else None, "renewal": r.renewal}


def pack_metadata(product: Product, plan: PackPlan) -> dict[str, str]:
    """PDF document info: who it is for, and the provenance a later `docgen verify` reads."""
    pack = {"/Title": plan.title, "/Author": plan.request.agent_name or product.meta.insurer.name,
            "/DocgenInputsHash": plan.digest, "/DocgenPremium": str(plan.quote.premium), "/DocgenQuoteNumber": plan.quote_number}
    return pack_provenance(product) | pack


# per Product object (frozen): the portal builds pack after pack from one loaded product
_PROVENANCE: dict[int, tuple[weakref.ref[Product], dict[str, str]]] = {}
_PROVENANCE_LOCK = threading.Lock()


def pack_provenance(product: Product) -> dict[str, str]:
    """Everything in a pack's metadata that is the same for every client (every clause hashed: a fifth of a second).

    Computed once per product object, not once per pack or run.
    """
    hit = _PROVENANCE.get(id(product))
    if hit is not None and hit[0]() is product:
        return dict(hit[1])
    m = product.meta
    subject = f"{m.display_name} ご提案書（{'・'.join(d.part_title for d in (*PERSONALISED, BROCHURE))}）"
    found = pdf_metadata(product, list(PACK_KINDS), title="", subject=subject, author="",
                         pack={"/DocgenInputsHash": "", "/DocgenPremium": "", "/DocgenQuoteNumber": ""})
    with _PROVENANCE_LOCK:
        if len(_PROVENANCE) > 16:
            _PROVENANCE.clear()
        _PROVENANCE[id(product)] = (weakref.ref(product), found)
    return dict(found)


def is_up_to_date(folder: Path, plan: PackPlan) -> bool:
    """True when ``folder`` holds a complete pack built from exactly these inputs."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files = [plan.pdf_name] + [d.word_name for d in PERSONALISED]
    return manifest.get("digest") == plan.digest and all((folder / f).is_file() for f in files)


@dataclass(frozen=True)
class MergeSpec:
    """What a worker needs to merge one client's pack, without the product: file name, metadata, brochure, signer."""

    pdf_name: str
    metadata: dict[str, str]
    brochure: Path
    approval_number: str
    insurer: str


def merge_spec(product: Product, plan: PackPlan, metadata: dict[str, str], brochure_pdf: Path) -> MergeSpec:
    return MergeSpec(plan.pdf_name, metadata, brochure_pdf, product.meta.approval_number, product.meta.insurer.name)


def typeset_and_merge(batch: Sequence[Job], folder: Path, layout: Layout, timeout: float | None, specs: dict[int, MergeSpec],
                      converter: Converter | None = None) -> list[Typeset]:
    """Typeset a batch, then merge each client's pack in ``folder``/packs: on the worker, so merging runs on every core."""
    results = typeset(batch, folder, layout, timeout, converter)
    readers = {pdf: shared_source(pdf) for pdf in {s.brochure for s in specs.values()}}
    readers |= {s.pdf: shared_source(s.pdf) for s in layout.statics.values()}
    for done in results:
        if done.error:
            continue
        new = folder / "packs" / str(done.index)
        try:
            done.pages, done.merged = merge_pack(specs[done.index], done, readers, new), new
        except DocgenError as exc:
            done.error, done.stage = exc, "pack"
    return results


def merge_pack(spec: MergeSpec, done: Typeset, readers: dict[Path, Source], new: Path) -> int:
    """Merge a typeset client's parts and the brochure into ``new``/PDF, signed when issued; move its Word files in.

    ``readers`` gains the batch's layout PDFs as they are first read (and prepared: structure, fonts): the batch's other
    clients' pages are in them too. Named destinations (the layout's marks, generator.batch.layout) stay behind: the
    pack's catalog is its own.
    """
    parts = []
    for doc, pieces in zip(PERSONALISED, done.parts, strict=True):
        for n, piece in enumerate(pieces):
            if piece.pdf not in readers:
                readers[piece.pdf] = Source.open(piece.pdf)
            parts.append(Part(doc.part_title if n == 0 else "", piece.pdf, nested=False, pages=piece.pages, shared=piece.shared))
    parts.append(Part(BROCHURE.part_title, spec.brochure, nested=True, shared=True))
    new.mkdir(parents=True)
    pages = merge_pdfs(parts, new / spec.pdf_name, spec.metadata, readers=readers)
    if spec.metadata.get("/DocgenDraft") == "false":  # issued from an approved version: signed when the insurer configured a key
        sign_issued(new / spec.pdf_name, spec.approval_number, spec.insurer)
    for doc, source in zip(PERSONALISED, done.docx, strict=True):
        os.replace(source, new / doc.word_name)
    return pages


def install_pack(plan: PackPlan, done: Typeset, staging: Path, out_root: Path) -> Pack:
    """Write a merged pack's manifest and swap its folder into ``out_root``."""
    new = seal(plan, done)
    final = out_root / plan.folder
    check_owner(final, plan.request.client, plan.request.contact)
    swap_in(new, final, staging)
    return Pack(plan, final, done.pages)


def seal(plan: PackPlan, done: Typeset) -> Path:
    """Write pack.json (inputs digest, files, revision) into a merged pack's folder, last: the folder is then complete."""
    new = done.merged
    assert new is not None, "seal needs a merged pack (typeset_and_merge)"
    manifest = {"digest": plan.digest, "client": plan.request.client, "contact": plan.request.contact, "premium": plan.quote.premium,
                "pages": done.pages, "files": [plan.pdf_name] + [d.word_name for d in PERSONALISED]} | revision_fields(plan)
    write_atomic(new / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode())
    return new


def swap_in(new: Path, final: Path, staging: Path) -> None:
    """Swap a finished folder into place; readers see the old pack or the new one, never a mix.

    If the new folder cannot be moved in (or the run is interrupted right then), the old pack is put
    back: the staging folder it waits in is deleted when the run ends.
    """
    if not final.exists():
        os.replace(new, final)
        return
    old = staging / "replaced" / final.name
    old.parent.mkdir(parents=True, exist_ok=True)
    os.replace(final, old)
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old, final)
        raise


def check_owner(final: Path, client: str, contact: str) -> None:
    """OutputConflict unless ``final`` is free or holds this very client's pack: a pack is never replaced by another's.

    Packs made before pack.json recorded the contact are matched on the client alone.
    """
    if not final.exists() and not final.is_symlink():
        return
    try:
        found = json.loads((final / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict) or "client" not in found:
        raise OutputConflict(f"{final}: exists and is not a docgen pack (no readable {MANIFEST}); not replaced: move it away or use another --out")
    if found["client"] != client or found.get("contact", contact) != contact:
        owner = f"{found['client']} {found.get('contact', '')}".strip()
        raise OutputConflict(f"{final}: holds the pack of another client ({owner!r}); not replaced: move it away or use another --out")
