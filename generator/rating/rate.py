"""Rate stage: premium quotes from a product's published rate tables, as pure functions."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from generator.content.load import did_you_mean
from generator.content.model import Product
from generator.content.rates import Band, RateClass, Rates
from generator.errors import InputError, QuoteRefused, ReferralRequired
from generator.i18n import N_
from generator.jpformat import band_label, format_yen, format_yen_units

Option = Literal["利益損害", "営業継続費用"]
OPTIONS: tuple[str, ...] = ("利益損害", "営業継続費用")


@dataclass(frozen=True)
class Quote:
    """A priced quote: plain data that the CLI prints and the proposal pack renders."""

    product: str
    rates_version: str
    industry: str
    class_code: str
    class_industries: tuple[str, ...]
    revenue: int
    band_id: str
    band_label: str
    limit: int
    expense_limit: int
    premium: int
    ladder: tuple[tuple[int, int], ...]  # (limit, premium) for every published limit
    premises: tuple[str, ...]
    payment_method: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view; money stays int yen, with formatted twins for people."""
        return {
            "product": self.product,
            "rates_version": self.rates_version,
            "industry": self.industry,
            "class": self.class_code,
            "revenue": self.revenue,
            "band": {"id": self.band_id, "label": self.band_label},
            "limit": self.limit,
            "limit_text": format_yen_units(self.limit),
            "expense_limit": self.expense_limit,
            "expense_limit_text": format_yen_units(self.expense_limit),
            "premium": self.premium,
            "premium_text": format_yen(self.premium),
            "ladder": [{"limit": li, "premium": pr} for li, pr in self.ladder],
            "premises": list(self.premises),
            "payment_method": self.payment_method,
        }


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def find_band(bands: tuple[Band, ...], revenue: int) -> int | None:
    """Index of the band holding ``revenue`` (each band is over < revenue <= up_to), or None.

    >>> bands = (Band("B1", 0, 500_000_000), Band("B2", 500_000_000, 1_000_000_000))
    >>> find_band(bands, 500_000_000), find_band(bands, 500_000_001), find_band(bands, 1)
    (0, 1, 0)
    >>> find_band(bands, 1_000_000_001) is None, find_band(bands, 0) is None
    (True, True)
    """
    for i, band in enumerate(bands):
        if band.over < revenue <= band.up_to:
            return i
    return None


def resolve_industry(rates: Rates, industry: str) -> tuple[RateClass, str]:
    """The rate class for an industry name or class code, refusing excluded industries."""
    wanted = _norm(industry)
    if not wanted:
        raise InputError("industry", industry, N_("is empty"), allowed=_accepted(rates))
    for cls in rates.classes:
        if wanted == _norm(cls.code):
            return cls, cls.code
        for name in cls.industries:
            if wanted == _norm(name):
                return cls, name
    excluded = {_norm(x): x for x in rates.excluded_industries}
    if wanted in excluded:
        raise QuoteRefused("industry", industry, N_("{industry} is not eligible: {note}"),
                           params={"industry": excluded[wanted], "note": rates.excluded_note})
    names = [n for c in rates.classes for n in c.industries] + [c.code for c in rates.classes]
    hint = did_you_mean(wanted, names + list(rates.excluded_industries))
    raise InputError("industry", industry, N_("unknown industry"), allowed=_accepted(rates), suggestion=hint)


def _accepted(rates: Rates) -> str:
    return "; ".join(f"{c.code}: {'、'.join(c.industries)}" for c in rates.classes)


def quote(
    product: Product,
    industry: str,
    revenue: int,
    limit: int,
    *,
    deductible: int = 0,
    options: tuple[str, ...] = (),
    payment: str | None = None,
) -> Quote:
    """Price one risk from the published table, or raise QuoteRefused / ReferralRequired.

    Anything the published table does not price is a referral, never an invented premium.
    """
    rates = product.rates
    names = [n.strip() for n in industry.replace("，", ",").replace("、", ",").split(",") if n.strip()]
    if len(names) > 1:
        classes = {resolve_industry(rates, n)[0].code for n in names}
        if len(classes) > 1:
            raise ReferralRequired("industry", industry, N_("業種が複数区分にまたがる ({classes}); the table assumes one class"),
                                       params={"classes": ", ".join(sorted(classes))})
        industry = names[0]
    cls, matched = resolve_industry(rates, industry)

    if isinstance(revenue, bool) or not isinstance(revenue, int):
        raise InputError("revenue", revenue, N_("must be int yen"))
    top = rates.bands[-1].up_to
    if revenue <= 0:
        raise QuoteRefused("revenue", revenue, N_("売上高 must be greater than 0円"))
    if revenue > top:
        raise QuoteRefused("revenue", format_yen_units(revenue), N_("ご加入の対象は売上高{top}以下の事業者です"),
                           params={"top": format_yen_units(top)})
    band_index = find_band(rates.bands, revenue)
    assert band_index is not None  # bands tile (0, top] – validate() guarantees it

    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise InputError("limit", limit, N_("must be a positive int yen amount"), allowed=_limits(rates))
    if limit not in rates.limits:
        if limit > rates.limits[-1]:
            raise QuoteRefused("limit", format_yen_units(limit), N_("賠償部分の限度額は{top}が上限です"),
                               params={"top": format_yen_units(rates.limits[-1])})
        raise ReferralRequired("limit", format_yen_units(limit), N_("not a published limit ({limits}); a non-standard limit needs the insurer's quote"),
                               params={"limits": _limits(rates)})
    if deductible:
        raise ReferralRequired("deductible", format_yen(deductible), N_("the table assumes no deductible (自己負担額 0円)"))
    for opt in options:
        if opt not in OPTIONS:
            raise InputError("option", opt, N_("unknown option"), allowed=", ".join(OPTIONS), suggestion=did_you_mean(opt, OPTIONS))
        raise ReferralRequired("option", opt, N_("the table is priced without 利益損害/営業継続費用 options"))
    if payment is not None and _norm(payment) != _norm(rates.payment_method):
        raise ReferralRequired("payment", payment, N_("the table assumes 保険料払込方法：{method}"), params={"method": rates.payment_method})

    row = cls.premiums[band_index]
    expense = expense_limit(rates, limit)
    band = rates.bands[band_index]
    return Quote(
        product=product.meta.name,
        rates_version=rates.rates_version,
        industry=matched,
        class_code=cls.code,
        class_industries=cls.industries,
        revenue=revenue,
        band_id=band.id,
        band_label=band_label(band.over, band.up_to),
        limit=limit,
        expense_limit=expense,
        premium=row[rates.limits.index(limit)],
        ladder=tuple(zip(rates.limits, row, strict=True)),
        premises=tuple(p.text for p in rates.premises),
        payment_method=rates.payment_method,
    )


def expense_limit(rates: Rates, limit: int) -> int:
    """費用保険金額: the published ratio of the liability limit, in whole yen (the only place it is computed).

    A limit whose 費用 share is not a whole number of yen is not priced by the table: a referral, never rounded.
    """
    expense, rest = divmod(limit * rates.expense_ratio_percent, 100)
    if rest:
        raise ReferralRequired("limit", limit, N_("費用 limit is not a whole number of yen"))
    return expense


def _limits(rates: Rates) -> str:
    return " / ".join(format_yen_units(x) for x in rates.limits)
