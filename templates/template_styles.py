"""The templates' style sheet and fonts: page geometry, colours, every paragraph/table style, an IPAex-only theme and font table."""

from __future__ import annotations

import re

from docx.document import Document as DocumentObject
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

GOTHIC, MINCHO = "IPAexGothic", "IPAexMincho"
BRAND, BRAND_LIGHT, BRAND_MID, INK, GREY = "1B4F8A", "EAF1F8", "B9CDE5", "222222", "5F6B7A"
PAGE_W, PAGE_H, MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 11906, 16838, 1021, 1134, 1134  # A4 in twips, 18/20 mm
TEXT_W = PAGE_W - 2 * MARGIN_X

# --- styles -----------------------------------------------------------------------------------


def fonts(face: str) -> str:
    # Every slot, East Asian included: LibreOffice falls back to another font for any slot left empty.
    return f'<w:rFonts w:ascii="{face}" w:hAnsi="{face}" w:eastAsia="{face}" w:cs="{face}"/>'


def rpr(face: str = MINCHO, size: float = 10, color: str = INK, bold: bool = False) -> str:
    half = int(size * 2)
    b = "<w:b/><w:bCs/>" if bold else ""
    return f'{fonts(face)}{b}<w:color w:val="{color}"/><w:sz w:val="{half}"/><w:szCs w:val="{half}"/><w:lang w:val="ja-JP" w:eastAsia="ja-JP"/>'


def spacing(before: int = 0, after: int = 0, line: int = 240) -> str:
    return f'<w:spacing w:before="{before}" w:after="{after}" w:line="{line}" w:lineRule="auto"/>'


def ind(left: int = 0, hanging: int = 0, first: int = 0) -> str:
    extra = f' w:hanging="{hanging}"' if hanging else (f' w:firstLine="{first}"' if first else "")
    return f'<w:ind w:left="{left}" w:right="0"{extra}/>'


def border(side: str, size: int, color: str, space: int = 1) -> str:
    return f'<w:{side} w:val="single" w:sz="{size}" w:space="{space}" w:color="{color}"/>'


def style(kind: str, sid: str, name: str, ppr: str = "", rp: str = "", based: str = "", nxt: str = "", extra: str = "", default: bool = False) -> str:
    head = f'<w:style w:type="{kind}" w:styleId="{sid}"' + (' w:default="1"' if default else "") + ">"
    head += f'<w:name w:val="{name}"/>' + (f'<w:basedOn w:val="{based}"/>' if based else "") + (f'<w:next w:val="{nxt}"/>' if nxt else "")
    body = "<w:qFormat/>" + (f"<w:pPr>{ppr}</w:pPr>" if ppr else "") + (f"<w:rPr>{rp}</w:rPr>" if rp else "") + extra
    return head + body + "</w:style>"


def para_style(sid: str, name: str, ppr: str, rp: str, based: str = "Normal", nxt: str = "") -> str:
    return style("paragraph", sid, name, ppr, rp, based=based, nxt=nxt)


def heading(level: int, size: float, ppr: str, color: str) -> str:
    keep = "<w:keepNext/><w:keepLines/>"
    return para_style(f"Heading{level}", f"heading {level}", keep + ppr + f'<w:outlineLvl w:val="{level - 1}"/>', rpr(GOTHIC, size, color), nxt="Normal")


CELL_MARGINS = (
    "<w:tblCellMar>"
    + "".join(f'<w:{side} w:w="{w}" w:type="dxa"/>' for side, w in (("top", 57), ("left", 100), ("bottom", 57), ("right", 100)))
    + "</w:tblCellMar>"
)
TABLE_BORDERS = "<w:tblBorders>" + "".join(border(s, 4, BRAND_MID, 0) for s in ("top", "left", "bottom", "right", "insideH", "insideV")) + "</w:tblBorders>"

STYLES = [
    style("paragraph", "Normal", "Normal", spacing(0, 80, 300) + '<w:jc w:val="both"/>', rpr(MINCHO, 10), default=True),
    style("character", "DefaultParagraphFont", "Default Paragraph Font", default=True),
    style("table", "TableNormal", "Normal Table", default=True, extra='<w:tblPr><w:tblInd w:w="0" w:type="dxa"/>' + CELL_MARGINS + "</w:tblPr>"),
    style("numbering", "NoList", "No List", default=True),
    heading(
        1,
        15,
        "<w:pBdr>"
        + "".join(border(s, 4, BRAND, 4) for s in ("top", "left", "bottom", "right"))
        + f'</w:pBdr><w:shd w:val="clear" w:color="auto" w:fill="{BRAND}"/>'
        + spacing(360, 280, 240)
        + ind(100),
        "FFFFFF",
    ),
    heading(2, 12, "<w:pBdr>" + border("left", 36, BRAND, 6) + border("bottom", 4, BRAND_MID, 2) + "</w:pBdr>" + spacing(300, 140, 260) + ind(140), BRAND),
    heading(3, 10.5, spacing(200, 80, 260), BRAND),
    para_style(
        "CoverTitle",
        "Cover Title",
        "<w:pBdr>"
        + "".join(border(s, 4, BRAND, 18) for s in ("top", "bottom"))
        + f'</w:pBdr><w:shd w:val="clear" w:color="auto" w:fill="{BRAND}"/>'
        + spacing(600, 240, 240)
        + '<w:jc w:val="center"/>',
        rpr(GOTHIC, 24, "FFFFFF"),
    ),
    para_style("CoverSubtitle", "Cover Subtitle", spacing(0, 600, 240) + '<w:jc w:val="center"/>', rpr(GOTHIC, 12, BRAND)),
    para_style("LetterTitle", "Letter Title", spacing(0, 240, 240) + '<w:jc w:val="center"/>', rpr(GOTHIC, 13, INK)),
    para_style("LetterText", "Letter Text", spacing(0, 60, 340), rpr(MINCHO, 10.5)),
    para_style("LetterBody", "Letter Body", spacing(120, 60, 340) + ind(0, first=210), rpr(MINCHO, 10.5)),
    para_style("LetterClosing", "Letter Closing", spacing(120, 60, 340) + '<w:jc w:val="right"/>', rpr(MINCHO, 10.5)),
    para_style("Signature", "Signature", spacing(480, 0, 300) + '<w:jc w:val="right"/>', rpr(GOTHIC, 11, INK)),
    para_style("Lead", "Lead", spacing(0, 160, 320), rpr(MINCHO, 10.5)),
    para_style("Subtitle", "Section Subtitle", spacing(0, 160, 240), rpr(GOTHIC, 10, GREY)),
    para_style("ItemTitle", "Item Title", "<w:keepNext/>" + spacing(160, 60, 260), rpr(GOTHIC, 10.5, BRAND)),
    para_style("ListPoint", "List Point", spacing(0, 40, 290) + ind(420, 210), rpr(MINCHO, 10)),
    para_style("ListNumber", "List Number", spacing(0, 60, 290) + ind(420, 210), rpr(MINCHO, 10)),
    para_style("ExclusionItem", "Exclusion Item", spacing(0, 40, 276) + ind(210, 210), rpr(MINCHO, 10)),
    para_style("ExclusionNote", "Exclusion Note", spacing(0, 40, 276) + ind(210), rpr(MINCHO, 10)),
    para_style("ExclusionSub", "Exclusion Sub", spacing(0, 40, 276) + ind(630, 420), rpr(MINCHO, 10)),
    para_style("Figure", "Figure Caption", "<w:pBdr>" + border("left", 18, BRAND_MID, 6) + "</w:pBdr>" + spacing(60, 60, 260) + ind(140), rpr(GOTHIC, 9, GREY)),
    para_style("NoteText", "Note Text", spacing(0, 30, 250), rpr(GOTHIC, 8.5, GREY)),
    para_style("NoteItem", "Note Item", spacing(0, 30, 250) + ind(630, 210), rpr(GOTHIC, 8.5, GREY)),
    para_style("TableText", "Table Text", spacing(0, 0, 260) + '<w:jc w:val="left"/>', rpr(GOTHIC, 9)),
    para_style("TablePoint", "Table Point", spacing(0, 0, 260) + ind(180, 180) + '<w:jc w:val="left"/>', rpr(GOTHIC, 9)),
    para_style("TableNumber", "Table Number", spacing(0, 20, 260) + ind(180, 180) + '<w:jc w:val="left"/>', rpr(GOTHIC, 9)),
    para_style("TableHead", "Table Head", "<w:keepNext/>" + spacing(0, 0, 240) + '<w:jc w:val="center"/>', rpr(GOTHIC, 9, "FFFFFF")),
    para_style("TableLabel", "Table Label", spacing(0, 0, 260) + '<w:jc w:val="left"/>', rpr(GOTHIC, 9, BRAND)),
    para_style("TableAmount", "Table Amount", spacing(0, 0, 240) + '<w:jc w:val="right"/>', rpr(GOTHIC, 9)),
    para_style("TableCenter", "Table Center", spacing(0, 0, 240) + '<w:jc w:val="center"/>', rpr(GOTHIC, 9)),
    # the emergency-support flow diagram (make_templates.emergency_diagram)
    para_style("FlowBand", "Flow Band", spacing(0, 0, 260) + '<w:jc w:val="center"/>', rpr(GOTHIC, 11, "FFFFFF", bold=True)),
    para_style("FlowLabel", "Flow Label", spacing(0, 0, 260) + ind(60) + '<w:jc w:val="left"/>', rpr(GOTHIC, 9.5, BRAND, bold=True)),
    para_style("FlowStep", "Flow Step", spacing(0, 20, 260) + '<w:jc w:val="center"/>', rpr(GOTHIC, 10, BRAND, bold=True)),
    para_style("FlowPoint", "Flow Point", spacing(0, 0, 240) + ind(150, 150) + '<w:jc w:val="left"/>', rpr(GOTHIC, 8.5)),
    para_style("FlowFunction", "Flow Function", spacing(0, 0, 240) + '<w:jc w:val="center"/>', rpr(GOTHIC, 8.5, "8A4B08", bold=True)),
    para_style("FlowArrow", "Flow Arrow", '<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="exact"/><w:jc w:val="center"/>',
               rpr(GOTHIC, 11, BRAND, bold=True)),
    para_style("PageStart", "Page Start", '<w:spacing w:before="0" w:after="0" w:line="20" w:lineRule="exact"/>', rpr(MINCHO, 1)),
    # Tag paragraphs vanish on render ({%p %}); small and grey so the layout stays readable in Word.
    para_style("Contents", "Contents", "<w:pBdr>" + border("left", 24, BRAND, 8) + "</w:pBdr>" + spacing(0, 40, 260) + ind(240), rpr(GOTHIC, 10, BRAND)),
    # proposal-pack documents (letter, quote, 重要事項説明書)
    para_style("DocTitle", "Document Title", "<w:pBdr>" + border("bottom", 12, BRAND, 4) + "</w:pBdr>" + spacing(240, 360, 240) + '<w:jc w:val="center"/>',
               rpr(GOTHIC, 18, BRAND)),
    para_style("DocSubtitle", "Document Subtitle", spacing(0, 240, 240) + '<w:jc w:val="center"/>', rpr(GOTHIC, 11, GREY)),
    para_style("Addressee", "Addressee", "<w:pBdr>" + border("bottom", 4, INK, 2) + "</w:pBdr>" + spacing(120, 240, 320) + ind(0) + '<w:jc w:val="left"/>',
               rpr(GOTHIC, 13, INK)),
    para_style("RightText", "Right Text", spacing(0, 40, 280) + '<w:jc w:val="right"/>', rpr(MINCHO, 10.5)),
    para_style("RightSmall", "Right Small", spacing(0, 0, 260) + '<w:jc w:val="right"/>', rpr(GOTHIC, 9, GREY)),
    para_style("Premium", "Premium", spacing(0, 0, 240) + '<w:jc w:val="right"/>', rpr(GOTHIC, 13, BRAND, bold=True)),
    para_style("CenterText", "Center Text", spacing(240, 240, 280) + '<w:jc w:val="center"/>', rpr(MINCHO, 10.5)),
    para_style("TemplateTag", "Template Tag", spacing(0, 0, 240), rpr(GOTHIC, 7, "9AA5B1")),
    # a required 重要事項説明書 item without wording yet: boxed in red so a draft cannot pass for complete
    para_style("MissingItem", "Missing Item", "<w:pBdr>" + border("top", 8, "C00000", 4) + border("left", 8, "C00000", 4) + border("bottom", 8, "C00000", 4)
               + border("right", 8, "C00000", 4) + "</w:pBdr>" + spacing(60, 120, 276) + ind(120), rpr(GOTHIC, 10, "C00000", bold=True)),
    para_style(
        "Header",
        "header",
        "<w:pBdr>" + border("bottom", 6, BRAND, 4) + '</w:pBdr><w:tabs><w:tab w:val="right" w:pos="' + str(TEXT_W) + '"/></w:tabs>' + spacing(0, 0, 240),
        rpr(GOTHIC, 8, BRAND),
    ),
    para_style(
        "Footer",
        "footer",
        "<w:pBdr>" + border("top", 4, BRAND_MID, 4) + '</w:pBdr><w:tabs><w:tab w:val="right" w:pos="' + str(TEXT_W) + '"/></w:tabs>' + spacing(0, 0, 240),
        rpr(GOTHIC, 7.5, GREY),
    ),
    style(
        "table",
        "BrochureTable",
        "Brochure Table",
        based="TableNormal",
        rp=rpr(GOTHIC, 9),
        extra="<w:tblPr>"
        + TABLE_BORDERS
        + CELL_MARGINS
        + "</w:tblPr>"
        + '<w:tblStylePr w:type="firstRow"><w:rPr><w:color w:val="FFFFFF"/></w:rPr>'
        + f'<w:tcPr><w:shd w:val="clear" w:color="auto" w:fill="{BRAND}"/></w:tcPr></w:tblStylePr>',
    ),
]


def install_styles(doc: DocumentObject) -> None:
    """Replace python-docx's default styles (theme fonts, Calibri, Symbol bullets) with ours only."""
    root = doc.styles.element
    for child in list(root):
        if child.tag in (qn("w:style"), qn("w:docDefaults")):
            root.remove(child)
    defaults = parse_xml(
        f"<w:docDefaults {nsdecls('w')}><w:rPrDefault><w:rPr>{rpr(MINCHO, 10)}</w:rPr></w:rPrDefault>"
        f"<w:pPrDefault><w:pPr>{spacing(0, 0, 240)}</w:pPr></w:pPrDefault></w:docDefaults>"
    )
    root.insert(0, defaults)
    for xml in STYLES:
        root.append(parse_xml(xml.replace("<w:style ", f"<w:style {nsdecls('w')} ", 1)))


def clean_package(doc: DocumentObject) -> None:
    """Theme, font table and numbering name only IPAex fonts; drop parts that name others."""
    for rId, rel in list(doc.part.rels.items()):
        target = rel.target_part if not rel.is_external else None
        if rel.reltype in (RT.THEME,):
            xml = target.blob.decode("utf-8")
            xml = re.sub(r'<a:font script="[^"]*" typeface="[^"]*"/>\s*', "", xml)
            major = xml[xml.index("<a:majorFont>") : xml.index("</a:majorFont>")]
            minor = xml[xml.index("<a:minorFont>") : xml.index("</a:minorFont>")]
            new_major = re.sub(r'typeface="[^"]*"', f'typeface="{GOTHIC}"', major)
            new_minor = re.sub(r'typeface="[^"]*"', f'typeface="{MINCHO}"', minor)
            target._blob = xml.replace(major, new_major).replace(minor, new_minor).encode("utf-8")
        elif rel.reltype == RT.FONT_TABLE:
            entries = "".join(
                f'<w:font w:name="{f}"><w:charset w:val="80"/><w:family w:val="{fam}"/><w:pitch w:val="variable"/></w:font>'
                for f, fam in ((GOTHIC, "modern"), (MINCHO, "roman"))
            )
            target._element = parse_xml(f"<w:fonts {nsdecls('w')}>{entries}</w:fonts>")
        elif rel.reltype == RT.NUMBERING:
            target._element = parse_xml(f"<w:numbering {nsdecls('w')}/>")
        elif rel.reltype in ("http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects", RT.CUSTOM_XML):
            doc.part.rels.pop(rId)
    for rId, rel in list(doc.part.package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            doc.part.package.rels.pop(rId)
    settings = doc.settings.element
    for tag in ("w:rsids", "w:attachedTemplate", "w:proofState"):
        for el in settings.findall(qn(tag)):
            settings.remove(el)
    for math in settings.findall(qn("m:mathPr")):
        settings.remove(math)
    props = doc.core_properties
    props.author, props.comments, props.title, props.subject, props.keywords, props.last_modified_by = "", "", "", "", "", ""
