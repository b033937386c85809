"""Japanese money and date formatting on top of Babel."""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from decimal import Decimal, Inexact, localcontext
from typing import Any

from babel.numbers import format_decimal

from generator.errors import AmountError, InputError
from generator.i18n import N_

YEN_FORMS = "450000000, 450,000,000, 4.5億, 4億5000万, 45000万円, ¥55,000, 55,000円"
DATE_FORMS = "2026-11-26, 2026/11/26, 2026年11月26日, 令和8年11月26日, 令和元年5月1日"

# Largest first; 京 is left out on purpose so huge amounts read as "10,000兆円", not a rare unit.
UNITS: tuple[tuple[str, int], ...] = (("兆", 10**12), ("億", 10**8), ("万", 10**4))
_UNIT_SIZE = dict(UNITS)
# characters of a typed amount: every form docgen prints of any amount below 10**40 fits (a property test reads them
# all back); "1,000,000,000,000円" is 18
MAX_YEN_TEXT = 64

# Newest first, so the first era starting on or before a date is its era.
ERAS: tuple[tuple[datetime.date, str], ...] = (
    (datetime.date(2019, 5, 1), "令和"),
    (datetime.date(1989, 1, 8), "平成"),
    (datetime.date(1926, 12, 25), "昭和"),
)

# [0-9] rather than \d: \d also matches e.g. Arabic-Indic digits, which NFKC leaves alone.
_PART = re.compile(r"([0-9,]+)(?:\.([0-9]+))?([兆億万]?)")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})*|[0-9]+")
_NEGATIVE = ("-", "−", "▲", "△")
_DATE_PATTERNS = (
    re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"),
    re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"),
    re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日"),
)
# Up to three digits: format_date prints 令和100年 from 2118 on, and what it prints must parse back.
_ERA_DATE = re.compile(r"(令和|平成|昭和)(元|[0-9]{1,3})年([0-9]{1,2})月([0-9]{1,2})日")


def _yen_error(field: str, value: object, reason: str, suggestion: str = "", **params: object) -> AmountError:
    return AmountError(field, value, reason, allowed=YEN_FORMS, suggestion=suggestion, params=params)


def as_yen(value: object, field: str = "amount") -> int:
    """Return ``value`` as int yen, refusing anything that is not exactly whole yen.

    >>> as_yen(55000)
    55000
    >>> as_yen(Decimal("1E+3"))
    1000
    >>> as_yen(1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    generator.errors.AmountError: amount: 1.0: floats are not accepted; give whole yen as an int; ...
    """
    # bool is an int subclass, and True yen is always a bug upstream.
    if isinstance(value, bool):
        raise _yen_error(field, value, N_("a bool is not an amount"))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise _yen_error(field, value, N_("not a whole number of yen"))
        return int(value)
    if isinstance(value, float):
        raise _yen_error(field, value, N_("floats are not accepted; give whole yen as an int"))
    raise _yen_error(field, value, N_("expected whole yen, got {type}"), type=type(value).__name__)


@functools.lru_cache(maxsize=4096)
def _group(n: int) -> str:
    # remembered: a pack prints the same few dozen amounts (bands, limits, premiums) ~30 times, each ~9 µs through Babel
    # Babel quantizes in the ambient decimal context (28 digits) and raises on anything longer.
    with localcontext() as ctx:
        ctx.prec = len(str(abs(n))) + 10
        text = format_decimal(n, locale="ja_JP")
    if text.replace(",", "") != str(n):
        raise _yen_error("amount", n, f"Babel rendered {text!r}, which is not exact")
    return text


def format_yen(amount: int) -> str:
    """Format whole yen with Babel's ja_JP grouping.

    >>> format_yen(55_000)
    '55,000円'
    >>> format_yen(1_272_000)
    '1,272,000円'
    >>> format_yen(0)
    '0円'
    >>> format_yen(-55_000)
    '-55,000円'
    """
    return _group(as_yen(amount)) + "円"


def format_yen_units(amount: int) -> str:
    """Format whole yen with 兆/億/万 units, exactly: the remainder below 1万 is kept, not rounded.

    >>> format_yen_units(150_000_000)
    '1億5,000万円'
    >>> format_yen_units(10_000_000)
    '1,000万円'
    >>> format_yen_units(123_456_789)
    '1億2,345万6,789円'
    >>> format_yen_units(1_000_000_000_000)
    '1兆円'
    >>> format_yen_units(0)
    '0円'
    """
    n = as_yen(amount)
    sign, rest = ("-", -n) if n < 0 else ("", n)
    parts = []
    for name, size in UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(_group(count) + name)
    if rest or not parts:
        parts.append(_group(rest))
    return sign + "".join(parts) + "円"


def parse_yen(text: str, field: str = "amount") -> int:
    """Parse a yen amount written with digits, commas, 兆/億/万, ¥ or 円, in half or full width.

    >>> parse_yen("4.5億円")
    450000000
    >>> parse_yen("４億５，０００万円")
    450000000
    >>> parse_yen("￥55,000")
    55000
    >>> parse_yen("1億2,345万6,789円")
    123456789
    >>> parse_yen("9" * 5000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    generator.errors.AmountError: amount: '99999999999999999999…': 5,000 文字は長すぎます。金額は 64 文字まで...
    >>> parse_yen("1.5")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    generator.errors.AmountError: amount: '1.5': not a whole number of yen; allowed: ...
    """
    if not isinstance(text, str):
        return as_yen(text, field)
    if len(text) > MAX_YEN_TEXT:  # before any parsing: int() of thousands of digits raises, printing one does too
        raise _yen_error(field, text[:20] + "…", f"{len(text):,} 文字は長すぎます。金額は {MAX_YEN_TEXT} 文字まで（例: 4.5億、450,000,000）")
    s = unicodedata.normalize("NFKC", text).strip()
    if not s:
        raise _yen_error(field, text, N_("is empty"))
    if s.startswith(_NEGATIVE) or s.removeprefix("¥").lstrip().startswith(_NEGATIVE):
        raise _yen_error(field, text, N_("negative amounts are not allowed"))
    s = s.removeprefix("¥").lstrip()
    has_yen_suffix = s.endswith("円")
    s = s.removesuffix("円").rstrip()

    parts: list[tuple[str | Any, ...]] = []  # (whole, fraction or None, unit or None): what Match.groups() gives
    pos = 0
    while not parts or pos < len(s):
        if not (m := _PART.match(s, pos)):
            raise _yen_error(field, text, N_("not a yen amount"))
        parts.append(m.groups())
        pos = m.end()

    total = Decimal(0)
    seen: list[str] = []
    # Decimal, not float, so 4.5億 is exact; Inexact traps any rounding the context would do.
    with localcontext() as ctx:
        ctx.prec = len(s) + 20
        ctx.traps[Inexact] = True
        for i, (whole, frac, unit) in enumerate(parts):
            last = i == len(parts) - 1
            if not _GROUPED.fullmatch(whole):
                raise _yen_error(field, text, N_("misplaced comma in {part}"), part=whole)
            if unit and unit in seen:
                raise _yen_error(field, text, N_("unit {unit} repeated"), unit=unit)
            size = _UNIT_SIZE.get(unit, 1)
            if seen and size > _UNIT_SIZE[seen[-1]]:
                raise _yen_error(field, text, N_("units out of order (兆, then 億, then 万)"))
            if frac is not None and not last:
                raise _yen_error(field, text, N_("only the last part may have a decimal point"))
            coef = Decimal(whole.replace(",", "") + (f".{frac}" if frac else ""))
            if seen and coef >= 10_000:
                raise _yen_error(field, text, N_("{part} after {unit} must be below 10,000"), part=f"{coef}{unit}", unit=seen[-1])
            # "4億5000" reads as 400,005,000 in Japanese but is usually a typo for 4億5000万.
            if seen and not unit and not has_yen_suffix:
                smaller = {"兆": "億", "億": "万"}.get(seen[-1], "円")
                raise _yen_error(field, text, N_("a bare number after a unit is ambiguous; end with 円"), f"{s}{smaller}")
            total += coef * size
            if unit:
                seen.append(unit)
    if total != total.to_integral_value():
        raise _yen_error(field, text, N_("not a whole number of yen"))
    return int(total)


def band_label(over: int, up_to: int) -> str:
    """Label the revenue band (over, up_to]; a band starting at 0 has no lower bound.

    >>> band_label(0, 500_000_000)
    '5億円以下'
    >>> band_label(500_000_000, 1_000_000_000)
    '5億円超10億円以下'
    """
    low, high = as_yen(over, "over"), as_yen(up_to, "up_to")
    if low < 0:
        raise _yen_error("over", over, "negative amounts are not allowed")
    if high <= low:
        raise _yen_error("up_to", up_to, f"must be greater than over ({low})")
    upper = f"{format_yen_units(high)}以下"
    return upper if low == 0 else f"{format_yen_units(low)}超{upper}"


def _era(d: datetime.date) -> tuple[datetime.date, str]:
    for start, name in ERAS:
        if d >= start:
            return start, name
    raise ValueError(f"{d.isoformat()} is before {ERAS[-1][1]} began ({ERAS[-1][0].isoformat()}); no era name is defined for it")


def format_date(d: datetime.date, era: bool = True) -> str:
    """Format a date in 和暦 (default) or as 西暦 with 年月日.

    >>> format_date(datetime.date(2026, 11, 26))
    '令和8年11月26日'
    >>> format_date(datetime.date(2019, 5, 1))
    '令和元年5月1日'
    >>> format_date(datetime.date(1989, 1, 7))
    '昭和64年1月7日'
    >>> format_date(datetime.date(2026, 11, 26), era=False)
    '2026年11月26日'
    """
    if not era:
        return f"{d.year}年{d.month}月{d.day}日"
    start, name = _era(d)
    year = d.year - start.year + 1
    return f"{name}{'元' if year == 1 else year}年{d.month}月{d.day}日"


def parse_date(text: str, field: str = "date") -> datetime.date:
    """Parse an ISO, slashed, 年月日 or 和暦 date; full-width digits are accepted.

    >>> parse_date("2026/11/26")
    datetime.date(2026, 11, 26)
    >>> parse_date("令和元年5月1日")
    datetime.date(2019, 5, 1)
    >>> parse_date("２０２６年１１月２６日")
    datetime.date(2026, 11, 26)
    >>> parse_date("平成32年1月1日")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    generator.errors.InputError: date: '平成32年1月1日': 2020-01-01 is not in 平成 ...
    """
    # YAML loads unquoted 2026-11-26 as a date already; a datetime would silently lose its time.
    if isinstance(text, datetime.datetime):
        raise InputError(field, text, N_("expected a date without a time of day"), allowed=DATE_FORMS)
    if isinstance(text, datetime.date):
        return text
    if not isinstance(text, str):
        raise InputError(field, text, N_("not a date"), allowed=DATE_FORMS)
    s = unicodedata.normalize("NFKC", text).strip()
    era_name = None
    if m := _ERA_DATE.fullmatch(s):
        era_name, era_year, month, day = m.groups()
        start = next(start for start, name in ERAS if name == era_name)
        year = start.year + (0 if era_year == "元" else int(era_year) - 1)
    elif m := next((p.fullmatch(s) for p in _DATE_PATTERNS if p.fullmatch(s)), None):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise InputError(field, text, N_("not a date"), allowed=DATE_FORMS)
    try:
        d = datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise InputError(field, text, N_("no such date"), allowed=DATE_FORMS) from None
    if era_name is not None:
        actual = _era(d)[1] if d >= ERAS[-1][0] else None
        if actual != era_name:
            hint = format_date(d) if actual else ""
            raise InputError(field, text, N_("{date} is not in {era}"), allowed=DATE_FORMS, suggestion=hint,
                             params={"date": d.isoformat(), "era": era_name})
    return d
