"""Proposal planning: one client's quote and the template contexts of the personalised pack parts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import __version__
from generator.content.model import Product
from generator.content.request import ClientRequest
from generator.documents.context import NO_APPROVAL, class_label, coverage_context, exclusions_context, footer_context, letter_context, required_context
from generator.documents.registry import PERSONALISED
from generator.errors import InputError
from generator.i18n import N_
from generator.jpformat import ERAS, format_date, format_yen, format_yen_units
from generator.rating.rate import Quote, expense_limit, quote


@dataclass(frozen=True)
class PackPlan:
    """Everything needed to build one client's pack, decided before anything is written."""

    request: ClientRequest
    quote: Quote
    issued: dt.date
    folder: str  # folder name under the proposals root
    pdf_name: str
    contexts: dict[str, dict[str, Any]]
    digest: str  # of every input: client values, content, templates, generator version
    templates: Path  # the folder the personalised parts' templates come from
    quote_number: str  # 見積番号 printed on the お見積書
    revision: str = ""  # the product revision that priced the quote and provides every document
    revision_effective: dt.date | None = None  # that revision's effective date (new business)

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


NO_CONTACT = "御中"  # the folder of a letter without a contact person ends like its addressee


def pack_folder(client: str, contact: str) -> str:
    """The folder of one client's pack: readable, and never the same for two different (client, contact) pairs.

    ``client contact`` (or ``client 御中``) as typed when that is a safe name and tells the pair apart (split at the
    last space); otherwise the sanitised name plus a short hash of the exact pair, so ``A/B`` and ``A_B`` differ.

    >>> pack_folder("有限会社 伸和企画", "上"), pack_folder("東都印刷株式会社", "")
    ('有限会社 伸和企画 上', '東都印刷株式会社 御中')
    >>> pack_folder("A/B", "") != pack_folder("A_B", "") and pack_folder("A/B", "").startswith("A_B 御中_")
    True
    >>> len({pack_folder("A B", ""), pack_folder("A", "B"), pack_folder("A", "B 御中"), pack_folder("A", "御中"), pack_folder("A B", "御中")})
    5
    >>> pack_folder("..", "") == pack_folder("..", "") != pack_folder(".", "")
    True
    """
    text = f"{client} {contact or NO_CONTACT}"
    name = safe_name(text)
    # readable only if the name is the text exactly and the last space splits it back into this pair
    if name == text and (not contact or (" " not in contact and contact != NO_CONTACT)):
        return name
    tag = hashlib.sha256(repr((client, contact)).encode()).hexdigest()[:10]
    return f"{safe_name(text, 80 - 11)}_{tag}"


def check_issue_date(product: Product, issued: dt.date) -> dt.date:
    """The issue date if the pack can print it: in a 和暦 era docgen knows, and its quote's expiry a real date.

    >>> from types import SimpleNamespace as NS
    >>> p = NS(meta=NS(quote_valid_days=90))
    >>> check_issue_date(p, dt.date(2026, 11, 26))
    datetime.date(2026, 11, 26)
    >>> check_issue_date(p, dt.date(9999, 12, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    generator.errors.InputError: date: '9999-12-01': the quote would expire after 9999-12-31 ...
    """
    first = ERAS[-1][0]
    if issued < first:
        raise InputError("date", issued.isoformat(), N_("is before {era} began ({first}); documents are dated in 和暦"),
                         allowed=N_("{first} or later"), params={"era": ERAS[-1][1], "first": first.isoformat()})
    last = dt.date.max - dt.timedelta(days=product.meta.quote_valid_days)
    if issued > last:
        raise InputError("date", issued.isoformat(), N_("the quote would expire after 9999-12-31 (valid {days} days)"),
                         allowed=N_("up to {last}"), params={"days": product.meta.quote_valid_days, "last": last.isoformat()})
    return issued


def plan_pack(product: Product, request: ClientRequest, today: dt.date, templates: Path, *, last_day: dt.date | None = None) -> PackPlan:
    """Quote the client and build every part's context; raises QuoteRefused / ReferralRequired.

    ``product`` is the revision in force on the request's start date; ``last_day`` the last start date it prices (the
    quote's validity never reaches past it).
    """
    q = quote(product, request.industry, request.revenue, request.limit)
    issued = check_issue_date(product, request.date or today)
    number = quote_number(product, request, q, issued)
    base = document_context(product) | {
        "client": {"name": request.client, "contact": request.contact, "addressee": request.addressee},
        "agent": {"name": request.agent_name, "contact": request.agent_contact},
        "date": format_date(issued),
    }
    contexts = {
        "letter": base | {"letter": letter_context(product)},
        "quote": base | {"quote": quote_context(product, q, issued, number=number, start=request.start, last_day=last_day)},
        "disclosure": base | disclosure_context(product, q),
    }
    # the approval number is an input too: a pack built as a draft is rebuilt once its content is approved
    # a request without a start date hashes as it did before revisions existed: its pack stays up to date
    asked = {k: v for k, v in request.__dict__.items() if not (k in ("start", "renewal") and not v)}
    capped = {"last_day": last_day} if last_day else {}  # the revision's files are in "content"
    payload = json.dumps({"request": asked | {"row": None}, "issued": issued, **capped, "content": product.file_hashes,
                          "approval": product.meta.approval_number,
                          "templates": {d.id: hashlib.sha256(d.template_path(templates).read_bytes()).hexdigest() for d in PERSONALISED},
                          "version": __version__}, sort_keys=True, default=str, ensure_ascii=False)
    return PackPlan(
        request=request, quote=q, issued=issued, folder=pack_folder(request.client, request.contact),
        pdf_name=f"{safe_name(product.meta.name)}_ご提案書.pdf",
        contexts=contexts, digest=hashlib.sha256(payload.encode()).hexdigest(), templates=Path(templates),
        quote_number=number, revision=product.revision, revision_effective=product.meta.effective_date,
    )


def document_context(product: Product) -> dict[str, Any]:
    """Header and footer fields every document prints (product, insurer, version, approval, content hash)."""
    m = product.meta
    return {
        "doc": {"product": m.display_name, "insurer": m.insurer.name, "insurer_short": m.insurer.short_name},
        "footer": footer_context(product),
    }


def quote_number(product: Product, request: ClientRequest, q: Quote, issued: dt.date) -> str:
    """見積番号: product, issue date and a hash of who is quoted (client, contact, agency) and what.

    The client is part of it: two clients quoted the same terms on the same day get different numbers.
    """
    key = repr((request.client, request.contact, request.agent_name, q) + ((request.start, request.renewal) if request.start else ()))
    return f"{product.meta.slug.upper()}-{issued:%Y%m%d}-{hashlib.sha256(key.encode()).hexdigest()[:6].upper()}"


def quote_context(product: Product, q: Quote, issued: dt.date, *, number: str, start: dt.date | None = None,
                  last_day: dt.date | None = None) -> dict[str, Any]:
    valid_until = issued + dt.timedelta(days=product.meta.quote_valid_days)
    if last_day is not None:  # never valid for a start date the revision does not price
        valid_until = max(issued, min(valid_until, last_day))
    period = product.coverage.period
    ratio = product.rates.expense_ratio_percent
    return {
        "number": number,
        # with a 保険始期日 the line also names it, the revision pricing it and that revision's 承認番号; it rides on this
        # line rather than a template paragraph of its own so that quote.docx (an input of every pack's hash, published
        # sample pack included) stays as it was: a quote without a start date prints byte for byte as before revisions
        "valid_until": format_date(valid_until) + (start_line(product, start) if start else ""),
        "start": format_date(start) if start else "",
        "revision": product.revision,
        "revision_effective": format_date(product.meta.effective_date),
        "industry": q.industry,
        "class_code": q.class_code,
        "class_label": class_label(next(c for c in product.rates.classes if c.code == q.class_code)),
        "revenue": format_yen_units(q.revenue),
        "band": q.band_label,
        "limit": format_yen_units(q.limit),
        "expense_limit": format_yen_units(q.expense_limit),
        "expense_ratio": f"{ratio}%",
        "premium": format_yen(q.premium),
        "payment_method": q.payment_method,
        "period": period.paragraphs[0] if period.paragraphs else "",
        "ladder": [
            {"limit": format_yen_units(li), "expense_limit": format_yen_units(expense_limit(product.rates, li)), "premium": format_yen(pr),
             "mark": "◎ ご提案" if li == q.limit else ""}
            for li, pr in q.ladder
        ],
        "premises_title": product.rates.premises_title,
        "premises": list(q.premises),
        "notes": [n.text for n in product.rates.notes],
    }


def start_line(product: Product, start: dt.date) -> str:
    """What the お見積書 adds after its validity date when the agent gave a 保険始期日.

    >>> from types import SimpleNamespace as NS
    >>> p = NS(revision="2027-04", meta=NS(approval_number=""))
    >>> start_line(p, dt.date(2027, 4, 1))
    '　保険始期日：令和9年4月1日（改定 2027-04、承認番号 未取得）'
    """
    return f"　保険始期日：{format_date(start)}（改定 {product.revision}、承認番号 {product.meta.approval_number or NO_APPROVAL}）"


def disclosure_context(product: Product, q: Quote) -> dict[str, Any]:
    """重要事項説明書: 契約概要 (the product and this client's terms) and 注意喚起情報 (exclusions, conditions)."""
    return {
        "coverage": coverage_context(product),
        "exclusions": exclusions_context(product),
        "required": required_context(product),
        "rates": {"premises_title": product.rates.premises_title, "premises": list(q.premises), "notes": [n.text for n in product.rates.notes]},
        "terms": [
            {"label": "保険種類", "value": product.meta.display_name},
            {"label": "業種区分", "value": f"{q.class_code}（{q.industry}）"},
            {"label": "売上高", "value": f"{format_yen_units(q.revenue)}（{q.band_label}）"},
            {"label": "賠償保険金額", "value": format_yen_units(q.limit)},
            {"label": "費用保険金額", "value": f"{format_yen_units(q.expense_limit)}（賠償保険金額の{product.rates.expense_ratio_percent}%）"},
            {"label": "年間保険料", "value": format_yen(q.premium)},
            {"label": "保険料払込方法", "value": q.payment_method},
        ],
    }
