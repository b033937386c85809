"""Bootstrap every .docx template with python-docx (run once; afterwards each .docx is the designer's source of truth)."""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn

# Run as a script from anywhere: the kit sits next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from blocks import clause_blocks, eligibility, exclusion_groups, letter_text, limits_table, payment_table, product_intro  # noqa: E402
from template_kit import Builder, bookmark, new_page, no_borders, page_setup, segment_runs  # noqa: E402
from template_styles import BRAND, BRAND_LIGHT, BRAND_MID, TEXT_W, clean_package, install_styles  # noqa: E402

HERE = Path(__file__).resolve().parent


# --- the brochure -----------------------------------------------------------------------------


def cover(b: Builder) -> None:
    b.p("{{ doc.title }}", "Cover Title")
    b.p("{{ doc.insurer }}", "Cover Subtitle")
    b.tag("{%p if letter.show_title %}")
    b.p("{{ letter.title }}", "Letter Title")
    b.tag("{%p endif %}")
    letter_text(b)
    b.p("{{ doc.insurer }}", "Signature")
    b.p("", "Letter Text")
    b.tag("{%p for h in contents %}")
    b.p("{{ h }}", "Contents")
    b.tag("{%p endfor %}")
    new_page(b.p("", "Page Start"))  # sections 1 and 2 share the page after the letter, so their headings cannot break


def background(b: Builder) -> None:
    b.tag("{%p for s in background %}")
    bookmark(b.p("{{ s.heading }}", "heading 1"), "{{ s.bookmark }}", 1)
    b.tag("{%p for text in s.paragraphs %}")
    b.p("{{ text }}", "Lead")
    b.tag("{%p endfor %}")
    b.tag("{%p if s.topics %}")
    t = b.table([2600, TEXT_W - 2600], None)
    b.tag_row(t, "{%tr for t in s.topics %}")
    row = b.row(t, ["{{ t.title }}", ""], styles=["Table Label", "Table Text"])
    b.cell_loop(row.cells[1], "x in t.points", "・{{ x }}", "Table Point")
    b.shade(row.cells[0], BRAND_LIGHT)
    b.tag_row(t, "{%tr endfor %}")
    b.tag("{%p endif %}")
    b.tag("{%p for f in s.figures %}")
    b.p("{{ f }}", "Figure Caption")
    b.tag("{%p endfor %}")
    b.notes("s.notes")
    b.tag("{%p endfor %}")


def examples(b: Builder) -> None:
    new_page(bookmark(b.p("{{ examples.heading }}", "heading 1"), "{{ examples.bookmark }}", 2))
    t = b.table([1250, 1800, TEXT_W - 1250 - 1800 - 2850, 2850], ["業種", "攻撃種類", "事故内容", "主な想定被害額"])
    b.tag_row(t, "{%tr for c in examples.cases %}")
    b.row(t, ["{{ c.industry }}", "{{ c.attack }}", "{{ c.description }}", "{{ c.damages }}"], styles=["Table Label", "Table Text", "Table Text", "Table Text"])
    b.tag_row(t, "{%tr endfor %}")
    b.p("", "Note Text")
    b.notes("examples.notes")


def features(b: Builder) -> None:
    new_page(bookmark(b.p("{{ features.heading }}", "heading 1"), "{{ features.bookmark }}", 3))
    b.p("{{ features.intro }}", "Lead")
    b.tag("{%p for f in features.entries %}")
    b.p("{{ f.heading }}", "heading 2")
    b.tag("{%p for text in f.paragraphs %}")
    segment_runs(b.p(""), "text")  # a {page:ID} in content becomes a PAGEREF field: LibreOffice prints the real page
    b.tag("{%p endfor %}")
    b.notes("f.notes")
    b.tag("{%p endfor %}")


def coverage(b: Builder) -> None:
    new_page(bookmark(b.p("{{ coverage.heading }}", "heading 1"), "{{ coverage.bookmark }}", 4))
    product_intro(b)

    b.p("{{ coverage.payment.heading }}", "heading 2")
    payment_table(b)

    b.p("{{ coverage.accidents.heading }}", "heading 2")
    b.p("{{ coverage.accidents.intro }}", "Lead")
    b.tag("{%p for c in coverage.accidents.categories %}")
    b.p("{{ c.mark }} {{ c.title }}{{ c.note_mark }}", "Item Title")
    b.tag("{%p for case in c.cases %}")
    b.p("・{{ case }}", "List Point")
    b.tag("{%p endfor %}")
    b.tag("{%p endfor %}")
    b.notes("coverage.accidents.notes")

    b.p("{{ coverage.limits.heading }}", "heading 2")
    b.p("{{ coverage.limits.intro }}", "Lead")
    limits_table(b)

    eligibility(b, "heading 2")
    clause_blocks(b, "heading 2")


def premium_tables(b: Builder) -> None:
    b.p("{{ rates.heading }}", "heading 2")
    b.p("＜{{ rates.premises_title }}＞", "Item Title")
    b.tag("{%p for text in rates.premises %}")
    b.p("・{{ text }}", "List Point")
    b.tag("{%p endfor %}")
    b.tag("{%p for text in rates.notes %}")
    b.p("{{ text }}", "Note Text")
    b.tag("{%p endfor %}")
    b.tag("{%p for t in rates.tables %}")
    b.p("{{ t.label }}", "heading 3")
    band_w = 2366
    cell_w = (TEXT_W - band_w) // 5
    widths = [band_w] + [cell_w] * 5
    t = b.table(widths, None)
    # Header: 売上高 spans both header rows; 賠償保険金額 spans one column per limit (colspan from data).
    top = b.row(t, ["売上高", "賠償保険金額{% colspan rates.limit_count %}", "", "", "", ""], "Table Head", header=True)
    top.cells[1].merge(top.cells[5])
    for extra in top.cells[1].paragraphs[1:]:
        extra._p.getparent().remove(extra._p)
    second = b.row(t, ["", "{%tc for limit in rates.limits %}", "{{ limit }}", "{%tc endfor %}", "", ""], "Table Head", header=True)
    second.cells[3].merge(second.cells[5])
    for extra in second.cells[3].paragraphs[1:]:
        extra._p.getparent().remove(extra._p)
    top.cells[0].merge(second.cells[0])
    for extra in top.cells[0].paragraphs[1:]:
        extra._p.getparent().remove(extra._p)
    b.tag_row(t, "{%tr for r in t.rows %}")
    row = b.row(
        t,
        ["{{ r.band }}", "{%tc for cell in r.cells %}", "{{ cell }}", "{%tc endfor %}", "", ""],
        styles=["Table Label", "Table Amount", "Table Amount", "Table Amount", "Table Amount", "Table Amount"],
    )
    b.shade(row.cells[0], BRAND_LIGHT)
    row.cells[3].merge(row.cells[5])
    b.tag_row(t, "{%tr endfor %}")
    b.tag("{%p if t.note %}")
    b.p("{{ t.note }}", "Note Text")
    b.tag("{%p endif %}")
    b.tag("{%p endfor %}")


FLOW_BAND = 560  # the phase band down the left of the diagram
FLOW_GRID = 12  # grid columns right of the band (generator.documents.diagram.GRID)
FLOW_FUNCTION = "FCE9D6"  # function boxes: a warm tint, apart from the blue steps


def band(b: Builder, cell) -> None:
    """The phase band's cell: dark, its title centred; ``{% vm %}`` merges it down every row of the phase."""
    b.shade(cell, BRAND)
    cell._tc.tcPr.find(qn("w:vAlign")).set(qn("w:val"), "center")


def flow_cells(b: Builder, table, kind: str) -> None:
    """One template row of the diagram: the band (merged down the phase), then a loop over the row's cells."""
    row = b.row(table, ["{{ ph.title }}{% vm %}", "{%tc for c in row.cells %}", "", "{%tc endfor %}"] + [""] * (FLOW_GRID - 2),
                styles=["Flow Band", "Template Tag", "Template Tag", "Template Tag"] + ["Template Tag"] * (FLOW_GRID - 2))
    band(b, row.cells[0])
    row.cells[3].merge(row.cells[-1])
    cell = row.cells[2]
    if kind == "steps":  # a box: its title, then its points (a blank spacer cell has neither)
        b.p("{% colspan c.span %}" + f"{{% cellbg '{BRAND_LIGHT}' if c.box else 'FFFFFF' %}}" + "{{ c.title }}", "Flow Step", cell)
        b.tag("{%p for x in c.points %}", cell)
        b.p("・{{ x }}", "Flow Point", cell)
        b.tag("{%p endfor %}", cell)
    else:  # the functions serving the step above, one per line; the tags share the loop's paragraph, so no blank line
        b.p("{% colspan c.span %}" + f"{{% cellbg '{FLOW_FUNCTION}' if c.names else 'FFFFFF' %}}" + "{%p for n in c.names %}", "Template Tag", cell)
        b.p("{{ n }}", "Flow Function", cell)
        b.tag("{%p else %}", cell)
        b.p("", "Flow Function", cell)
        b.tag("{%p endfor %}", cell)
    for extra in row.cells[3].paragraphs[1:]:
        extra._p.getparent().remove(extra._p)


def emergency_diagram(b: Builder) -> None:
    """The flow as a diagram: per phase a table, its band shaded down the left, steps in boxes, arrows between stages,
    and under each step the support functions serving it (generator.documents.diagram lays out the rows)."""
    b.p("{{ emergency.diagram.title }}", "Item Title")
    b.p("{{ emergency.diagram.caption }}", "Section Subtitle")
    b.tag("{%p for ph in emergency.diagram.phases %}")
    col = (TEXT_W - FLOW_BAND) // FLOW_GRID
    t = no_borders(b.table([TEXT_W - FLOW_GRID * col] + [col] * FLOW_GRID, None), pad=85)
    b.tag_row(t, "{%tr for row in ph.rows %}")
    b.tag_row(t, '{%tr if row.kind == "label" %}')
    label = b.row(t, ["{{ ph.title }}{% vm %}", "{{ row.text }}"] + [""] * (FLOW_GRID - 1), styles=["Flow Band"] + ["Flow Label"] * FLOW_GRID)
    band(b, label.cells[0])
    label.cells[1].merge(label.cells[-1])
    b.shade(label.cells[1], BRAND_MID)
    b.tag_row(t, '{%tr elif row.kind == "steps" %}')
    flow_cells(b, t, "steps")
    b.tag_row(t, '{%tr elif row.kind == "functions" %}')
    flow_cells(b, t, "functions")
    b.tag_row(t, "{%tr else %}")
    arrow = b.row(t, ["{{ ph.title }}{% vm %}", "{{ row.text }}"] + [""] * (FLOW_GRID - 1), styles=["Flow Band"] + ["Flow Arrow"] * FLOW_GRID)
    band(b, arrow.cells[0])
    arrow.cells[1].merge(arrow.cells[-1])
    b.tag_row(t, "{%tr endif %}")
    b.tag_row(t, "{%tr endfor %}")
    for merged in (label.cells[1], arrow.cells[1]):
        for extra in merged.paragraphs[1:]:
            extra._p.getparent().remove(extra._p)
    b.p("", "Note Text")
    b.tag("{%p endfor %}")
    b.tag("{%p for text in emergency.diagram.notes %}")
    b.p("{{ text }}", "Note Text")
    b.tag("{%p endfor %}")


def emergency(b: Builder) -> None:
    new_page(bookmark(b.p("{{ emergency.heading }}", "heading 1"), "{{ emergency.bookmark }}", 5))
    b.tag("{%p for text in emergency.summary %}")
    b.p("{{ text }}", "Lead")
    b.tag("{%p endfor %}")
    b.p("{{ emergency.condition }}", "Section Subtitle")
    emergency_diagram(b)
    new_page(b.p("", "Note Text"))  # the functions' services and partners: the seed's second page of section 6
    t = b.table([2700, TEXT_W - 2700 - 3200, 3200], ["機能", "サービス", "提携企業"])
    b.tag_row(t, "{%tr for f in emergency.functions %}")
    row = b.row(t, ["{{ f.name }}", "", ""], styles=["Table Label", "Table Text", "Table Text"])
    b.cell_loop(row.cells[1], "x in f.services", "・{{ x }}", "Table Point")
    b.cell_loop(row.cells[2], "x in f.partners", "{{ x }}", "Table Text")
    b.tag_row(t, "{%tr endfor %}")
    b.p("", "Note Text")
    b.tag("{%p for text in emergency.notes %}")
    b.p("{{ text }}", "Note Text")
    b.tag("{%p endfor %}")
    b.tag("{%p for f in emergency.features %}")
    b.p("特徴{{ f.number }}　{{ f.title }}", "heading 2")
    b.tag("{%p for text in f.points %}")
    b.p("・{{ text }}", "List Point")
    b.tag("{%p endfor %}")
    b.tag("{%p endfor %}")


def exclusions(b: Builder) -> None:
    new_page(bookmark(b.p("{{ exclusions.heading }}", "heading 1"), "{{ exclusions.bookmark }}", 6))
    exclusion_groups(b, "heading 2")


def risk_services(b: Builder) -> None:
    bookmark(b.p("{{ risk.heading }}", "heading 1"), "{{ risk.bookmark }}", 7)
    b.p("（{{ risk.provider }}提供）", "Section Subtitle")
    b.p("{{ risk.intro }}", "Lead")
    t = b.table([3000, TEXT_W - 3000 - 900, 900], ["サービス", "概要", "費用"])
    b.tag_row(t, "{%tr for s in risk.services %}")
    b.row(t, ["{{ s.mark }}{{ s.name }}", "{{ s.description }}", "{{ s.fee }}"], styles=["Table Label", "Table Text", "Table Center"])
    b.tag_row(t, "{%tr endfor %}")


def build_brochure(out: Path) -> Path:
    doc = Document()
    install_styles(doc)
    clean_package(doc)
    body = doc.element.body
    for p in body.findall(qn("w:p")):
        body.remove(p)
    b = Builder(doc)
    page_setup(doc, b)
    cover(b)
    background(b)
    examples(b)
    features(b)
    coverage(b)
    premium_tables(b)
    emergency(b)
    exclusions(b)
    risk_services(b)
    doc.save(str(out))
    return out


def main(argv: list[str]) -> None:
    """Rebuild every template into templates/ (or the folder given): brochure, pack parts, wording, redline."""
    import pack_templates

    folder = Path(argv[1]) if len(argv) > 1 else HERE
    print(build_brochure(folder / "brochure.docx"))
    for name in pack_templates.TEMPLATES:
        print(pack_templates.build(name, folder / name))


if __name__ == "__main__":
    main(sys.argv)
