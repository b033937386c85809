"""Paragraph and table builders, fields, bookmarks and page set-up for bootstrapping .docx templates with python-docx."""

from __future__ import annotations

from docx.document import Document as DocumentObject
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Twips
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from template_styles import BRAND, MARGIN_BOTTOM, MARGIN_TOP, MARGIN_X, PAGE_H, PAGE_W, border

TBL_PR_ORDER = (
    "tblStyle",
    "tblpPr",
    "tblOverlap",
    "bidiVisual",
    "tblStyleRowBandSize",
    "tblStyleColBandSize",
    "tblW",
    "jc",
    "tblCellSpacing",
    "tblInd",
    "tblBorders",
    "shd",
    "tblLayout",
    "tblCellMar",
    "tblLook",
    "tblCaption",
    "tblDescription",
)
TC_PR_ORDER = ("cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap", "tcMar", "textDirection", "tcFitText", "vAlign", "hideMark")


def schema_order(parent, order: tuple[str, ...]) -> None:
    """Word rejects property elements out of schema order; python-docx appends where we tell it."""
    parent[:] = sorted(parent, key=lambda el: order.index(el.tag.split("}")[1]))


# --- building blocks ------------------------------------------------------------------------


class Builder:
    """Adds styled paragraphs and tables to the body, or to a given table cell."""

    def __init__(self, doc: DocumentObject):
        self.doc = doc

    def p(self, text: str, style: str = "Normal", where: DocumentObject | _Cell | None = None) -> Paragraph:
        target = where if where is not None else self.doc
        if isinstance(target, _Cell) and len(target.paragraphs) == 1 and not target.paragraphs[0].text:
            para = target.paragraphs[0]  # a new cell's own empty paragraph
            para.style = style
        else:
            para = target.add_paragraph(style=style)
        if text:
            para.add_run(text)  # one run per paragraph: every Jinja tag stays inside one run
        return para

    def cell_loop(self, cell: _Cell, loop: str, text: str, style: str = "Table Text") -> None:
        """Repeat one paragraph per item inside a cell; the else branch keeps a cell never empty (Word needs one paragraph)."""
        self.tag(f"{{%p for {loop} %}}", cell)
        self.p(text, style, cell)
        self.tag("{%p else %}", cell)
        self.p("", style, cell)
        self.tag("{%p endfor %}", cell)

    def tag(self, text: str, where: DocumentObject | _Cell | None = None) -> Paragraph:
        return self.p(text, "Template Tag", where)

    def notes(self, expr: str) -> None:
        """The recurring note block: mark + text, then ① items."""
        self.tag(f"{{%p for n in {expr} %}}")
        self.p("{{ n.mark }}{{ n.text }}", "Note Text")
        self.tag("{%p for i in n.points %}")
        self.p("{{ i.mark }}{{ i.text }}", "Note Item")
        self.tag("{%p endfor %}")
        self.tag("{%p endfor %}")

    def table(self, widths: list[int], headers: list[str] | None) -> Table:
        table = self.doc.add_table(rows=0, cols=len(widths))
        table.style = self.doc.styles["Brochure Table"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        tbl_pr = table._tbl.tblPr
        for el in tbl_pr.findall(qn("w:tblW")):
            tbl_pr.remove(el)
        tbl_pr.append(parse_xml(f'<w:tblW {nsdecls("w")} w:w="{sum(widths)}" w:type="dxa"/>'))
        for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths, strict=True):
            col.set(qn("w:w"), str(width))
        # Only tables with a header row get the style's first-row shading.
        first = "1" if headers else "0"
        for el in tbl_pr.findall(qn("w:tblLook")):
            tbl_pr.remove(el)
        tbl_pr.append(
            parse_xml(
                f'<w:tblLook {nsdecls("w")} w:val="06{"2" if headers else "0"}0" w:firstRow="{first}" w:lastRow="0" '
                'w:firstColumn="0" w:lastColumn="0" w:noHBand="1" w:noVBand="1"/>'
            )
        )
        # Word validates tblPr's child order; appending left it scrambled.
        schema_order(tbl_pr, TBL_PR_ORDER)
        if headers:
            row = self.row(table, headers, "Table Head", header=True)
            row.height = Twips(360)
        return table

    def row(self, table: Table, texts: list[str], style: str = "Table Text", header: bool = False, styles: list[str] | None = None):
        row = table.add_row()
        widths = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        tr_pr = row._tr.get_or_add_trPr()
        tr_pr.append(parse_xml(f"<w:cantSplit {nsdecls('w')}/>"))
        if header:
            tr_pr.append(parse_xml(f"<w:tblHeader {nsdecls('w')}/>"))
        for i, (cell, text) in enumerate(zip(row.cells, texts, strict=False)):
            cell.width = Twips(widths[i])
            tc_pr = cell._tc.get_or_add_tcPr()
            tc_pr.append(parse_xml(f'<w:vAlign {nsdecls("w")} w:val="{"center" if header else "top"}"/>'))
            if header:  # direct shading too: not every reader applies table-style conditional formats
                tc_pr.append(parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{BRAND}"/>'))
            schema_order(tc_pr, TC_PR_ORDER)
            self.p(text, (styles[i] if styles else style), cell)
        return row

    def tag_row(self, table: Table, text: str) -> None:
        row = self.row(table, [text] + [""] * (len(table.columns) - 1), "Template Tag")
        row.cells[0].merge(row.cells[-1])
        merged = row.cells[0]
        for extra in merged.paragraphs[1:]:
            extra._p.getparent().remove(extra._p)

    def shade(self, cell: _Cell, fill: str) -> None:
        tc_pr = cell._tc.get_or_add_tcPr()
        tc_pr.append(parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{fill}"/>'))
        schema_order(tc_pr, TC_PR_ORDER)


def new_page(paragraph: Paragraph) -> Paragraph:
    """Start this paragraph on a new page (Word: Paragraph > Line and Page Breaks > Page break before)."""
    paragraph._p.get_or_add_pPr().insert(1, parse_xml(f"<w:pageBreakBefore {nsdecls('w')}/>"))
    return paragraph


def field_runs(paragraph: Paragraph, instr: str, cached: str = "1", dirty: bool = False) -> None:
    """A real Word field (PAGE, NUMPAGES, PAGEREF): begin / instruction / separate / cached result / end.

    ``dirty`` asks Word to update the field when the file is opened; LibreOffice updates it on every layout.
    """
    p = paragraph._p
    for xml in (
        '<w:r><w:fldChar w:fldCharType="begin"' + (' w:dirty="true"' if dirty else "") + "/></w:r>",
        f'<w:r><w:instrText xml:space="preserve"> {instr} </w:instrText></w:r>',
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>',
        f"<w:r><w:t>{cached}</w:t></w:r>",
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
    ):
        p.append(parse_xml(xml.replace("<w:r>", f"<w:r {nsdecls('w')}>", 1)))


def bookmark(paragraph: Paragraph, name: str, number: int) -> Paragraph:
    """Wrap the paragraph's text in a Word bookmark (``name`` may be a Jinja expression); PAGEREF fields point at it.

    ``number`` is the bookmark's w:id, a literal so the template stays a valid document; repeated in a loop it is
    the same for every copy, which Word and LibreOffice pair up in order.
    """
    p = paragraph._p
    start = parse_xml(f'<w:bookmarkStart {nsdecls("w")} w:id="{number}" w:name="{name}"/>')
    first_run = p.find(qn("w:r"))
    if first_run is not None:
        first_run.addprevious(start)
    else:
        p.append(start)
    p.append(parse_xml(f'<w:bookmarkEnd {nsdecls("w")} w:id="{number}"/>'))
    return paragraph


def segment_runs(paragraph: Paragraph, var: str) -> Paragraph:
    """The paragraph's text from ``var``'s segments: plain runs, and PAGEREF fields where a segment names a bookmark."""
    paragraph.add_run(f"{{%r for seg in {var} %}}")
    paragraph.add_run("{%r if seg.ref %}")
    field_runs(paragraph, "PAGEREF {{ seg.ref }} \\h", cached="{{ seg.text }}")  # shown value: the laid-out page (brochure.build_brochure)
    paragraph.add_run("{%r else %}")
    paragraph.add_run("{{ seg.text }}")
    paragraph.add_run("{%r endif %}")
    paragraph.add_run("{%r endfor %}")
    return paragraph


def no_borders(table: Table, gutter: str = "FFFFFF", size: int = 18, pad: int = 57) -> Table:
    """Replace the style's grid lines with thick white ones (filled cells read as separate boxes); ``pad`` above and below text."""
    tbl_pr = table._tbl.tblPr
    for tag in ("w:tblBorders", "w:tblCellMar"):
        for el in tbl_pr.findall(qn(tag)):
            tbl_pr.remove(el)
    sides = ("top", "left", "bottom", "right", "insideH", "insideV")
    tbl_pr.append(parse_xml(f"<w:tblBorders {nsdecls('w')}>" + "".join(border(s, size, gutter, 0) for s in sides) + "</w:tblBorders>"))
    margins = (("top", pad), ("left", 100), ("bottom", pad), ("right", 100))
    tbl_pr.append(parse_xml(f"<w:tblCellMar {nsdecls('w')}>" + "".join(f'<w:{s} w:w="{w}" w:type="dxa"/>' for s, w in margins) + "</w:tblCellMar>"))
    schema_order(tbl_pr, TBL_PR_ORDER)
    return table


HEADER = "{{ doc.product }}\t{{ doc.insurer_short }}"
FOOTER = (
    "{{ footer.product }}　第{{ footer.version }}版　承認番号：{{ footer.approval }}　発効日：{{ footer.effective }}"
    "　管理番号：{{ footer.content_hash }}\t"
)


def page_setup(doc: DocumentObject, b: Builder, header: str = HEADER, footer: str = FOOTER) -> None:
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Twips(PAGE_W), Twips(PAGE_H)
    sec.left_margin = sec.right_margin = Twips(MARGIN_X)
    sec.top_margin, sec.bottom_margin = Twips(MARGIN_TOP), Twips(MARGIN_BOTTOM)
    sec.header_distance, sec.footer_distance = Twips(567), Twips(510)
    head = sec.header.paragraphs[0]
    head.style = "header"
    head.add_run(header)
    foot = sec.footer.paragraphs[0]
    foot.style = "footer"
    foot.add_run(footer)
    field_runs(foot, "PAGE")
    foot.add_run(" / ")
    field_runs(foot, "NUMPAGES")
