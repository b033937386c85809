"""The draft watermark: real text stamped onto every page of a document built without a valid approval.

Stamped at PDF level (after LibreOffice, at pack/publish time), so cached brochure and static pages, batch layouts and
single documents all get it the same way and it cannot be forgotten in one template. The overlay is drawn once per
page size with ReportLab (IPAexGothic embedded, ``invariant`` so the same inputs give the same bytes).
"""

from __future__ import annotations

import functools
import io

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import RectangleObject

from generator.documents.fonts import font_file

DRAFT_TEXT = "社内検討用・未承認 ─ お客さまへの提示不可"
BANNER_TEXT = "【ドラフト・未承認】" + DRAFT_TEXT + "（承認番号なし）"
FONT = "IPAexGothic"


@functools.cache
def _overlay(width: float, height: float) -> bytes:
    """One page of ``width`` × ``height`` points: a banner across the top and the notice diagonally across the page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(font_file(FONT))))
    buf = io.BytesIO()
    # initialFontName: otherwise the page starts in Helvetica, which is not embedded and fails the font gate
    c = canvas.Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1, initialFontName=FONT, initialFontSize=9)
    c.setTitle("docgen draft watermark")
    red = (0.75, 0.0, 0.0)
    # banner: horizontal, fully opaque, above the header line, so it survives any printout and reads in pdftotext
    c.setFillColorRGB(*red)
    c.setFont(FONT, 9)
    c.drawCentredString(width / 2, height - 22, BANNER_TEXT)
    # diagonal: large and translucent, so the page underneath stays readable for review
    c.saveState()
    c.setFillColorRGB(*red, alpha=0.28)
    c.translate(width / 2, height / 2)
    c.rotate(54)
    size = min(width, height) / 16
    c.setFont(FONT, size)
    c.drawCentredString(0, size * 0.6, "社内検討用・未承認")
    c.drawCentredString(0, -size * 0.9, "お客さまへの提示不可")
    c.restoreState()
    c.showPage()
    c.save()
    return buf.getvalue()


def stamp_pages(writer: PdfWriter, pages: range | None = None) -> None:
    """Merge the draft watermark onto ``pages`` (default: every page) of ``writer``, in place, before it is written.

    Drawn under the page's own content: the text stays readable for review and reads before it in text extraction, so
    a page's body and footer text come out as they would without the watermark.
    """
    overlays: dict[tuple[float, float], PageObject] = {}  # one reader per size: its font is copied once, not per page
    for index in pages if pages is not None else range(len(writer.pages)):
        page = writer.pages[index]
        box: RectangleObject = page.mediabox
        size = (round(float(box.width), 2), round(float(box.height), 2))
        if size not in overlays:
            overlays[size] = PdfReader(io.BytesIO(_overlay(*size))).pages[0]
        page.merge_translated_page(overlays[size], float(box.left), float(box.bottom), over=False)
