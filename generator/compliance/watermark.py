"""The draft watermark: real text stamped onto every page of a document built without a valid approval.

Stamped at PDF level (after LibreOffice, at pack/publish time), so cached brochure and static pages, batch layouts and
single documents all get it the same way and it cannot be forgotten in one template. The overlay is drawn once per
page size with ReportLab (IPAexGothic embedded, ``invariant`` so the same inputs give the same bytes).
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterable

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    RectangleObject,
)

from generator.documents.fonts import font_file

DRAFT_TEXT = "社内検討用・未承認 ─ お客さまへの提示不可"
BANNER_TEXT = "【ドラフト・未承認】" + DRAFT_TEXT + "（承認番号なし）"
FONT = "IPAexGothic"
MARK = "/DocgenDraftMark"  # the Form XObject's name in a stamped page's resources


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


@functools.cache
def _overlay_page(width: float, height: float) -> tuple[bytes, DictionaryObject]:
    """The overlay's drawing and resources, parsed once per process and page size (every pack re-uses them)."""
    page = PdfReader(io.BytesIO(_overlay(width, height))).pages[0]
    return page.get_contents().get_data(), page["/Resources"].get_object()


_READING = threading.Lock()  # the cached overlay's reader is shared by the portal's job threads


def _cloned(resources: DictionaryObject, writer: PdfWriter) -> DictionaryObject:
    with _READING:
        return resources.clone(writer)


def _form(writer: PdfWriter, width: float, height: float) -> IndirectObject:
    """The overlay of this page size as one Form XObject in ``writer``: every stamped page of that size draws it."""
    data, resources = _overlay_page(width, height)
    form = DecodedStreamObject()
    form.set_data(data)
    form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                 NameObject("/BBox"): ArrayObject(FloatObject(v) for v in (0, 0, width, height)),
                 NameObject("/Resources"): _cloned(resources, writer)})
    return writer._add_object(form.flate_encode(level=9))


def stamp_pages(writer: PdfWriter, pages: Iterable[int] | None = None,
                forms: dict[tuple[float, float], IndirectObject] | None = None) -> dict[tuple[float, float], IndirectObject]:
    """Draw the draft watermark on ``pages`` (0-based; default: every page) of ``writer``, in place, before it is written.

    Drawn under the page's own content: the text stays readable for review and reads before it in text extraction, so
    a page's body and footer text come out as they would without the watermark. The overlay is one Form XObject per
    page size, drawn by a short content stream put before the page's own: nothing of the page is parsed or rewritten
    (merging the overlay page into each page parsed every content stream: most of a draft pack's assembly time).

    ``forms`` are overlays by page size already in the writer, to draw instead of adding another; the overlays used
    are returned.
    """
    forms = dict(forms or {})
    draws: dict[tuple[float, float], IndirectObject] = {}
    for index in pages if pages is not None else range(len(writer.pages)):
        page = writer.pages[index]
        box: RectangleObject = page.mediabox
        size = (round(float(box.width), 2), round(float(box.height), 2))
        if size not in forms:
            forms[size] = _form(writer, *size)
        # a page of its own resources: pages of one LibreOffice document share one resource dictionary
        resources = DictionaryObject(page.get("/Resources", DictionaryObject()).get_object())
        xobjects = DictionaryObject(resources.get("/XObject", DictionaryObject()).get_object())
        xobjects[NameObject(MARK)] = forms[size]
        resources[NameObject("/XObject")] = xobjects
        page[NameObject("/Resources")] = resources
        origin = (float(box.left), float(box.bottom))
        if origin not in draws:
            draw = DecodedStreamObject()
            draw.set_data(f"q 1 0 0 1 {origin[0]:g} {origin[1]:g} cm {MARK} Do Q\n".encode())
            draws[origin] = writer._add_object(draw)
        contents = page.get("/Contents")
        own = contents.get_object() if contents is not None else ArrayObject()
        page[NameObject("/Contents")] = ArrayObject([draws[origin], *(own if isinstance(own, ArrayObject) else [contents])])
    return forms
