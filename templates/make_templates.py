"""Bootstrap every .docx template with python-docx (run once; afterwards each .docx is the designer's source of truth)."""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn

# Run as a script from anywhere: the kit sits next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from blocks import clause_blocks, eligibility, exclusion_groups, letter_text, limits_table, payment_table, product_intro  # noqa: E402
from template_kit import BRAND_LIGHT, TEXT_W, Builder, clean_package, install_styles, new_page, page_setup  # noqa: E402

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
    b.p("{{ s.heading }}", "heading 1")
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
    new_page(b.p("{{ examples.heading }}", "heading 1"))
    t = b.table([1250, 1800, TEXT_W - 1250 - 1800 - 2850, 2850], ["業種", "攻撃種類", "事故内容", "主な想定被害額"])
    b.tag_row(t, "{%tr for c in examples.cases %}")
    b.row(t, ["{{ c.industry }}", "{{ c.attack }}", "{{ c.description }}", "{{ c.damages }}"], styles=["Table Label", "Table Text", "Table Text", "Table Text"])
    b.tag_row(t, "{%tr endfor %}")
    b.p("", "Note Text")
    b.notes("examples.notes")


def features(b: Builder) -> None:
    new_page(b.p("{{ features.heading }}", "heading 1"))
    b.p("{{ features.intro }}", "Lead")
    b.tag("{%p for f in features.entries %}")
    b.p("{{ f.heading }}", "heading 2")
    b.tag("{%p for text in f.paragraphs %}")
    b.p("{{ text }}")
    b.tag("{%p endfor %}")
    b.notes("f.notes")
    b.tag("{%p endfor %}")


def coverage(b: Builder) -> None:
    new_page(b.p("{{ coverage.heading }}", "heading 1"))
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


def emergency(b: Builder) -> None:
    new_page(b.p("{{ emergency.heading }}", "heading 1"))
    b.tag("{%p for text in emergency.summary %}")
    b.p("{{ text }}", "Lead")
    b.tag("{%p endfor %}")
    b.p("{{ emergency.condition }}", "Section Subtitle")
    t = b.table([3000, TEXT_W - 3000], None)
    b.tag_row(t, "{%tr for f in emergency.flow %}")
    fill = f"{{% cellbg '{BRAND_LIGHT}' if f.band else 'FFFFFF' %}}"  # a points-less step is a band row
    row = b.row(t, [fill + "{{ f.title }}", ""], styles=["Table Label", "Table Text"])
    b.cell_loop(row.cells[1], "x in f.points", "・{{ x }}" + fill, "Table Point")
    b.tag_row(t, "{%tr endfor %}")
    b.p("", "Note Text")
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
    new_page(b.p("{{ exclusions.heading }}", "heading 1"))
    exclusion_groups(b, "heading 2")


def risk_services(b: Builder) -> None:
    b.p("{{ risk.heading }}", "heading 1")
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
