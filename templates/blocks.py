"""Template blocks shared by the brochure, the 重要事項説明書 and the policy wording (coverage, limits, exclusions)."""

from __future__ import annotations

from docx.table import _Cell
from template_kit import Builder
from template_styles import TEXT_W


def section_title_cell(b: Builder, cell: _Cell, var: str) -> None:
    b.p(f"{{{{ {var}.label }}}}．{{{{ {var}.title }}}}{{% if {var}.optional %}}（オプション）{{% endif %}}", "Table Label", cell)


def product_intro(b: Builder) -> None:
    """What the product pays for: the intro and its ①② causes (reads ``coverage``)."""
    b.p("{{ coverage.intro }}", "Lead")
    b.tag("{%p for c in coverage.causes %}")
    b.p("{{ c.mark }}{{ c.text }}", "List Number")
    b.tag("{%p endfor %}")


def eligibility(b: Builder, heading_style: str, title: str = "heading") -> None:
    """ご加入の対象となる事業者さま: heading (numbered ``heading`` or plain ``title``), cap and excluded industries."""
    b.p(f"{{{{ coverage.eligibility.{title} }}}}", heading_style)
    b.p("{{ coverage.eligibility.text }}")
    b.p("{{ coverage.eligibility.exclusion_text }}")


def payment_table(b: Builder) -> None:
    """ア–エ: what each coverage section pays, then its notes (reads ``coverage.payment``)."""
    t = b.table([3300, TEXT_W - 3300], ["対象とする損害", "概要"])
    b.tag_row(t, "{%tr for s in coverage.payment.sections %}")
    row = b.row(t, ["", ""])
    section_title_cell(b, row.cells[0], "s")
    b.tag("{%p if s.description or not s.points %}", row.cells[1])
    b.p("{{ s.description }}", "Table Text", row.cells[1])
    b.tag("{%p endif %}", row.cells[1])
    b.tag("{%p for x in s.points %}", row.cells[1])
    b.p("{{ x.mark }}{{ x.text }}", "Table Number", row.cells[1])
    b.tag("{%p endfor %}", row.cells[1])
    b.tag_row(t, "{%tr endfor %}")
    b.p("", "Note Text")
    b.notes("coverage.payment.notes")


def limits_table(b: Builder) -> None:
    """Limits and deductibles per coverage section, then notes (reads ``coverage.limits``)."""
    t = b.table([2900, 3464, TEXT_W - 2900 - 3464], ["対象とする損害", "1事故および保険期間中のお支払限度額", "自己負担額等"])
    b.tag_row(t, "{%tr for r in coverage.limits.rows %}")
    row = b.row(t, ["", "{{ r.limit }}", ""])
    b.cell_loop(row.cells[2], "d in r.deductibles", "{{ d }}", "Table Point")
    section_title_cell(b, row.cells[0], "r")
    b.tag("{%p if r.alias %}", row.cells[0])
    b.p("（{{ r.alias }}）", "Table Label", row.cells[0])
    b.tag("{%p endif %}", row.cells[0])
    b.tag_row(t, "{%tr endfor %}")
    b.p("", "Note Text")
    b.notes("coverage.limits.notes")


def clause_blocks(b: Builder, heading_style: str, title: str = "heading", keys: tuple[str, ...] = ("insured", "period", "retro_date")) -> None:
    """被保険者 / 保険期間 / 遡及日: heading (numbered ``heading`` or plain ``title``), paragraphs, notes."""
    for key in keys:
        b.p(f"{{{{ coverage.{key}.{title} }}}}", heading_style)
        b.tag(f"{{%p for text in coverage.{key}.paragraphs %}}")
        b.p("{{ text }}")
        b.tag("{%p endfor %}")
        b.notes(f"coverage.{key}.notes")


def exclusion_groups(b: Builder, heading_style: str, with_ids: bool = False) -> None:
    """保険金をお支払いできない主な場合, ①… per group (reads ``exclusions``); ``with_ids`` prints each clause ID."""
    b.p("{{ exclusions.intro }}", "Lead")
    b.tag("{%p for g in exclusions.groups %}")
    b.p("【{{ g.title }}】", heading_style)
    b.tag("{%p for x in g.entries %}")
    # the ID leads the line: Japanese line breaking would split it anywhere else
    b.p("{{ x.mark }}" + ("［{{ x.id }}］" if with_ids else "") + "{{ x.text }}", "Exclusion Item")
    b.tag("{%p if x.note %}")
    b.p("{{ x.note }}", "Exclusion Note")
    b.tag("{%p endif %}")
    b.tag("{%p for s in x.subitems %}")
    b.p("{{ s.mark }}{{ s.text }}", "Exclusion Sub")
    b.tag("{%p endfor %}")
    b.tag("{%p endfor %}")
    b.tag("{%p endfor %}")


def letter_text(b: Builder) -> None:
    """拝啓 … 敬具: greeting lines, body paragraphs, closing lines and the closing (reads ``letter``)."""
    for expr, style in (("letter.greeting", "Letter Text"), ("letter.body", "Letter Body"), ("letter.closing_lines", "Letter Text")):
        b.tag(f"{{%p for line in {expr} %}}")
        b.p("{{ line }}", style)
        b.tag("{%p endfor %}")
    b.p("{{ letter.closing }}", "Letter Closing")


def premises(b: Builder, var: str) -> None:
    """The premium table's premises as ・ points, then its ※ notes (reads ``<var>.premises`` and ``<var>.notes``)."""
    b.tag(f"{{%p for text in {var}.premises %}}")
    b.p("・{{ text }}", "List Point")
    b.tag("{%p endfor %}")
    b.tag(f"{{%p for text in {var}.notes %}}")
    b.p("{{ text }}", "Note Text")
    b.tag("{%p endfor %}")
