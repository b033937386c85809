"""Check stage: rebuild every published output, compare it with what is committed, explain any drift."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from generator import __version__
from generator.batch.building import cached_brochure
from generator.batch.clients import read_client_rows
from generator.batch.runner import build_packs
from generator.compliance.diff import diff_facts
from generator.compliance.in_force import approval_lines, recorded
from generator.content.load import display_path
from generator.content.model import Product
from generator.content.request import parse_client
from generator.documents.brochure import build_brochure
from generator.documents.facts import Cell, Clause, cells, clauses, documents_using
from generator.documents.fonts import missing_glyphs
from generator.documents.proposal import plan_pack
from generator.documents.registry import BROCHURE, PACK_KINDS, PERSONALISED, WORDING
from generator.documents.render import docx_tables, docx_text, write_atomic
from generator.documents.wording import build_wording
from generator.errors import ContentError, DriftError, Problem
from generator.site import Site

MANIFEST = "manifest.json"
SAMPLE_CLIENTS = "samples/clients.csv"  # under the content root: the client the published sample pack is made for
PUBLISHED_FOLDERS = ("brochure", "wording", "sample-pack", "revisions")  # revisions/<name>/…: the later revisions' own


@dataclass(frozen=True)
class Published:
    """One published file: what it is, which product and which document kind (for impact)."""

    path: Path
    product: str
    kind: str  # "brochure", "wording", or a proposal part such as "proposal: お見積書"
    inputs: tuple[Path, ...]


def input_key(site: Site, path: Path) -> str:
    """How the manifest names an input: ``content/…`` or ``templates/…``, the same on every machine."""
    for name, root in (("content", site.content), ("templates", site.templates)):
        if path.is_relative_to(root):
            return f"{name}/{path.relative_to(root).as_posix()}"
    return path.name


def input_path(site: Site, key: str) -> Path:
    """The file a manifest input key names on this site."""
    name, _, rest = key.partition("/")
    return {"content": site.content, "templates": site.templates}.get(name, site.content) / rest


def normalised_text(path: Path) -> list[str]:
    """Comparable content: PDF text per page, or .docx paragraphs and table cells, without whitespace.

    Where text extraction puts spaces depends on glyph positions, which shift by a hair with what else
    LibreOffice laid out in the same run; Japanese text carries no meaning in them.
    """

    def fold(text: str) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFC", text))

    if path.suffix == ".pdf":
        return [fold(page.extract_text() or "") for page in PdfReader(path).pages]
    tables = ["|".join(fold(c) for c in row) for table in docx_tables(path) for row in table]
    return [fold(t) for t in docx_text(path)] + tables


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def revision_site(site: Site, product: Product) -> Site:
    """``site`` with the templates a revision is laid out with: its own templates/ folder, when it has one."""
    own = site.content / product.key / product.revision_path / "templates"
    return dataclasses.replace(site, templates=own) if product.revision_path and own.is_dir() else site


def build_published(site: Site, products: list[Product], root: Path) -> list[Published]:
    """Build the brochure, the wording and one sample pack per product revision under ``root`` (outputs/ or a temp copy).

    The first revision publishes where a product always did; a later one under ``revisions/<name>/``.
    """
    published: list[Published] = []
    for product in products:
        key, own_site, at = product.manifest_key, revision_site(site, product), root / product.revision_path
        content = tuple(sorted((site.content / product.key / product.revision_path).glob("*.yaml")))
        brochure_template, wording_template = BROCHURE.template_path(own_site.templates), WORDING.template_path(own_site.templates)
        sample = site.content / SAMPLE_CLIENTS
        slug = product.meta.slug
        b = build_brochure(product, at / "brochure", templates=own_site.templates)
        published += [Published(p, key, BROCHURE.kind(in_pack=False), (*content, brochure_template)) for p in (b.docx, b.pdf)]
        w = build_wording(product, at / "wording", templates=own_site.templates)
        published += [Published(p, key, WORDING.kind(in_pack=False), (*content, wording_template)) for p in (w.docx, w.pdf)]
        row, values = next(iter(read_client_rows(sample)))
        request, errors = parse_client(values, row=row, missing_glyphs=missing_glyphs)
        if request is None:
            raise ContentError([Problem(display_path(sample), row, e.column, e.reason) for e in errors])
        plan = plan_pack(product, request, dt.date.today(), own_site.templates)
        results, failures = build_packs(product, [plan], at / "sample-pack" / slug, cached_brochure(product, own_site), cache=site.cache, jobs=1)
        if failures:
            raise failures[0][1].as_error()
        folder = results[0].folder
        pack_inputs = (*content, *(d.template_path(own_site.templates) for d in PERSONALISED), brochure_template, sample)
        published.append(Published(results[0].pdf, key, "proposal", pack_inputs))
        for d in PERSONALISED:
            published.append(Published(folder / d.word_name, key, d.kind(in_pack=True), (*content, d.template_path(own_site.templates), sample)))
    return published


def manifest_for(site: Site, products: list[Product], published: list[Published], root: Path) -> dict[str, Any]:
    """What `docgen check` compares against: input hashes, normalised-text hashes and a snapshot of the facts."""
    entries = {}
    for item in published:
        rel = item.path.relative_to(root).as_posix()
        pages = normalised_text(item.path)
        entries[rel] = {
            "product": item.product,
            "kind": item.kind,
            "inputs": {input_key(site, p): _sha(p.read_bytes()) for p in item.inputs} | {"generator": __version__},
            "text_sha256": _sha(json.dumps(pages, ensure_ascii=False).encode()),
            "page_sha256": [_sha(p.encode()) for p in pages] if item.path.suffix == ".pdf" else [],
        }
    facts = {
        p.manifest_key: {
            "content_hash": p.digest(),
            "approval": p.meta.approval_number,  # empty: drafts; see generator.compliance.in_force.recorded
            "clauses": {cid: {"path": c.path, "label": c.label, "text": c.text} for cid, c in clauses(p).items()},
            "cells": {k: {"path": c.path, "label": c.label, "premium": c.premium} for k, c in cells(p).items()},
        }
        for p in products
    }
    return {"generator": __version__, "outputs": entries, "facts": facts}


def build_all(site: Site, products: list[Product]) -> tuple[list[Published], Path]:
    """`docgen build`: every published output and the manifest; outputs/ changes only once all of them built."""
    outputs = site.outputs
    outputs.mkdir(parents=True, exist_ok=True)
    previous = json.loads((outputs / MANIFEST).read_text(encoding="utf-8")) if (outputs / MANIFEST).is_file() else {}
    products = recorded(products, previous)  # keeps a committed approval of this exact content
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=outputs))
    try:
        built = build_published(site, products, staging)
        manifest = manifest_for(site, products, built, staging)
        for folder in PUBLISHED_FOLDERS:  # swap whole folders: stale files of removed documents go too
            old = outputs / folder
            if old.exists():
                os.replace(old, staging / f"old-{folder}")
            if (staging / folder).exists():
                os.replace(staging / folder, old)
        target = outputs / MANIFEST
        write_atomic(target, (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    published = [Published(outputs / p.path.relative_to(staging), p.product, p.kind, p.inputs) for p in built]
    return published, target


def _explain(product: Product, snapshot: dict[str, Any], kind: str) -> list[str]:
    """Clause and premium changes since the manifest's snapshot that reach a document of ``kind``, with file:line."""
    old_clauses = {cid: Clause(cid, c["path"], c["label"], c["text"]) for cid, c in snapshot.get("clauses", {}).items()}
    old_cells = {k: Cell(k, c["label"], c["path"], c["premium"]) for k, c in snapshot.get("cells", {}).items()}
    reasons = []
    changed_clauses, changed_cells = diff_facts(old_clauses, clauses(product), old_cells, cells(product))
    docs = [kind] if kind != "proposal" else list(PACK_KINDS)
    for cell in changed_cells:
        if any(d in cell.used_by for d in docs):
            src = product.source(cell.present.path)
            reasons.append(f"rates {cell.describe()} ({src.file}:{src.line})")
    for c in changed_clauses:
        if any(d in documents_using(c.path) for d in docs):
            src = product.source(c.path)
            reasons.append(f"clause {c.id} {c.kind} ({src.file}:{src.line})")
    return reasons


def check(site: Site, products: list[Product]) -> str:
    """Rebuild into a temp folder and compare with the site's outputs; DriftError lists every stale output and why."""
    outputs = site.outputs
    if not (outputs / MANIFEST).is_file():
        raise DriftError([f"{display_path(outputs / MANIFEST)} is missing; run docgen build"])
    manifest = json.loads((outputs / MANIFEST).read_text(encoding="utf-8"))
    products = recorded(products, manifest)
    approvals = approval_lines(products, manifest)
    by_key = {p.manifest_key: p for p in products}
    drifts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="docgen-check-") as tmp:
        fresh_root = Path(tmp)
        fresh = {p.path.relative_to(fresh_root).as_posix(): p for p in build_published(site, products, fresh_root)}
        committed = manifest.get("outputs", {})
        for rel in sorted(set(fresh) | set(committed)):
            shown = display_path(outputs / rel)
            if rel not in committed:
                drifts.append(f"{shown} is not published yet; run docgen build")
                continue
            entry = committed[rel]
            if rel not in fresh:
                drifts.append(f"{shown} is published but no longer generated (product or document removed); run docgen build")
                continue
            path = outputs / rel
            if not path.is_file():
                drifts.append(f"{shown} is missing; run docgen build")
                continue
            text = normalised_text(path)
            if _sha(json.dumps(text, ensure_ascii=False).encode()) != entry["text_sha256"]:
                drifts.append(f"{shown} was changed after it was built (its text no longer matches outputs/manifest.json); run docgen build")
                continue
            new_text = normalised_text(fresh_root / rel)
            if new_text == text:
                continue
            product = by_key[entry["product"]]
            reasons = _explain(product, manifest.get("facts", {}).get(product.manifest_key, {}), entry["kind"])
            if not reasons:
                changed = [k for k, v in entry["inputs"].items()
                           if k != "generator" and input_path(site, k).is_file() and _sha(input_path(site, k).read_bytes()) != v]
                if entry["inputs"].get("generator") != __version__:
                    changed.append(f"generator {entry['inputs'].get('generator')} → {__version__}")
                reasons = [f"input changed: {', '.join(changed)}"] if changed else [_first_difference(text, new_text, path.suffix)]
            drifts.append(f"{shown} is stale: {'; '.join(reasons)}; run docgen build")
    if drifts:
        raise DriftError(approvals + drifts)
    hashes = ", ".join(f"{p.manifest_key} content {p.digest()} rates {p.rates.rates_version}" for p in products)
    return "\n".join([f"check: all {len(fresh)} published outputs match content, rates and templates ({hashes})", *approvals])


def _first_difference(old: list[str], new: list[str], suffix: str) -> str:
    unit = "page" if suffix == ".pdf" else "paragraph"
    if len(old) != len(new):
        return f"{len(old)} → {len(new)} {unit}s"
    index = next(i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)
    return f"{unit} {index + 1} differs"
