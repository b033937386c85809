"""Tests for generator.jpformat: exact yen and 和暦 formatting, strict parsing."""

from __future__ import annotations

import datetime
import random
import re
from decimal import Decimal

import pytest

from generator.errors import AmountError, InputError
from generator.jpformat import (
    ERAS,
    as_yen,
    band_label,
    format_date,
    format_yen,
    format_yen_units,
    parse_date,
    parse_yen,
)

MAN, OKU, CHO = 10**4, 10**8, 10**12


def _boundary_values() -> list[int]:
    """Values at and around every unit boundary, plus a seeded spread across magnitudes."""
    values = {0, 1, 9, 10, 999, 1000, 9999}
    for size in (MAN, OKU, CHO, 10**16):
        for k in (1, 2, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 10_001):
            for delta in (-MAN, -1, 0, 1, MAN - 1, MAN, MAN + 1):
                if k * size + delta >= 0:
                    values.add(k * size + delta)
    rng = random.Random(20261126)
    for digits in range(1, 25):
        values.update(rng.randrange(10 ** (digits - 1), 10**digits) for _ in range(40))
        values.update(rng.randrange(1, 10**digits) * MAN for _ in range(10))
    return sorted(values)


BOUNDARY_VALUES = _boundary_values()


def _assert_names_field(exc: InputError, field: str) -> None:
    assert exc.field == field
    assert str(exc).startswith(f"{field}: ")


# --- format_yen ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (55_000, "55,000円"),
        (1_272_000, "1,272,000円"),
        (0, "0円"),
        (-55_000, "-55,000円"),
        (999, "999円"),
        (1000, "1,000円"),
        (Decimal("1000"), "1,000円"),
        (Decimal("1E+3"), "1,000円"),
    ],
)
def test_format_yen_examples(amount, expected):
    assert format_yen(amount) == expected


@pytest.mark.parametrize("n", BOUNDARY_VALUES)
def test_format_yen_is_exact_and_grouped_in_threes(n):
    text = format_yen(n)
    assert re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*円", text), text
    assert int(text.removesuffix("円").replace(",", "")) == n
    assert format_yen(-n) == (f"-{text}" if n else "0円")


def test_format_yen_beyond_default_decimal_precision_is_exact():
    # 31 digits: more than Decimal's default 28-digit context that Babel formats in.
    n = 10**30 + 7
    assert format_yen(n) == "1,000,000,000,000,000,000,000,000,000,007円"
    assert parse_yen(format_yen_units(n)) == n


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (55_000.0, "float"),
        (0.5, "float"),
        (True, "bool"),
        (False, "bool"),
        (Decimal("1.5"), "whole number"),
        (Decimal("NaN"), "whole number"),
        (Decimal("Infinity"), "whole number"),
        ("55000", "str"),
        (None, "NoneType"),
    ],
)
@pytest.mark.parametrize("func", [format_yen, format_yen_units])
def test_format_rejects_non_whole_yen(func, value, reason):
    with pytest.raises(AmountError, match=reason) as info:
        func(value)
    _assert_names_field(info.value, "amount")


def test_as_yen_names_the_given_field():
    with pytest.raises(AmountError) as info:
        as_yen(1.5, "revenue")
    _assert_names_field(info.value, "revenue")


# --- format_yen_units ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (10_000_000, "1,000万円"),
        (100_000_000, "1億円"),
        (150_000_000, "1億5,000万円"),
        (300_000, "30万円"),
        (10_000_000_000, "100億円"),
        (1_000_000_000_000, "1兆円"),
        (123_456_789, "1億2,345万6,789円"),
        (5_000, "5,000円"),
        (0, "0円"),
        (100_005_000, "1億5,000円"),
        (1_000_000_000_001, "1兆1円"),
        (-150_000_000, "-1億5,000万円"),
        (10**16, "10,000兆円"),
    ],
)
def test_format_yen_units_examples(amount, expected):
    assert format_yen_units(amount) == expected


@pytest.mark.parametrize("n", BOUNDARY_VALUES)
def test_format_yen_units_round_trips_and_is_well_formed(n):
    text = format_yen_units(n)
    assert parse_yen(text) == n
    # Independent reading: sum coefficient x unit; no zero parts, lower coefficients below 1万.
    parts = re.findall(r"([0-9,]+)([兆億万]?)", text.removesuffix("円"))
    assert "".join(c + u for c, u in parts) + "円" == text
    coefficients = [int(c.replace(",", "")) for c, _ in parts]
    sizes = [{"兆": CHO, "億": OKU, "万": MAN, "": 1}[u] for _, u in parts]
    assert sum(c * s for c, s in zip(coefficients, sizes, strict=True)) == n
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    assert all(0 < c < MAN for c in coefficients[1:])
    assert n == 0 or coefficients[0] > 0


@pytest.mark.parametrize("n", BOUNDARY_VALUES[::7])
def test_parse_yen_reads_format_yen_back(n):
    assert parse_yen(format_yen(n)) == n
    assert parse_yen(str(n)) == n


# --- parse_yen -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("450000000", 450_000_000),
        ("450,000,000", 450_000_000),
        ("4.5億", 450_000_000),
        ("4.5億円", 450_000_000),
        ("4億5000万", 450_000_000),
        ("4億5,000万円", 450_000_000),
        ("45000万円", 450_000_000),
        ("1,000万円", 10_000_000),
        ("１００億円", 10_000_000_000),
        ("１，０００万円", 10_000_000),
        ("４．５億", 450_000_000),
        ("￥55,000", 55_000),
        ("¥55,000", 55_000),
        ("55,000円", 55_000),
        ("  55,000円 ", 55_000),
        ("\u300055,000\u3000", 55_000),
        ("1兆", CHO),
        ("0", 0),
        ("0円", 0),
        ("1億2,345万6,789円", 123_456_789),
        ("1億5,000円", 100_005_000),
        ("0.00001億", 1_000),
        ("1.2345万", 12_345),
    ],
)
def test_parse_yen_accepts(text, expected):
    assert parse_yen(text) == expected


def test_parse_yen_returns_int_input_unchanged():
    assert parse_yen(450_000_000) == 450_000_000
    assert type(parse_yen(7)) is int


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "not a yen amount"),
        ("4.5billion", "not a yen amount"),
        ("四億", "not a yen amount"),
        ("1 000", "not a yen amount"),
        ("円", "not a yen amount"),
        (".5", "not a yen amount"),
        ("1.5", "not a whole number of yen"),
        ("0.000000001億", "not a whole number of yen"),
        ("1.23456万", "not a whole number of yen"),
        ("5000万4億", "out of order"),
        ("1億2億", "repeated"),
        ("1億2000万3億", "repeated"),
        ("45,00", "misplaced comma"),
        ("4,5億", "misplaced comma"),
        ("1000,000", "misplaced comma"),
        ("-55000", "negative"),
        ("－５５０００", "negative"),
        ("¥-55,000", "negative"),
        ("−1億", "negative"),
        ("▲55,000", "negative"),
        ("4.5億5000万", "decimal point"),
        ("1億12000万", "below 10,000"),
        ("4億5000", "ambiguous"),
    ],
)
def test_parse_yen_rejects(text, reason):
    with pytest.raises(AmountError, match=reason) as info:
        parse_yen(text, field="revenue")
    _assert_names_field(info.value, "revenue")
    assert info.value.value == text
    assert "4.5億" in info.value.allowed and "4億5000万" in info.value.allowed


def test_parse_yen_ambiguous_bare_number_suggests_the_unit():
    with pytest.raises(AmountError) as info:
        parse_yen("4億5000")
    assert info.value.suggestion == "4億5000万"


@pytest.mark.parametrize("value", [450_000_000.0, True, Decimal("0.5"), None])
def test_parse_yen_rejects_non_str_non_int(value):
    with pytest.raises(AmountError) as info:
        parse_yen(value, field="revenue")
    _assert_names_field(info.value, "revenue")


# --- band_label ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "up_to", "expected"),
    [
        (0, 500_000_000, "5億円以下"),
        (500_000_000, 1_000_000_000, "5億円超10億円以下"),
        (10_000_000, 150_000_000, "1,000万円超1億5,000万円以下"),
    ],
)
def test_band_label(over, up_to, expected):
    assert band_label(over, up_to) == expected


@pytest.mark.parametrize(
    ("over", "up_to", "field"),
    [(-1, 100, "over"), (100, 100, "up_to"), (200, 100, "up_to"), (0.0, 100, "over"), (0, 1.5e9, "up_to")],
)
def test_band_label_rejects(over, up_to, field):
    with pytest.raises(AmountError) as info:
        band_label(over, up_to)
    _assert_names_field(info.value, field)


# --- dates -----------------------------------------------------------------------------------

D = datetime.date


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (D(2026, 11, 26), "令和8年11月26日"),
        (D(2019, 5, 1), "令和元年5月1日"),
        (D(2019, 4, 30), "平成31年4月30日"),
        (D(1989, 1, 8), "平成元年1月8日"),
        (D(1989, 1, 7), "昭和64年1月7日"),
        (D(1926, 12, 25), "昭和元年12月25日"),
        (D(1927, 1, 1), "昭和2年1月1日"),
        (D(1990, 1, 1), "平成2年1月1日"),
        (D(2020, 1, 1), "令和2年1月1日"),
    ],
)
def test_format_date_era(d, expected):
    assert format_date(d) == expected


def test_format_date_gregorian():
    assert format_date(D(2026, 11, 26), era=False) == "2026年11月26日"
    assert format_date(D(1900, 1, 2), era=False) == "1900年1月2日"


def test_format_date_before_showa_raises():
    with pytest.raises(ValueError, match="1926-12-24"):
        format_date(D(1926, 12, 24))


def _days_around_era_starts() -> list[datetime.date]:
    days = set()
    for start, _ in ERAS:
        days.update(start + datetime.timedelta(days=k) for k in range(-400, 400) if start.year > 1926 or k >= 0)
    days.update(D(1926, 12, 25) + datetime.timedelta(days=k) for k in range(0, 40_000, 37))
    return sorted(days)


def test_date_round_trips_across_era_boundaries():
    days = _days_around_era_starts()
    assert days[0] == D(1926, 12, 25) and days[-1] > D(2030, 1, 1)
    for d in days:
        assert parse_date(format_date(d)) == d, d
        assert parse_date(format_date(d, era=False)) == d, d
        assert parse_date(d.isoformat()) == d, d
        assert parse_date(d.strftime("%Y/%m/%d")) == d, d


def test_era_year_is_counted_from_era_start():
    # Year 1 of each era is the Gregorian year it started in; the previous era's last year overlaps it.
    for start, name in ERAS:
        assert format_date(start).startswith(f"{name}元年")
        end_of_year = D(start.year, 12, 31)
        assert format_date(end_of_year).startswith(f"{name}元年")
        assert format_date(D(start.year + 1, 1, 1)).startswith(f"{name}2年")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26", D(2026, 11, 26)),
        ("2026/11/26", D(2026, 11, 26)),
        ("2026年11月26日", D(2026, 11, 26)),
        ("令和8年11月26日", D(2026, 11, 26)),
        ("令和元年5月1日", D(2019, 5, 1)),
        ("令和1年5月1日", D(2019, 5, 1)),
        ("２０２６－１１－２６", D(2026, 11, 26)),
        ("令和８年１１月２６日", D(2026, 11, 26)),
        (" 2026-1-5 ", D(2026, 1, 5)),
        ("昭和64年1月7日", D(1989, 1, 7)),
    ],
)
def test_parse_date_accepts(text, expected):
    assert parse_date(text) == expected


def test_parse_date_passes_dates_through():
    assert parse_date(D(2026, 11, 26)) == D(2026, 11, 26)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "not a date"),
        ("tomorrow", "not a date"),
        ("26/11/2026", "not a date"),
        ("2026-11-26T10:00", "not a date"),
        ("明治45年1月1日", "not a date"),
        ("R8.11.26", "not a date"),
        ("2026-13-01", "no such date"),
        ("2026-02-29", "no such date"),
        ("令和8年2月30日", "no such date"),
        ("平成32年1月1日", "not in 平成"),
        ("令和元年4月30日", "not in 令和"),
        ("昭和元年12月24日", "not in 昭和"),
        ("平成0年1月1日", "not in 平成"),
        (datetime.datetime(2026, 11, 26, 10, 0), "time of day"),
        (20261126, "not a date"),
    ],
)
def test_parse_date_rejects(value, reason):
    with pytest.raises(InputError, match=reason) as info:
        parse_date(value, field="inception")
    _assert_names_field(info.value, "inception")
    assert "2026-11-26" in info.value.allowed and "令和8年11月26日" in info.value.allowed


def test_parse_date_wrong_era_suggests_the_right_one():
    with pytest.raises(InputError) as info:
        parse_date("平成32年1月1日")
    assert info.value.suggestion == "令和2年1月1日"
