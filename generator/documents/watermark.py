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

import pikepdf
from pikepdf import Array, Dictionary

from generator.documents.fonts import font_file
from generator.documents.pdfa import Stamps, rename_subsets

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


_FORMS = threading.local()  # per thread: a pikepdf file is not shared between the portal's job threads


def _form(width: float, height: float) -> pikepdf.Object:
    """The overlay of this page size as a Form XObject of its own file, made once per thread; copied into each PDF."""
    forms: dict[tuple[float, float], tuple[pikepdf.Pdf, pikepdf.Object]] = _FORMS.__dict__.setdefault("forms", {})
    if (width, height) not in forms:
        overlay = pikepdf.open(io.BytesIO(_overlay(width, height)))
        rename_subsets(overlay)  # ReportLab names its subsets too
        forms[(width, height)] = (overlay, overlay.pages[0].as_form_xobject())
    return forms[(width, height)][1]


def stamp_pages(pdf: pikepdf.Pdf, pages: Iterable[int] | None = None, made: Stamps | None = None) -> None:
    """Draw the draft watermark on ``pages`` (0-based; default: every page) of ``pdf``, in place, before it is written.

    Drawn under the page's own content: the text stays readable for review and reads before it in text extraction, so
    a page's body and footer text come out as they would without the watermark. The overlay is one Form XObject per
    page size, drawn by a short content stream put before the page's own, marked as an artifact so that screen readers
    skip it (it is not part of the document's structure): nothing of the page is parsed or rewritten. ``made`` keeps
    the objects drawn into ``pdf`` for a later call on the same file (a pack tail's: generator.documents.structure.Tail), so
    that every stamped page of it shares one form and one drawing as if stamped in one call.
    """
    if made is None:  # a tail's objects (``made``) were lent what its pages have when prepared (:func:`prepare`)
        made = {}
        _lend(pdf, made)
    for index in pages if pages is not None else range(len(pdf.pages)):
        page = pdf.pages[index]
        form, draw = _drawn(pdf, page, made)
        # a page of its own resources: pages of one LibreOffice document share one resource dictionary
        resources = Dictionary(dict(page.obj.get("/Resources", Dictionary()).items()))
        xobjects = Dictionary(dict(resources.get("/XObject", Dictionary()).items()))
        xobjects[MARK] = form
        resources.XObject = xobjects
        page.obj.Resources = resources
        contents = page.obj.get("/Contents")
        own = list(contents) if isinstance(contents, Array) else [] if contents is None else [contents]
        page.obj.Contents = Array([draw, *own])


def prepare(pdf: pikepdf.Pdf, pages: Iterable[pikepdf.Page], made: Stamps) -> None:
    """Make the objects :func:`stamp_pages` draws ``pages`` (of any file) with in ``pdf`` now, into ``made``."""
    _lend(pdf, made)
    for page in pages:
        _drawn(pdf, page, made)


def _lend(pdf: pikepdf.Pdf, made: Stamps) -> None:
    """A page of ``pdf`` stamped already (a draft brochure's, merged into a pack) lends its form to every page of its size.

    Drawn by this module from the same code (cached PDFs are keyed by it), it is the overlay ReportLab would draw again:
    a pack then holds one copy of it, and a batch worker skips ReportLab, a tenth of a second to import and lay out the
    font in every worker process.
    """
    forms = made.setdefault("forms", {})
    for page in pdf.pages:
        form = page.obj.get("/Resources", Dictionary()).get("/XObject", Dictionary()).get(MARK)
        if isinstance(form, pikepdf.Stream):
            forms.setdefault(_box(page)[0], form)


def covers(made: Stamps, pages: Iterable[pikepdf.Page]) -> bool:
    """True when ``made`` (:func:`prepare`) holds the form and drawing for every one of ``pages``."""
    return all(size in made.get("forms", {}) and origin in made.get("draws", {}) for size, origin in map(_box, pages))


def _box(page: pikepdf.Page) -> tuple[tuple[float, float], tuple[float, float]]:
    box = page.mediabox
    left, bottom = float(box[0]), float(box[1])
    return (round(float(box[2]) - left, 2), round(float(box[3]) - bottom, 2)), (left, bottom)


def _drawn(pdf: pikepdf.Pdf, page: pikepdf.Page, made: Stamps) -> tuple[pikepdf.Object, pikepdf.Object]:
    """The overlay form for ``page``'s size and the content stream drawing it at its origin, in ``pdf``: made once."""
    forms = made.setdefault("forms", {})
    draws = made.setdefault("draws", {})
    size, (left, bottom) = _box(page)
    if size not in forms:
        forms[size] = pdf.copy_foreign(_form(*size))
    if (left, bottom) not in draws:
        draws[(left, bottom)] = pdf.make_stream(f"/Artifact BMC q 1 0 0 1 {left:g} {bottom:g} cm {MARK} Do Q EMC\n".encode())
    return forms[size], draws[(left, bottom)]
