"""Bootstrap the proposal-pack templates (letter, quote, 重要事項説明書), the policy wording and the redline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from blocks import clause_blocks, eligibility, exclusion_groups, letter_text, limits_table, payment_table, premises, product_intro
from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.text.paragraph import Paragraph
from template_kit import Builder, new_page, page_setup
from template_styles import BRAND_LIGHT, TEXT_W, clean_package, install_styles


def blank(header: str | None = None, footer: str | None = None) -> tuple[DocumentObject, Builder]:
    doc = Document()
    install_styles(doc)
    clean_package(doc)
    body = doc.element.body
    for p in body.findall(qn("w:p")):
        body.remove(p)
    b = Builder(doc)
    if header is None:
        page_setup(doc, b)
    else:
        page_setup(doc, b, header=header, footer=footer or "")
    return doc, b


def static_mark(paragraph: Paragraph) -> Paragraph:
    """Bookmark DocgenStatic: from this paragraph (which starts a page) on, the document is the same for every client,
    so docgen lays that part out once per content version instead of once per client."""
    start = parse_xml(f'<w:bookmarkStart {nsdecls("w")} w:id="0" w:name="DocgenStatic"/>')
    paragraph._p.get_or_add_pPr().addnext(start)
    start.addnext(parse_xml(f'<w:bookmarkEnd {nsdecls("w")} w:id="0"/>'))
    return paragraph


def addressee_block(b: Builder) -> None:
    """Date top right, the client as addressee, the agency and insurer on the right."""
    b.p("{{ date }}", "Right Text")
    b.p("{{ client.addressee }}", "Addressee")
    b.tag("{%p if agent.name %}")
    b.p("{{ agent.name }}", "Right Text")
    b.tag("{%p endif %}")
    b.tag("{%p if agent.contact %}")
    b.p("{{ agent.contact }}", "Right Small")
    b.tag("{%p endif %}")
    b.p("引受保険会社　{{ doc.insurer }}", "Right Small")


def letter(b: Builder) -> None:
    addressee_block(b)
    b.p("{{ letter.title }}", "Document Title")
    letter_text(b)
    b.p("同封書類：お見積書、重要事項説明書、パンフレット", "Note Text")


def quote(b: Builder) -> None:
    b.p("見積番号　{{ quote.number }}", "Right Small")
    b.p("お見積書", "Document Title")
    addressee_block(b)
    b.p("{{ doc.product }}について、下記のとおりお見積り申し上げます。", "Lead")
    t = b.table([3000, TEXT_W - 3000], None)
    rows = [
        ("業種（区分）", "{{ quote.industry }}（{{ quote.class_label }}）"),
        ("売上高（区分）", "{{ quote.revenue }}（{{ quote.band }}）"),
        ("賠償保険金額", "{{ quote.limit }}"),
        ("費用保険金額", "{{ quote.expense_limit }}（賠償保険金額の{{ quote.expense_ratio }}）"),
        ("保険期間", "{{ quote.period }}"),
        ("保険料払込方法", "{{ quote.payment_method }}"),
    ]
    for label, value in rows:
        row = b.row(t, [label, value], styles=["Table Label", "Table Text"])
        b.shade(row.cells[0], BRAND_LIGHT)
    row = b.row(t, ["年間保険料", "{{ quote.premium }}"], styles=["Table Label", "Premium"])
    b.shade(row.cells[0], BRAND_LIGHT)
    b.p("見積有効期限：{{ quote.valid_until }}", "Right Small")

    b.p("賠償保険金額別の年間保険料（{{ quote.class_code }}・{{ quote.band }}）", "heading 2")
    t = b.table([2600, 2600, 2600, TEXT_W - 7800], ["賠償保険金額", "費用保険金額", "年間保険料", ""])
    b.tag_row(t, "{%tr for r in quote.ladder %}")
    b.row(t, ["{{ r.limit }}", "{{ r.expense_limit }}", "{{ r.premium }}", "{{ r.mark }}"],
          styles=["Table Amount", "Table Amount", "Table Amount", "Table Center"])
    b.tag_row(t, "{%tr endfor %}")

    b.p("＜{{ quote.premises_title }}＞", "heading 3")
    premises(b, "quote")


def disclosure(b: Builder) -> None:
    b.p("重要事項説明書", "Document Title")
    b.p("{{ doc.product }}　契約概要・注意喚起情報", "Document Subtitle")
    addressee_block(b)

    b.p("契約概要", "heading 1")
    b.p("保険商品の内容をご理解いただくための事項です。", "Section Subtitle")
    b.p("1．商品の仕組み", "heading 2")
    product_intro(b)
    b.p("2．補償内容（保険金をお支払いする場合）", "heading 2")
    payment_table(b)
    b.p("3．お支払限度額・自己負担額等", "heading 2")
    limits_table(b)
    b.p("4．ご契約内容（お見積り条件）", "heading 2")
    t = b.table([3000, TEXT_W - 3000], None)
    b.tag_row(t, "{%tr for term in terms %}")
    row = b.row(t, ["{{ term.label }}", "{{ term.value }}"], styles=["Table Label", "Table Text"])
    b.shade(row.cells[0], BRAND_LIGHT)
    b.tag_row(t, "{%tr endfor %}")
    b.p("5．ご加入の条件", "heading 2")
    eligibility(b, "heading 3", title="title")
    clause_blocks(b, "heading 3", title="title")
    required_items(b, "required.gaiyo")

    static_mark(new_page(b.p("注意喚起情報", "heading 1")))  # 注意喚起情報 names no client: laid out once
    b.p("ご契約に際して特にご注意いただきたい事項です。", "Section Subtitle")
    b.p("1．保険金をお支払いできない主な場合", "heading 2")
    exclusion_groups(b, "heading 3")
    b.p("2．{{ rates.premises_title }}", "heading 2")
    premises(b, "rates")
    required_items(b, "required.chui")


def required_items(b: Builder, expr: str) -> None:
    """The required items with wording of their own (numbered on from the fixed headings); a missing one prints its
    placeholder in a red box (reads ``required.gaiyo`` / ``required.chui``, generator/documents/context.py)."""
    b.tag(f"{{%p for item in {expr} %}}")
    b.p("{{ item.heading }}", "heading 2")
    b.tag("{%p for text in item.paragraphs %}")
    b.p("{{ text }}")
    b.tag("{%p endfor %}")
    b.tag("{%p if item.missing %}")
    b.p("{{ item.placeholder }}", "Missing Item")
    b.tag("{%p endif %}")
    b.tag("{%p endfor %}")


def wording(b: Builder) -> None:
    """The policy wording: every coverage clause, limit and exclusion, each exclusion with its ID."""
    b.p("{{ doc.product }}　補償内容・保険金をお支払いできない場合", "Document Title")
    b.p("第{{ footer.version }}版　発効日：{{ footer.effective }}　承認番号：{{ footer.approval }}", "Document Subtitle")
    b.p("1．補償の概要", "heading 1")
    product_intro(b)
    b.p("（1）保険金をお支払いする場合", "heading 2")
    payment_table(b)
    b.p("（2）お支払限度額・自己負担額等", "heading 2")
    limits_table(b)
    b.p("2．ご加入の条件", "heading 1")
    eligibility(b, "heading 2", title="title")
    clause_blocks(b, "heading 2", title="title")
    new_page(b.p("3．{{ exclusions.title }}", "heading 1"))
    exclusion_groups(b, "heading 2", with_ids=True)


def redline(b: Builder) -> None:
    """Styles only: generator/redline.py fills the body with tracked changes (no Jinja here)."""
    b.p("", "Normal")


TEMPLATES: dict[str, tuple[Callable[[Builder], None], bool]] = {
    "letter.docx": (letter, True),
    "quote.docx": (quote, True),
    "disclosure.docx": (disclosure, True),
    "wording.docx": (wording, True),
    "redline.docx": (redline, False),
}


def build(name: str, out: Path) -> Path:
    fill, jinja = TEMPLATES[name]
    if jinja:
        doc, b = blank()
    else:
        doc, b = blank(header="見え消し（変更箇所）\tdocgen", footer="変更内容をご確認のうえ、変更を一つずつ承諾または元に戻してください。\t")
    fill(b)
    doc.save(str(out))
    return out
