"""Wording stage: the policy wording document (coverage, limits, conditions, every exclusion with its ID)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.content.model import Product
from generator.documents.brochure import BrochureResult, publish
from generator.documents.context import coverage_context, exclusions_context
from generator.documents.proposal import document_context
from generator.documents.provenance import pdf_metadata
from generator.documents.registry import WORDING
from generator.documents.render import DocProperties


def wording_context(product: Product) -> dict[str, Any]:
    """Everything templates/wording.docx reads."""
    return document_context(product) | {"coverage": coverage_context(product), "exclusions": exclusions_context(product)}


def build_wording(product: Product, out_dir: Path, *, templates: Path, timeout: float | None = None) -> BrochureResult:
    """Publish ``{slug}_wording.docx``/``.pdf``; nothing lands in out_dir on failure."""
    meta = product.meta
    title = f"{meta.display_name} {WORDING.title}"
    props = DocProperties(title=title, subject=f"{meta.name} 約款抜粋（補償内容）", author=meta.insurer.name,
                          keywords=f"content {meta.content_version}; rates {product.rates.rates_version}", date=meta.effective_date)
    metadata = pdf_metadata(product, [WORDING.kind(in_pack=False)], title=title, subject=props.subject, author=props.author)
    target = Path(out_dir) / WORDING.stem.format(slug=meta.slug)
    return publish(WORDING.template_path(templates), wording_context(product), props, metadata, target, timeout)
