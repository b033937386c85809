"""Proposal planning: one client's quote and the template contexts of the personalised pack parts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from generator import __version__
from generator.clients import ClientRequest
from generator.jpformat import format_date, format_yen, format_yen_units
from generator.model import Product
from generator.rate import Quote, quote

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"

# (key, template file, bookmark title, Word file name in the pack folder)
PARTS: tuple[tuple[str, str, str, str], ...] = (
    ("letter", "letter.docx", "ご案内状", "01_ご案内状.docx"),
    ("quote", "quote.docx", "お見積書", "02_お見積書.docx"),
    ("disclosure", "disclosure.docx", "重要事項説明書", "03_重要事項説明書.docx"),
)
BROCHURE_TITLE = "パンフレット"


@dataclass(frozen=True)
class PackPlan:
    """Everything needed to build one client's pack, decided before anything is written."""

    request: ClientRequest
    quote: Quote
    issued: dt.date
    folder: str  # folder name under the proposals root
    pdf_name: str
    contexts: dict[str, dict]
    digest: str  # of every input: client values, content, templates, generator version

    @property
    def title(self) -> str:
        return f"{self.quote.product} ご提案書 — {self.request.addressee}"


def safe_name(text: str, limit: int = 80) -> str:
    """A folder/file name that keeps Japanese readable but is safe on every file system.

    >>> safe_name("有限会社 伸和企画 上")
    '有限会社 伸和企画 上'
    >>> safe_name('A/B:C*?"<>| .')
    'A_B_C______'
    >>> len(safe_name("髙" * 200).encode()) <= 255
    True
    """
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]', "_", text).strip(" .")
    name = name or "_"
    if len(name) > limit:  # 80 CJK characters are 240 bytes: under the usual 255-byte limit
        tag = hashlib.sha256(text.encode()).hexdigest()[:8]
        name = name[: limit - 9] + "_" + tag
    return name


def plan_pack(product: Product, request: ClientRequest, today: dt.date) -> PackPlan:
    """Quote the client and build every part's context; raises QuoteRefused / ReferralRequired."""
    q = quote(product, request.industry, request.revenue, request.limit)
    issued = request.date or today
    meta = meta_context(product)
    client = {"name": request.client, "contact": request.contact, "addressee": request.addressee}
    agent = {"name": request.agent_name, "contact": request.agent_contact}
    base = {"meta": meta, "client": client, "agent": agent, "date": format_date(issued), "date_iso": issued.isoformat()}
    contexts = {
        "letter": base | {"letter": letter_context(product)},
        "quote": base | {"quote": quote_context(product, q, issued)},
        "disclosure": base | {"disclosure": disclosure_context(product, q)},
    }
    templates = {key: (TEMPLATES / file).read_bytes() for key, file, _, _ in PARTS}
    payload = json.dumps({"request": request.__dict__ | {"row": None}, "issued": issued, "content": product.file_hashes,
                          "templates": {k: hashlib.sha256(v).hexdigest() for k, v in templates.items()},
                          "version": __version__}, sort_keys=True, default=str, ensure_ascii=False)
    folder = safe_name(f"{request.client} {request.contact}".strip())
    return PackPlan(
        request=request, quote=q, issued=issued, folder=folder,
        pdf_name=f"{safe_name(product.meta.name)}_ご提案書.pdf",
        contexts=contexts, digest=hashlib.sha256(payload.encode()).hexdigest(),
    )


def meta_context(product: Product) -> dict:
    """Product facts every document prints in its footer (provenance)."""
    m = product.meta
    return {
        "name": m.name,
        "display_name": m.display_name,
        "content_version": m.content_version,
        "rates_version": product.rates.rates_version,
        "approval_number": m.approval_number or "未取得",
        "effective_date": format_date(m.effective_date),
        "content_hash": product.digest(),
        "insurer": m.insurer.name,
        "insurer_short": m.insurer.short_name,
        "insurer_department": m.insurer.department,
        "insurer_address": m.insurer.address,
        "insurer_phone": m.insurer.phone,
    }


def letter_context(product: Product) -> dict:
    letter = product.letter
    return {
        "title": letter.title,
        "first_line": f"{letter.opening}　{letter.greeting[0]}" if letter.greeting else letter.opening,
        "greeting": list(letter.greeting[1:]),
        "body": [p.text for p in letter.body],
        "closing_lines": list(letter.closing_lines),
        "closing": letter.closing,
    }


def quote_context(product: Product, q: Quote, issued: dt.date) -> dict:
    valid_until = issued + dt.timedelta(days=product.meta.quote_valid_days)
    number = f"{product.meta.slug.upper()}-{issued:%Y%m%d}-{hashlib.sha256(repr(q).encode()).hexdigest()[:6].upper()}"
    period = product.coverage.period
    return {
        "number": number,
        "valid_until": format_date(valid_until),
        "industry": q.industry,
        "class_code": q.class_code,
        "class_industries": "、".join(q.class_industries),
        "revenue": format_yen_units(q.revenue),
        "band": q.band_label,
        "limit": format_yen_units(q.limit),
        "expense_limit": format_yen_units(q.expense_limit),
        "expense_ratio": f"{product.rates.expense_ratio_percent}%",
        "premium": format_yen(q.premium),
        "payment_method": q.payment_method,
        "period": period.paragraphs[0] if period.paragraphs else "",
        "ladder": [
            {"limit": format_yen_units(li), "expense_limit": format_yen_units(li * product.rates.expense_ratio_percent // 100),
             "premium": format_yen(pr), "mark": "◎ ご提案" if li == q.limit else ""}
            for li, pr in q.ladder
        ],
        "premises_title": product.rates.premises_title,
        "premises": list(q.premises),
        "notes": [n.text for n in product.rates.notes],
        "rates_version": q.rates_version,
    }


def disclosure_context(product: Product, q: Quote) -> dict:
    """重要事項説明書: 契約概要 (what the product is, this client's terms) + 注意喚起情報 (exclusions, caveats)."""
    cov = product.coverage
    sections = {s.id: s for s in cov.payment.sections}
    return {
        "intro": cov.intro,
        "causes": [f"{CIRCLED[i]} {c.text}" for i, c in enumerate(cov.causes)],
        "sections": [
            {"label": s.label, "title": s.title + ("（オプション）" if s.optional else ""),
             "text": s.description, "items": [f"{CIRCLED[i]} {t.text}" for i, t in enumerate(s.items)]}
            for s in cov.payment.sections
        ],
        "payment_notes": [_note(n) for n in cov.payment.notes],
        "limits": [
            {"label": sections[r.section].label if r.section in sections else "", "title": sections[r.section].title if r.section in sections else r.section,
             "limit": r.limit, "deductibles": "／".join(r.deductibles)}
            for r in cov.limits.rows
        ],
        "limit_notes": [_note(n) for n in cov.limits.notes],
        "terms": [
            {"label": "賠償保険金額", "value": format_yen_units(q.limit)},
            {"label": "費用保険金額（事故対応特別費用）", "value": format_yen_units(q.expense_limit)},
            {"label": "年間保険料", "value": format_yen(q.premium)},
            {"label": "保険料払込方法", "value": q.payment_method},
            {"label": "業種区分・売上高区分", "value": f"{q.class_code}（{q.industry}）・{q.band_label}"},
        ],
        "eligibility": {"title": cov.eligibility.title, "text": f"{cov.eligibility.text}　{cov.eligibility.exclusion_text}"},
        "clauses": [{"title": c.title, "paragraphs": list(c.paragraphs), "notes": [_note(n) for n in c.notes]}
                    for c in (cov.insured, cov.period, cov.retro_date)],
        "exclusions_intro": product.exclusions.intro,
        "exclusion_groups": exclusion_groups(product),
        "premises_title": product.rates.premises_title,
        "premises": list(q.premises),
    }


def exclusion_groups(product: Product) -> list[dict]:
    """Exclusions numbered ①… from list order, sub-items labelled ア．イ．, with their IDs."""
    return [
        {"title": g.title, "items": [
            {"id": e.id, "number": CIRCLED[i], "text": e.text, "note": e.note,
             "subitems": [f"{s.label}．{s.text}" for s in e.subitems]}
            for i, e in enumerate(g.items)]}
        for g in product.exclusions.groups
    ]


def _note(note) -> str:
    items = "".join(f" {CIRCLED[i]}{t}" for i, t in enumerate(note.items))
    return f"{note.mark} {note.text}{items}"
