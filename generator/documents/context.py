"""Context building: a Product → the plain dicts templates read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from generator.content.coverage import Clause, LimitRow
from generator.content.model import Product
from generator.content.narrative import IncidentCase, NarrativeSection
from generator.content.rates import RateClass
from generator.content.services import Exclusion, RiskService, SupportFunction
from generator.content.text import Note, Topic
from generator.content.validate import PAGE_REF, numbered_sections
from generator.documents.diagram import diagram_context
from generator.errors import ContentError, Problem
from generator.jpformat import band_label, format_date, format_yen, format_yen_units

# ①..⑳ then ㉑..㉟ and ㊱..㊿: list positions, never typed into content.
CIRCLED = "".join(chr(c) for c in (*range(0x2460, 0x2474), *range(0x3251, 0x3260), *range(0x32B1, 0x32C0)))
FEES = {"free": "無料", "paid": "有料"}
NO_APPROVAL = "未取得"  # printed while product.yaml's approval_number is still empty


def circled(index: int, where: str = "", product: Product | None = None) -> str:
    """The circled number for 0-based ``index``: ``circled(0) == '①'``.

    >>> circled(0), circled(19), circled(20)
    ('①', '⑳', '㉑')
    """
    if 0 <= index < len(CIRCLED):
        return CIRCLED[index]
    src = product.source(where) if product else None
    raise ContentError([Problem(src.file if src else "content", src.line if src else 0, where, f"more than {len(CIRCLED)} items cannot be numbered ①…")])


def section_heading(number: int, title: str) -> str:
    """Heading 1 text: ``1．サイバーリスクを取り巻く環境``.

    >>> section_heading(3, "サイバー攻撃による想定事故例")
    '3．サイバー攻撃による想定事故例'
    """
    return f"{number}．{title}"


def sub_heading(number: int, title: str) -> str:
    """Heading 2 text of a numbered subsection: ``（1）保険金をお支払いする場合``."""
    return f"（{number}）{title}"


def numbered(texts: Sequence[str], where: str = "", product: Product | None = None) -> list[dict[str, Any]]:
    """``[{"mark": "①", "text": ...}, ...]`` in list order."""
    return [{"mark": circled(i, f"{where}[{i}]", product), "text": t} for i, t in enumerate(texts)]


def note(n: Note) -> dict[str, Any]:
    return {"id": n.id, "mark": n.mark, "text": n.text, "points": numbered(n.items)}


def notes(ns: Sequence[Note]) -> list[dict[str, Any]]:
    return [note(n) for n in ns]


def topic(t: Topic) -> dict[str, Any]:
    # A topic without points is a heading row of its list (the flow's 有事, 対策本部の設置 …).
    return {"id": t.id, "title": t.title, "points": list(t.points), "band": not t.points}


def narrative(s: NarrativeSection) -> dict[str, Any]:
    return {
        "id": s.id,
        "heading": section_heading(s.number, s.title),
        "paragraphs": [p.text for p in s.paragraphs],
        "topics": [topic(t) for t in s.topics],
        "figures": [f.text for f in s.figures],
        "notes": notes(s.notes),
    }


def damage_lines(case: IncidentCase) -> str:
    """``原因調査費用：約1,000万円`` per line, as the seed prints them."""
    return "\n".join(f"{d.item}：{'約' if d.approximate else ''}{format_yen_units(d.amount)}" for d in case.damages)


def clause(c: Clause, number: int) -> dict[str, Any]:
    return {"id": c.id, "heading": sub_heading(number, c.title), "title": c.title, "paragraphs": list(c.paragraphs), "notes": notes(c.notes)}


def limit_row(row: LimitRow, sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sec = sections[row.section]
    # The seed marks each line with ・ only when a cell holds several.
    lines = list(row.deductibles) if len(row.deductibles) == 1 else [f"・{d}" for d in row.deductibles]
    return {
        "id": row.id,
        "label": sec["label"],
        "title": sec["title"],
        "optional": sec["optional"],
        "alias": sec["alias"],
        "limit": row.limit,
        "deductibles": lines,
    }


def coverage_context(product: Product) -> dict[str, Any]:
    cov = product.coverage
    sections = {
        s.id: {
            "id": s.id,
            "label": s.label,
            "title": s.title,
            "optional": s.optional,
            "alias": s.alias,
            "description": s.description,
            "points": numbered([t.text for t in s.items], f"coverage.payment.sections[{i}].items", product),
        }
        for i, s in enumerate(cov.payment.sections)
    }
    acc = cov.accidents
    return {
        "heading": section_heading(cov.number, cov.title),
        "intro": cov.intro,
        "causes": numbered([c.text for c in cov.causes], "coverage.causes", product),
        "payment": {"heading": sub_heading(1, cov.payment.title), "sections": list(sections.values()), "notes": notes(cov.payment.notes)},
        "accidents": {
            "heading": sub_heading(2, acc.title),
            "intro": acc.intro,
            "categories": [
                {
                    "id": c.id,
                    "mark": circled(i, f"coverage.accidents.categories[{i}]", product),
                    "title": c.title,
                    "note_mark": c.mark,
                    "cases": [k.text for k in c.cases],
                }
                for i, c in enumerate(acc.categories)
            ],
            "notes": notes(acc.notes),
        },
        "limits": {
            "heading": sub_heading(3, cov.limits.title),
            "intro": cov.limits.intro,
            "rows": [limit_row(r, sections) for r in cov.limits.rows],
            "notes": notes(cov.limits.notes),
        },
        "eligibility": {
            "heading": sub_heading(4, cov.eligibility.title),
            "title": cov.eligibility.title,
            "text": cov.eligibility.text,
            "exclusion_text": cov.eligibility.exclusion_text,
        },
        "insured": clause(cov.insured, 5),
        "period": clause(cov.period, 6),
        "retro_date": clause(cov.retro_date, 7),
    }


def class_label(cls: RateClass) -> str:
    """``D01：製造業、小売業、建設業``, the line printed above each premium table."""
    return f"{cls.code}：{'、'.join(cls.industries)}"


def rates_context(product: Product, number: int = 8) -> dict[str, Any]:
    rates = product.rates
    bands = [band_label(b.over, b.up_to) for b in rates.bands]
    return {
        "heading": sub_heading(number, rates.title),
        "premises_title": rates.premises_title,
        "premises": [p.text for p in rates.premises],
        "notes": [n.text for n in rates.notes],
        "limits": [format_yen_units(x) for x in rates.limits],
        "limit_count": len(rates.limits),
        "tables": [
            {
                "code": cls.code,
                "label": class_label(cls),
                "note": cls.note,
                "rows": [{"band": bands[r], "cells": [format_yen(p) for p in row]} for r, row in enumerate(cls.premiums)],
            }
            for cls in rates.classes
        ],
    }


def support_function(fn: SupportFunction, partners: dict[str, str]) -> dict[str, Any]:
    return {"id": fn.id, "name": fn.name, "services": list(fn.services), "partners": [partners[p] for p in fn.partners], "required": fn.required}


def bookmark(section_id: str) -> str:
    """The Word bookmark on a section's heading (letters, digits and ``_`` only, as Word wants them).

    >>> bookmark("BG-1")
    'sec_BG_1'
    """
    return "sec_" + section_id.replace("-", "_")


def segments(text: str) -> list[dict[str, Any]]:
    """A paragraph cut at its ``{page:ID}`` references: text runs, and PAGEREF fields to the section's bookmark.

    LibreOffice fills a PAGEREF field in from its own layout when it exports the PDF, so the printed number is
    the page the section's heading lands on; ``?`` is only the field's stale value until then.

    >>> segments("付帯されます。（P{page:ESS}）")
    [{'text': '付帯されます。（P', 'ref': ''}, {'text': '?', 'ref': 'sec_ESS'}, {'text': '）', 'ref': ''}]
    """
    out: list[dict[str, Any]] = []
    for i, piece in enumerate(PAGE_REF.split(text)):
        if i % 2:
            out.append({"text": "?", "ref": bookmark(piece)})
        elif piece:
            out.append({"text": piece, "ref": ""})
    return out


def emergency_context(product: Product) -> dict[str, Any]:
    ess = product.emergency_support
    partners = {p.id: p.name for p in ess.partners}
    return {
        "heading": section_heading(ess.number, ess.title),
        "summary": [t.text for t in ess.summary],
        "condition": ess.condition,
        "diagram": diagram_context(ess),
        "functions": [support_function(f, partners) for f in ess.functions],
        "partners": [p.name for p in ess.partners],
        "features": [{"id": t.id, "number": i + 1, "title": t.title, "points": list(t.points)} for i, t in enumerate(ess.features)],
        "notes": [t.text for t in ess.notes],
    }


def exclusion(item: Exclusion, mark: str) -> dict[str, Any]:
    return {"id": item.id, "mark": mark, "text": item.text, "note": item.note, "subitems": [{"mark": f"{s.label}．", "text": s.text} for s in item.subitems]}


def exclusions_context(product: Product) -> dict[str, Any]:
    exc = product.exclusions
    return {
        "heading": section_heading(exc.number, exc.title),
        "title": exc.title,
        "intro": exc.intro,
        "groups": [
            {"id": g.id, "title": g.title, "entries": [exclusion(x, circled(i, f"exclusions.groups[{gi}].items[{i}]", product)) for i, x in enumerate(g.items)]}
            for gi, g in enumerate(exc.groups)
        ],
    }


def risk_service(s: RiskService, mark: str) -> dict[str, Any]:
    return {"id": s.id, "mark": mark, "name": s.name, "description": s.description, "fee": FEES[s.fee], "menu": list(s.menu)}


def risk_context(product: Product) -> dict[str, Any]:
    rs = product.risk_services
    return {
        "heading": section_heading(rs.number, rs.title),
        "provider": rs.provider,
        "intro": rs.intro,
        "services": [risk_service(s, circled(i, f"risk_services.services[{i}]", product)) for i, s in enumerate(rs.services)],
    }


def footer_context(product: Product) -> dict[str, Any]:
    meta = product.meta
    return {
        "product": meta.name,
        "version": meta.content_version,
        "approval": meta.approval_number or NO_APPROVAL,
        "effective": format_date(meta.effective_date),
        "content_hash": product.digest(),
        "draft": not meta.approval_number,  # no valid approval printed (generator.content.approvals)
    }


# Headings the 重要事項説明書 template numbers itself before the required items' own (契約概要 1–5, 注意喚起情報 1–2).
DISCLOSURE_FIXED = {"契約概要": 5, "注意喚起情報": 2}


def required_context(product: Product) -> dict[str, Any]:
    """The required items the 重要事項説明書 prints on their own, numbered after the template's fixed headings.

    A missing item keeps its heading and prints a placeholder (``missing``/``placeholder``), never silence.
    """
    from generator.content.disclosures import CHUI, GAIYO, disclosure_items

    out = {}
    for key, part in (("gaiyo", GAIYO), ("chui", CHUI)):
        items = disclosure_items(product, part)
        for n, item in enumerate(items, start=DISCLOSURE_FIXED[part] + 1):
            item["heading"] = f"{n}．{item['title']}"
        out[key] = items
    return out


def letter_context(product: Product) -> dict[str, Any]:
    """The cover letter's wording; the seed prints 拝啓 and the first greeting on one line."""
    letter = product.letter
    greeting = list(letter.greeting)
    if greeting:
        greeting[0] = f"{letter.opening}　{greeting[0]}"
    else:
        greeting = [letter.opening]
    return {
        "title": letter.title,
        "show_title": letter.title != product.meta.brochure_title,
        "greeting": greeting,
        "body": [t.text for t in letter.body],
        "closing_lines": list(letter.closing_lines),
        "closing": letter.closing,
    }


def brochure_context(product: Product) -> dict[str, Any]:
    """Everything templates/brochure.docx reads; keys are documented in templates/README.md."""
    meta = product.meta
    feats = product.features
    ctx: dict[str, Any] = {
        "doc": {
            "title": meta.brochure_title,
            "product": meta.display_name,
            "insurer": meta.insurer.name,
            "insurer_short": meta.insurer.short_name,
            "effective": format_date(meta.effective_date),
        },
        "footer": footer_context(product),
        "letter": letter_context(product),
        "background": [narrative(s) for s in product.background.sections],
        "examples": {
            "heading": section_heading(product.examples.number, product.examples.title),
            "cases": [
                {"id": c.id, "industry": c.industry, "attack": c.attack, "description": c.description, "damages": damage_lines(c)}
                for c in product.examples.cases
            ],
            "notes": notes(product.examples.notes),
        },
        "features": {
            "heading": section_heading(feats.number, feats.title),
            "intro": feats.intro,
            "entries": [
                {"id": f.id, "heading": sub_heading(f.number, f.title), "paragraphs": [segments(t) for t in f.paragraphs], "notes": notes(f.notes)}
                for f in feats.features
            ],
        },
        "coverage": coverage_context(product),
        "rates": rates_context(product),
        "emergency": emergency_context(product),
        "exclusions": exclusions_context(product),
        "risk": risk_context(product),
    }
    parts = [*ctx["background"], ctx["examples"], ctx["features"], ctx["coverage"], ctx["emergency"], ctx["exclusions"], ctx["risk"]]
    ctx["contents"] = [part["heading"] for part in parts]  # the cover's list of sections, in brochure order
    for number, (part, section) in enumerate(zip(parts, numbered_sections(product), strict=True), start=1):
        part["bookmark"], part["bookmark_id"] = bookmark(section.id), str(number)  # page references land here: segments()
    return ctx
