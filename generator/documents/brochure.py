"""Brochure stage: content → brochure .docx and .pdf."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
from pypdf import PdfReader

from generator.content.model import Product
from generator.content.validate import walk
from generator.documents.context import brochure_context
from generator.documents.convert import convert_to_pdf, env_timeout
from generator.documents.fonts import check_fonts
from generator.documents.lint import lint_template
from generator.documents.pagerefs import check_page_refs, section_pages, with_pages
from generator.documents.pdfa import finish, save
from generator.documents.provenance import PAGE_HASHES, pike_page_hash
from generator.documents.provenance import pdf_metadata as document_pdf_metadata
from generator.documents.registry import BROCHURE
from generator.documents.render import DocProperties, render_docx, write_atomic
from generator.documents.structure import Piece, Source, merge
from generator.documents.watermark import stamp_pages
from generator.errors import ConversionError

PUBLISH_TIMEOUT = 180.0  # seconds for one whole-document LibreOffice conversion (the brochure is ~15 pages)


@dataclass(frozen=True)
class BrochureResult:
    """Where the brochure was published and how many pages the PDF has."""

    docx: Path
    pdf: Path
    pages: int


def content_ids(product: Product) -> list[str]:
    """Every stable ID in the product, in content order: the clauses this brochure prints."""
    return [value for path, value in walk(product, "") if path.endswith(".id") and isinstance(value, str)]


def doc_properties(product: Product) -> DocProperties:
    meta, rates = product.meta, product.rates
    keywords = f"content {meta.content_version}; rates {rates.rates_version}; " + " ".join(content_ids(product))
    return DocProperties(
        title=meta.brochure_title,
        subject=f"{meta.name} パンフレット",
        author=meta.insurer.name,
        keywords=keywords,
        date=meta.effective_date,
    )


def pdf_metadata(product: Product) -> dict[str, str]:
    props = doc_properties(product)
    return document_pdf_metadata(product, [BROCHURE.kind(in_pack=False)], title=props.title, subject=props.subject, author=props.author)


def lint_brochure(product: Product, templates: Path) -> list[str]:
    """Template problems for this product's context (the validate command's hook)."""
    return lint_template(BROCHURE.template_path(templates), set(brochure_context(product)))


def rewrite_pdf(source: Path, metadata: dict[str, str]) -> bytes:
    """LibreOffice's PDF as docgen publishes it: PDF/A-2b, tagged, /ID and XMP from its content, the outline kept."""
    prepared = Source.of(pikepdf.open(source))
    if prepared.pdf.Root.get("/Outlines") is not None and prepared.pdf.Root.Outlines.get("/First") is not None and not prepared.outline:
        raise ConversionError(f"{source}: the outline (bookmarks) was lost while rewriting the PDF")
    pdf = merge([Piece(prepared, range(len(prepared.pdf.pages)), nested=True)])
    if metadata.get("/DocgenDraft") == "true":
        stamp_pages(pdf)
    finish(pdf, metadata | {PAGE_HASHES: " ".join(pike_page_hash(page) for page in pdf.pages)})  # the pages as written
    return save(pdf)


def build_brochure(product: Product, out_dir: Path, *, templates: Path, timeout: float | None = None) -> BrochureResult:
    """Render, convert, font-check and publish ``{slug}_brochure.docx``/``.pdf``; nothing lands in out_dir on failure."""
    target = Path(out_dir) / BROCHURE.stem.format(slug=product.meta.slug)
    context = brochure_context(product)

    def settle(pdf: Path) -> dict[str, Any]:  # the PDF prints the laid-out pages; the Word file's fields then show them too
        check_page_refs(product, pdf)
        return with_pages(context, section_pages(product, pdf))

    return publish(BROCHURE.template_path(templates), context, doc_properties(product), pdf_metadata(product), target, timeout, verify=settle)


def publish(template: Path, context: dict[str, Any], props: DocProperties, metadata: dict[str, str], target: Path, timeout: float | None = None,
            verify: Callable[[Path], dict[str, Any] | None] | None = None) -> BrochureResult:
    """One published document: ``target``.docx and .pdf, converted, font-gated, stamped; both or neither land.

    ``verify`` checks LibreOffice's PDF before anything is published (the brochure's page references) and raises if it is
    wrong; a context it returns renders the published Word file again (its PAGEREF fields' shown values, from the layout).
    """
    stem = target.name
    with tempfile.TemporaryDirectory(prefix="docgen-publish-") as tmp_name:
        tmp = Path(tmp_name)
        docx = render_docx(template, context, tmp / f"{stem}.docx", properties=props)
        (raw_pdf,) = convert_to_pdf([docx], tmp / "pdf", timeout=timeout or env_timeout(PUBLISH_TIMEOUT))
        check_fonts(raw_pdf)
        settled = verify(raw_pdf) if verify else None
        if settled is not None:
            docx = render_docx(template, settled, tmp / "settled" / f"{stem}.docx", properties=props)
        pdf_bytes = rewrite_pdf(raw_pdf, metadata)
        pdf = tmp / f"{stem}.pdf"
        pdf.write_bytes(pdf_bytes)
        check_fonts(pdf)  # the rewrite must not have lost an embedded font program
        pages = len(PdfReader(pdf).pages)
        # Only now touch the destination: each file goes in by an atomic rename next to its final name.
        final_docx, final_pdf = target.with_suffix(".docx"), target.with_suffix(".pdf")
        write_atomic(final_docx, docx.read_bytes())
        write_atomic(final_pdf, pdf_bytes)
    return BrochureResult(final_docx, final_pdf, pages)
