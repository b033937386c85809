"""What the content editor's pages say: sections and fields by their Japanese names, check problems in Japanese beside fields."""

from __future__ import annotations

import re

from generator.content.edit import FieldProblem, Node
from generator.errors import Problem
from generator.i18n import N_
from generator.web.messages import t

# content file -> the section as the brochure and documents name it (content/README.md, "Files of a product")
SECTIONS: dict[str, str] = {
    "product.yaml": "商品情報（名称・適用日・承認番号・保険会社）",
    "letter.yaml": "ご案内状",
    "background.yaml": "1–2 リスク環境と脅威",
    "examples.yaml": "3 想定事故例",
    "features.yaml": "4 商品の特長",
    "coverage.yaml": "5 補償内容・支払限度額・加入条件",
    "rates.yaml": "5 (8) 保険料表",
    "emergency_support.yaml": "6 緊急時サポート総合サービス（機能・提携会社）",
    "exclusions.yaml": "7 保険金をお支払いできない主な場合",
    "risk_services.yaml": "8 リスクサービス",
    "disclosures.yaml": "重要事項説明書の記載事項",
}

KEYS: dict[str, str] = {
    "accidents": "事故例", "address": "所在地", "alias": "別名", "amount": "金額", "approval_number": "承認番号", "approximate": "概算",
    "attack": "攻撃", "bands": "売上高区分", "body": "本文", "brochure_title": "パンフレット表題", "caption": "図表の説明", "cases": "事例",
    "categories": "区分", "causes": "原因", "classes": "業種区分", "closing": "結語", "closing_lines": "結びの文", "code": "コード",
    "condition": "条件", "content_version": "内容バージョン", "damages": "損害額", "deductibles": "自己負担額", "department": "部署",
    "description": "説明", "diagram": "図", "display_name": "表示名", "effective_date": "適用開始日（新規契約）", "eligibility": "加入できる方",
    "end_date": "最終適用日", "renewal_effective_date": "適用開始日（更新契約）", "excluded_industries": "引受対象外の業種",
    "excluded_note": "対象外の注記", "exclusion_text": "対象外の文言", "expense_ratio_percent": "費用保険金の割合（％）", "features": "特徴",
    "fee": "費用", "figures": "図表", "functions": "機能", "greeting": "前文", "groups": "グループ", "industries": "業種",
    "industry": "業種", "insured": "被保険者", "insurer": "保険会社", "intro": "前書き", "item": "項目", "items": "項目", "label": "見出し記号",
    "limit": "支払限度額", "limits": "賠償保険金額（列）", "mark": "記号", "menu": "メニュー", "name": "名称", "note": "注記", "notes": "注記",
    "number": "番号", "opening": "頭語", "optional": "オプション", "over": "超", "paragraphs": "段落", "part": "区分", "partners": "提携会社",
    "payment": "支払", "payment_method": "保険料払込方法", "pending": "未提供（保険会社が記載）", "period": "保険期間", "phases": "局面",
    "phone": "電話番号", "points": "要点", "premises": "前提条件", "premises_title": "前提条件の見出し", "premiums": "保険料（円）",
    "provider": "提供会社", "quote_valid_days": "見積有効日数", "rates_version": "料率バージョン", "required": "必須", "retro_date": "遡及日",
    "rows": "行", "section": "区分", "sections": "章", "services": "サービス", "short_name": "略称", "slug": "識別名", "source": "出典",
    "stages": "段階", "steps": "手順", "subitems": "細目", "summary": "概要", "text": "文言", "title": "見出し", "topic": "項目",
    "topics": "項目", "up_to": "以下", "id": "ID",
}
_SEGMENT = re.compile(r"\.([a-z_]+)|\[(\d+)\]")


def field_label(path: str) -> str:
    """A field path as the page names it: ``exclusions.groups[0].items[3].text`` -> 「グループ1 › 項目4 › 文言」.

    >>> field_label("rates.classes[0].premiums[1][2]")
    '業種区分1 › 保険料（円） 2行3列'
    """
    parts: list[str] = []
    for key, index in _SEGMENT.findall(path):
        if key:
            parts.append(KEYS.get(key, key))
        elif parts and parts[-1].startswith(KEYS["premiums"]):
            parts[-1] += f" {int(index) + 1}行" if "行" not in parts[-1] else f"{int(index) + 1}列"
        elif parts:
            parts[-1] += str(int(index) + 1)
    return " › ".join(parts)


def slot(path: str) -> str:
    """The HTML id of the place beside a field where its problem is shown.

    >>> slot("exclusions.groups[0].items[3].text")
    'p-exclusions-groups-0-items-3-text'
    """
    return "p-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def key_label(node: Node) -> str:
    return KEYS.get(node.key, node.key) if node.key else ""


def paths(node: Node) -> list[str]:
    """Every editable path of a form, in page order."""
    if node.kind == "field":
        return [node.path]
    if node.kind == "grid":
        return [p for row in node.rows for p, _ in row]
    return [p for child in node.children for p in paths(child)]


# Validation messages of generator.content (English, with data): the common ones worded in Japanese by pattern.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"premium must be a positive integer"), N_("a premium must be a positive whole number of yen")),
    (re.compile(r"premium (?P<value>\d+) is lower than (?P<other>\d+) for the smaller limit"),
     N_("premium {value} yen is lower than {other} yen for the smaller limit in the same revenue band")),
    (re.compile(r"premium (?P<value>\d+) is lower than (?P<other>\d+) for the lower revenue band"),
     N_("premium {value} yen is lower than {other} yen for the lower revenue band")),
    (re.compile(r"starts with list numbering"), N_("starts with list numbering; numbering is the list's order, not text")),
    (re.compile(r"duplicate ID (?P<value>'[^']*')"), N_("ID {value} is used twice; each ID is used once")),
    (re.compile(r"characters is too long"), N_("is too long for this kind of text")),
    (re.compile(r"page reference \{page:(?P<value>[^}]*)\} names no section"), N_("page reference {value} names no section")),
    (re.compile(r"limit options stated in the wording"), N_("the limits stated in the wording differ from the premium table's columns")),
    (re.compile(r"lists excluded industries"), N_("the excluded industries in the wording differ from the premium table's")),
    (re.compile(r"states 費用 ratio"), N_("the stated expense ratio differs from the rating premise")),
    (re.compile(r"revision (?P<value>\S+) changes the rates of revision (?P<other>\S+) but keeps its rates_version"),
     N_("the premium table differs from revision {other}: give it a new rates version, such as {value}")),
    (re.compile(r"expected an integer"), N_("is not a whole number")),
    (re.compile(r"expected text"), N_("is not text")),
    (re.compile(r"missing required key"), N_("is required")),
    (re.compile(r"glyph|font", re.I), N_("holds a character the documents' fonts cannot print")),
]


def problem_text(problem: Problem | FieldProblem) -> str:
    """A check problem in Japanese (the field itself is named by where the message is shown)."""
    if isinstance(problem, FieldProblem):
        return t(problem.msgid, problem.params)
    for pattern, msgid in _PATTERNS:
        m = pattern.search(problem.message)
        if m:
            return t(msgid, m.groupdict())
    return t(N_("does not pass the content check: {detail}"), {"detail": problem.message[:300]})
