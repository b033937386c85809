"""Wording stage: the policy wording document (coverage, limits, conditions, every exclusion with its ID)."""

from __future__ import annotations

from pathlib import Path

from generator.compliance.provenance import provenance_metadata
from generator.content.load import TEMPLATES_ROOT
from generator.content.model import Product
from generator.documents.brochure import BrochureResult, publish
from generator.documents.context import coverage_context, exclusions_context
from generator.documents.proposal import document_context
from generator.documents.render import DocProperties

WORDING_TEMPLATE = TEMPLATES_ROOT / "wording.docx"


def wording_context(product: Product) -> dict:
    """Everything templates/wording.docx reads."""
    return document_context(product) | {"coverage": coverage_context(product), "exclusions": exclusions_context(product)}


def build_wording(product: Product, out_dir: Path, *, template: Path = WORDING_TEMPLATE, timeout: float = 180.0) -> BrochureResult:
    """Publish ``{slug}_wording.docx``/``.pdf``; nothing lands in out_dir on failure."""
    meta = product.meta
    title = f"{meta.display_name} 補償内容・保険金をお支払いできない場合"
    props = DocProperties(title=title, subject=f"{meta.name} 約款抜粋（補償内容）", author=meta.insurer.name,
                          keywords=f"content {meta.content_version}; rates {product.rates.rates_version}", date=meta.effective_date)
    metadata = {"/Title": title, "/Subject": props.subject, "/Author": props.author, "/Keywords": props.keywords, "/Creator": "docgen"}
    metadata |= provenance_metadata(product, ["wording"])
    return publish(template, wording_context(product), props, metadata, Path(out_dir) / f"{meta.slug}_wording", timeout)
