"""Preview of a draft: its brochure laid out by LibreOffice (warm when the caller has a pool), the pages a change is on, as PNG."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from generator.content.model import Product
from generator.documents.brochure import doc_properties
from generator.documents.context import brochure_context
from generator.documents.convert import convert_to_pdf, pdf_text
from generator.documents.registry import BROCHURE
from generator.documents.render import render_docx, write_atomic
from generator.errors import ConversionError
from generator.jptext import fold

PNG_DPI = 60  # a page at 60 dpi is ~500 px wide: legible beside the form, small to send


class Converter(Protocol):
    def convert(self, docx_files: list[Path], out_dir: Path) -> list[Path]: ...


def brochure_pdf(product: Product, templates: Path, target: Path, converter: Converter | None = None) -> Path:
    """The brochure of ``product`` as a PDF at ``target`` (a preview: no stamping, page references as laid out first)."""
    with tempfile.TemporaryDirectory(prefix="docgen-preview-") as tmp:
        docx = render_docx(BROCHURE.template_path(templates), brochure_context(product), Path(tmp) / "brochure.docx",
                           properties=doc_properties(product))
        (pdf,) = converter.convert([docx], Path(tmp) / "pdf") if converter is not None else convert_to_pdf([docx], Path(tmp) / "pdf")
        write_atomic(target, pdf.read_bytes())
    return target


def pages_with(pdf: Path, needles: dict[str, str]) -> dict[str, list[int]]:
    """For each key, the 1-based pages whose text holds its needle (a changed clause's new wording, a premium as printed)."""
    pages = [fold(text) for text in pdf_text(pdf)]  # search keys: line breaks fall anywhere in Japanese
    found: dict[str, list[int]] = {}
    for key, needle in needles.items():
        folded = fold(needle)[:24]  # the start of a clause: long wording wraps into tables and columns
        found[key] = [i + 1 for i, text in enumerate(pages) if folded and folded in text]
    return found


def page_png(pdf: Path, page: int, target: Path) -> Path:
    """One page of ``pdf`` as a PNG at ``target`` (poppler's pdftoppm, bounded in time)."""
    with tempfile.TemporaryDirectory(prefix="docgen-page-") as tmp:
        stem = Path(tmp) / "page"
        done = subprocess.run(["pdftoppm", "-png", "-r", str(PNG_DPI), "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(stem)],
                              capture_output=True, timeout=60)
        if done.returncode or not stem.with_suffix(".png").is_file():
            raise ConversionError(f"pdftoppm could not draw page {page}: {done.stderr.decode(errors='replace').strip()[:200]}")
        write_atomic(target, stem.with_suffix(".png").read_bytes())
    return target
