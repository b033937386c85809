"""Brochure stage: content → brochure .docx and .pdf."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from generator.compliance.provenance import provenance_metadata
from generator.content.load import TEMPLATES_ROOT
from generator.content.model import Product
from generator.content.validate import walk
from generator.documents.context import brochure_context
from generator.documents.convert import convert_to_pdf
from generator.documents.fonts import check_fonts
from generator.documents.render import DocProperties, lint_template, render_docx, write_atomic
from generator.errors import ConversionError

BROCHURE_TEMPLATE = TEMPLATES_ROOT / "brochure.docx"


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
    return {
        "/Title": props.title,
        "/Subject": props.subject,
        "/Author": props.author,
        "/Keywords": props.keywords,
        "/Creator": "docgen",
        "/Producer": "docgen (LibreOffice, pypdf)",
        "/DocgenApproval": product.meta.approval_number,  # versions and hashes: provenance_metadata
    }


def lint_brochure(product: Product, template: Path = BROCHURE_TEMPLATE) -> list[str]:
    """Template problems for this product's context (the validate command's hook)."""
    return lint_template(template, set(brochure_context(product)))


def rewrite_pdf(source: Path, metadata: dict[str, str]) -> bytes:
    """The PDF re-written by a fresh writer: LibreOffice's random /ID and timestamps go, the outline stays."""
    reader = PdfReader(source)
    writer = PdfWriter()
    writer.append(reader, import_outline=True)
    if reader.outline and not writer.outline:
        raise ConversionError(f"{source}: the outline (bookmarks) was lost while rewriting the PDF")
    writer.metadata = metadata  # replaces pypdf's default /Producer: only what we publish
    writer.page_mode = "/UseOutlines"
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def build_brochure(product: Product, out_dir: Path, *, template: Path = BROCHURE_TEMPLATE, timeout: float = 180.0) -> BrochureResult:
    """Render, convert, font-check and publish ``{slug}_brochure.docx``/``.pdf``; nothing lands in out_dir on failure."""
    metadata = pdf_metadata(product) | provenance_metadata(product, ["brochure"])
    return publish(template, brochure_context(product), doc_properties(product), metadata, Path(out_dir) / f"{product.meta.slug}_brochure", timeout)


def publish(template: Path, context: dict, props: DocProperties, metadata: dict[str, str], target: Path, timeout: float = 180.0) -> BrochureResult:
    """One published document: ``target``.docx and .pdf, converted, font-gated, stamped; both or neither land."""
    stem = target.name
    with tempfile.TemporaryDirectory(prefix="docgen-publish-") as tmp_name:
        tmp = Path(tmp_name)
        docx = render_docx(template, context, tmp / f"{stem}.docx", properties=props)
        (raw_pdf,) = convert_to_pdf([docx], tmp / "pdf", timeout=timeout)
        check_fonts(raw_pdf)
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
