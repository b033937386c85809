"""Required disclosures: which items a 重要事項説明書 must carry, and which a product still lacks.

The list is the supervisory guidelines' (監督指針 II-4-2-2(2)) 契約概要 and 注意喚起情報 items as the
non-life association quotes them, plus the association's 相談・苦情窓口 and 指定紛争解決機関. It lives in
code, not in content, so deleting an item from disclosures.yaml makes it missing instead of not required.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.content.model import DisclosureItem, Product
from generator.errors import Problem

GAIYO, CHUI = "契約概要", "注意喚起情報"

REQUIRED: tuple[tuple[str, str], ...] = (
    (GAIYO, "商品の仕組み"),
    (GAIYO, "補償内容・支払わない主な場合"),
    (GAIYO, "主な特約"),
    (GAIYO, "保険期間"),
    (GAIYO, "引受条件"),
    (GAIYO, "保険料"),
    (GAIYO, "払込方法"),
    (GAIYO, "配当"),
    (GAIYO, "解約返戻金の有無"),
    (CHUI, "クーリング・オフ"),
    (CHUI, "告知義務等"),
    (CHUI, "責任開始期"),
    (CHUI, "主な免責"),
    (CHUI, "払込猶予・失効・復活"),
    (CHUI, "解約と解約返戻金"),
    (CHUI, "セーフティネット"),
    (CHUI, "法令上の注意喚起事項"),
    (CHUI, "相談・苦情窓口"),
    (CHUI, "指定紛争解決機関"),
)

# What an item may point at instead of holding its own wording: sections the 重要事項説明書 already prints
# (templates/pack_templates.py disclosure), with the heading they print under.
SOURCES: dict[str, str] = {
    "coverage.intro": "契約概要 1．商品の仕組み",
    "coverage.payment": "契約概要 2．補償内容",
    "coverage.limits": "契約概要 3．お支払限度額・自己負担額等",
    "terms": "契約概要 4．ご契約内容（お見積り条件）",
    "coverage.eligibility": "契約概要 5．ご加入の条件",
    "coverage.insured": "契約概要 5．ご加入の条件（被保険者）",
    "coverage.period": "契約概要 5．ご加入の条件（保険期間）",
    "exclusions": "注意喚起情報 1．保険金をお支払いできない主な場合",
    "rates.premises": "注意喚起情報 2．保険料表の前提となる契約条件",
}

PLACEHOLDER = "【未記載】この必須記載事項の文言は保険会社が記載します（{topic}）。この書面はお客さまに提示できません。"


def is_missing(item: DisclosureItem) -> bool:
    """True while the item has neither a source section nor wording of its own.

    >>> is_missing(DisclosureItem("DIS-X", "注意喚起情報", "クーリング・オフ", "クーリング・オフ", pending="insurer"))
    True
    >>> is_missing(DisclosureItem("DIS-Y", "注意喚起情報", "主な免責", "主な免責", source="exclusions"))
    False
    """
    return not item.source and not any(p.strip() for p in item.paragraphs)


def _file(product: Product) -> str:
    return product.source("disclosures").file if product.disclosures else f"content/{product.key}/disclosures.yaml"


def check_disclosures(product: Product) -> list[Problem]:
    """Errors in how disclosures.yaml is written (unknown source, a topic twice, source and wording both)."""
    problems: list[Problem] = []
    if product.meta.approval_number and "meta.approval_number" in product.sources:
        src = product.source("meta.approval_number")
        problems.append(Problem(src.file, src.line, "meta.approval_number", "must stay empty: the approval number comes from the approval of "
                                "this exact content (docgen approve), not from the content files"))
    if product.disclosures is None:
        return problems
    seen: dict[tuple[str, str], str] = {}
    for i, item in enumerate(product.disclosures.items):
        path = f"disclosures.items[{i}]"
        src = product.source(path)
        if item.source and item.source not in SOURCES:
            problems.append(Problem(src.file, product.source(path + ".source").line, path + ".source",
                                    f"unknown source {item.source!r}; allowed: {', '.join(SOURCES)}"))
        if item.source and item.paragraphs:
            problems.append(Problem(src.file, src.line, path, "has both a source and paragraphs; an item is printed from one of them"))
        key = (item.part, item.topic)
        if key in seen:
            problems.append(Problem(src.file, src.line, path + ".topic", f"{item.part} {item.topic} is declared twice (first as {seen[key]})"))
        seen.setdefault(key, item.id)
    return problems


@dataclass(frozen=True)
class MissingItem:
    """A required item the product lacks: its part and topic, and the item's ID and what is pending when it is declared."""

    part: str
    topic: str
    id: str = ""
    pending: str = ""
    path: str = ""  # where it is declared (disclosures.items[i]); "" when it is not declared at all


def missing_items(product: Product) -> list[MissingItem]:
    """Every required item the product lacks, as data (the faces word it; :func:`missing_disclosures` locates it)."""
    items = product.disclosures.items if product.disclosures else ()
    declared = {(x.part, x.topic) for x in items}
    found = [MissingItem(part, topic) for part, topic in REQUIRED if (part, topic) not in declared]
    found += [MissingItem(x.part, x.topic, x.id, x.pending, f"disclosures.items[{i}]") for i, x in enumerate(items) if is_missing(x)]
    return found


def missing_disclosures(product: Product) -> list[Problem]:
    """Every required item the product lacks: not declared, or declared with no wording yet.

    A warning for a draft; approval refuses a version while this is not empty.
    """
    file = _file(product)
    problems = []
    for m in missing_items(product):
        if not m.path:
            problems.append(Problem(file, 0, "disclosures", f"required item {m.part}「{m.topic}」is not declared (監督指針 II-4-2-2(2))"))
        else:
            why = f": {m.pending}" if m.pending else ""
            problems.append(Problem(file, product.source(m.path).line, m.path, f"required item {m.part}「{m.topic}」({m.id}) has no wording yet{why}"))
    return problems


def disclosure_items(product: Product, part: str) -> list[dict[str, Any]]:
    """The items of ``part`` the 重要事項説明書 prints on their own (those not printed from a source section).

    A missing item gets a visible placeholder instead of silence. Items from a source are already printed there.
    """
    items = product.disclosures.items if product.disclosures else ()
    out = [
        {"id": x.id, "title": x.title, "paragraphs": [p for p in x.paragraphs if p.strip()], "missing": is_missing(x),
         "placeholder": PLACEHOLDER.format(topic=x.topic) if is_missing(x) else ""}
        for x in items if x.part == part and not x.source
    ]
    declared = {x.topic for x in items if x.part == part}
    out += [{"id": "", "title": topic, "paragraphs": [], "missing": True, "placeholder": PLACEHOLDER.format(topic=topic)}
            for p, topic in REQUIRED if p == part and topic not in declared]
    return out
