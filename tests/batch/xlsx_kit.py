"""Hand-made .xlsx files, XML written the way Excel writes it (not by openpyxl), for the client-list tests.

Japanese Excel stores the reading typed through the IME beside the text of a shared string (``<rPh>`` runs
with ``<phoneticPr>``), uses numFmtId 14 (date) and 22 (date and time) from its built-in formats, and a
workbook made on an old Mac counts days from 1904 (``<workbookPr date1904="1"/>``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"""  # noqa: E501
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{PKG_REL}"><Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/><Relationship Id="rId4" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"""  # noqa: E501
# cellXfs: s="0" general, s="1" built-in date (numFmtId 14), s="2" built-in date and time (numFmtId 22)
STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="11"/><name val="游ゴシック"/><family val="2"/><charset val="128"/><scheme val="minor"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="標準" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""  # noqa: E501


def workbook_xml(date1904: bool = False) -> str:
    pr = '<workbookPr date1904="1" defaultThemeVersion="166925"/>' if date1904 else '<workbookPr defaultThemeVersion="166925"/>'
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
            f'<fileVersion appName="xl" lastEdited="7" lowestEdited="7" rupBuild="27425"/>{pr}'
            '<bookViews><workbookView xWindow="-120" yWindow="-120" windowWidth="29040" windowHeight="15840"/></bookViews>'
            '<sheets><sheet name="顧客一覧" sheetId="1" r:id="rId1"/></sheets><calcPr calcId="191029"/></workbook>')


def shared_strings(items: list[str | tuple[str, str]]) -> str:
    """Each item is plain text, or (text, furigana) stored as Excel stores IME input: the reading in <rPh>."""
    out = []
    for item in items:
        if isinstance(item, tuple):
            text, reading = item
            out.append(f'<si><t>{escape(text)}</t><rPh sb="0" eb="{len(text)}"><t>{escape(reading)}</t></rPh>'
                       '<phoneticPr fontId="1"/></si>')
        else:
            out.append(f"<si><t>{escape(item)}</t></si>")
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{MAIN}" count="{len(items)}" '
            f'uniqueCount="{len(items)}">{"".join(out)}</sst>')


def column(n: int) -> str:
    letters = ""
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def cell(ref: str, value: object) -> str:
    """A raw <c>: ints/floats as numbers, ("s", i) shared string, ("d", serial) date, ("dt", serial) date and time,
    ("f", formula) formula without a saved value, ("f", formula, cached) with one, ("str", text) inline."""
    if isinstance(value, tuple):
        kind = value[0]
        if kind == "s":
            return f'<c r="{ref}" t="s"><v>{value[1]}</v></c>'
        if kind == "d":
            return f'<c r="{ref}" s="1"><v>{value[1]}</v></c>'
        if kind == "dt":
            return f'<c r="{ref}" s="2"><v>{value[1]}</v></c>'
        if kind == "f":
            cached = f"<v>{value[2]}</v>" if len(value) > 2 else ""
            return f'<c r="{ref}"><f>{escape(value[1])}</f>{cached}</c>'
        if kind == "str":
            return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value[1])}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def sheet_xml(rows: Iterable[str], dimension: str = "A1:E3") -> Iterable[str]:
    yield (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
           f'<dimension ref="{dimension}"/><sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews>'
           '<sheetFormatPr defaultRowHeight="18.75"/><sheetData>')
    yield from rows
    yield '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'


def row_xml(number: int, values: list[object]) -> str:
    cells = "".join(cell(f"{column(i)}{number}", v) for i, v in enumerate(values, 1) if v is not None)
    return f'<row r="{number}" spans="1:{max(len(values), 1)}">{cells}</row>'


def write_xlsx(path: Path, strings: list[str | tuple[str, str]], rows: Iterable[str], *, date1904: bool = False,
               dimension: str = "A1:E3", sheet_override: bytes | None = None) -> Path:
    """Zip the parts as Excel lays them out; ``rows`` are <row> elements (streamed: a million rows is fine)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", workbook_xml(date1904))
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", STYLES)
        zf.writestr("xl/sharedStrings.xml", shared_strings(strings))
        if sheet_override is not None:
            zf.writestr("xl/worksheets/sheet1.xml", sheet_override)
        else:
            with zf.open("xl/worksheets/sheet1.xml", "w") as out:
                for chunk in sheet_xml(rows, dimension):
                    out.write(chunk.encode("utf-8"))
    return path


def bomb_xlsx(path: Path, unpacked: int, part: str = "xl/worksheets/sheet1.xml") -> Path:
    """A valid-looking workbook whose ``part`` (the sheet, or the shared strings) inflates to about ``unpacked`` bytes of
    XML from a few tens of KB: the same row (or string) repeated, packed at the highest level."""
    header = row_xml(1, [("s", 0), ("s", 1), ("s", 2), ("s", 3)])
    filler_row = '<row><c t="inlineStr"><is><t>株式会社 展開</t></is></c><c><v>1</v></c></row>'
    strings = ["会社名", "業種", "売上高", "賠償保険金額"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", workbook_xml())
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", STYLES)
        with zf.open("xl/sharedStrings.xml", "w") as out:
            if part == "xl/sharedStrings.xml":
                sst = shared_strings(strings)
                head, tail = sst.rsplit("</sst>", 1)
                out.write(head.encode())
                item = "<si><t>株式会社 展開</t></si>".encode()
                for _ in range(unpacked // len(item)):
                    out.write(item)
                out.write(("</sst>" + tail).encode())
            else:
                out.write(shared_strings(strings).encode())
        with zf.open("xl/worksheets/sheet1.xml", "w") as out:
            rows = [header]
            if part == "xl/worksheets/sheet1.xml":
                rows.append(filler_row * (unpacked // len(filler_row.encode())))
            for chunk in sheet_xml(rows):
                out.write(chunk.encode("utf-8"))
    return path
