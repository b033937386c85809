"""Tests for generator.jpformat: exact yen and 和暦 formatting, strict parsing.

Two kinds of test. Examples: every unit and era boundary written out by hand from first principles (万 = 10^4,
億 = 10^8, 兆 = 10^12; 昭和 began 1926-12-25, 平成 1989-01-08, 令和 2019-05-01) or read from the seed brochure.
Properties (hypothesis, deterministic profile in tests/conftest.py): the same rules checked over many generated
amounts and dates, each with the boundaries pinned as ``@example`` so a shrunk-away boundary can never go untested.
No expected value is computed with generator.jpformat itself.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from generator.errors import AmountError, InputError
from generator.jpformat import as_yen, band_label, format_date, format_yen, format_yen_units, parse_date, parse_yen
from tests.seed import seed_damages, seed_limit_labels, seed_limits, seed_printed_tables, seed_tables

MAN, OKU, CHO = 10**4, 10**8, 10**12
UNIT = {"兆": CHO, "億": OKU, "万": MAN, "": 1}
D = datetime.date

# --- first principles the expectations are built from --------------------------------------------------------

# The era table as the Imperial calendar defines it (not generator.jpformat.ERAS): name, first day.
ERA_STARTS = (("昭和", D(1926, 12, 25)), ("平成", D(1989, 1, 8)), ("令和", D(2019, 5, 1)))
FULL_WIDTH = str.maketrans("0123456789,.-/", "０１２３４５６７８９，．－／")


def wareki(d: datetime.date) -> str:
    """和暦 the textbook way: the era whose first day is the latest not after ``d``; its first year is 元年."""
    name, start = [(n, s) for n, s in ERA_STARTS if s <= d][-1]
    year = d.year - start.year + 1
    return f"{name}{'元' if year == 1 else year}年{d.month}月{d.day}日"


def grouped(n: int) -> str:
    """Digits in groups of three: Python's own format spec, an implementation independent of Babel."""
    return f"{n:,}"


def full_width(text: str) -> str:
    return text.translate(FULL_WIDTH)


# --- strategies --------------------------------------------------------------------------------------------


def _near(size: int, k: int, delta: int) -> int:
    return max(0, k * size + delta)


# Where formatting can go wrong: a unit appearing or vanishing, a coefficient reaching 10,000 and carrying over.
NEAR_UNIT_BOUNDARY = st.builds(
    _near,
    st.sampled_from([1, MAN, OKU, CHO, 10**16]),
    st.sampled_from([1, 2, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 10_001]) | st.integers(1, 10**5),
    st.sampled_from([-MAN, -1, 0, 1, MAN - 1, MAN, MAN + 1]) | st.integers(-MAN, MAN),
)
AMOUNTS = st.one_of(NEAR_UNIT_BOUNDARY, st.integers(0, 10**13), st.integers(0, 10**40))
# Every boundary of the brief and of the unit system, pinned so each runs on every run, whatever is generated.
BOUNDARIES = (0, 1, 9_999, 10_000, 10_001, 99_999_999, 100_000_000, 100_000_001, 100_010_000, 10**12 - 1, 10**12, 10**16 - 1, 10**16, 10**30 + 7)


def pin_boundaries(test):
    for n in BOUNDARIES:
        test = example(n)(test)
    return test


DATES = st.dates(min_value=D(1926, 12, 25), max_value=D(2200, 12, 31))
ERA_EDGES = [start + datetime.timedelta(days=k) for _, start in ERA_STARTS for k in (-1, 0, 1) if start + datetime.timedelta(days=k) >= D(1926, 12, 25)]
YEAR_EDGES = [D(y, m, d) for y in (1926, 1927, 1988, 1989, 1990, 2018, 2019, 2020) for m, d in ((1, 1), (12, 31)) if D(y, m, d) >= D(1926, 12, 25)]


def pin_dates(test):
    for d in [*ERA_EDGES, *YEAR_EDGES, D(2024, 2, 29), D(2026, 11, 26)]:
        test = example(d)(test)
    return test


def _assert_names_field(exc: InputError, field: str) -> None:
    assert exc.field == field
    assert str(exc).startswith(f"{field}: ")


# --- format_yen --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, "0円"),
        (999, "999円"),
        (1000, "1,000円"),
        (9_999, "9,999円"),
        (10_000, "10,000円"),
        (55_000, "55,000円"),
        (1_272_000, "1,272,000円"),
        (99_999_999, "99,999,999円"),
        (100_000_000, "100,000,000円"),
        (-55_000, "-55,000円"),
        (Decimal("1000"), "1,000円"),
        (Decimal("1E+3"), "1,000円"),
    ],
)
def test_format_yen_examples(amount, expected):
    assert format_yen(amount) == expected


def test_format_yen_prints_every_seed_premium_as_the_seed_does():
    printed = seed_printed_tables()
    for code, rows in seed_tables().items():
        for (_, _, premiums), (_, cells) in zip(rows, printed[code], strict=True):
            assert [format_yen(p) for p in premiums] == cells, code


@given(AMOUNTS)
@pin_boundaries
def test_format_yen_is_exact_and_grouped_in_threes(n):
    assert format_yen(n) == grouped(n) + "円"
    assert format_yen(-n) == ("-" if n else "") + grouped(n) + "円"
    assert format_yen(Decimal(n)) == format_yen(n)


def test_format_yen_beyond_default_decimal_precision_is_exact():
    # 31 digits: more than Decimal's default 28-digit context that Babel formats in.
    n = 10**30 + 7
    assert format_yen(n) == "1,000,000,000,000,000,000,000,000,000,007円"
    assert format_yen_units(n) == "1,000,000,000,000,000,000兆7円"
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


# --- format_yen_units --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, "0円"),
        (1, "1円"),
        (5_000, "5,000円"),
        (9_999, "9,999円"),
        (10_000, "1万円"),  # 万 appears
        (10_001, "1万1円"),
        (300_000, "30万円"),
        (10_000_000, "1,000万円"),
        (99_999_999, "9,999万9,999円"),  # the largest amount below 1億
        (100_000_000, "1億円"),  # 億 appears; 万 vanishes
        (100_000_001, "1億1円"),
        (100_005_000, "1億5,000円"),  # no "0万" between
        (100_010_000, "1億1万円"),
        (123_456_789, "1億2,345万6,789円"),
        (150_000_000, "1億5,000万円"),
        (10_000_000_000, "100億円"),  # the top of the highest revenue band
        (999_999_999_999, "9,999億9,999万9,999円"),
        (1_000_000_000_000, "1兆円"),
        (1_000_000_000_001, "1兆1円"),
        (10**16 - 1, "9,999兆9,999億9,999万9,999円"),
        (10**16, "10,000兆円"),  # no 京: the largest unit carries on
        (-150_000_000, "-1億5,000万円"),
    ],
)
def test_format_yen_units_examples(amount, expected):
    assert format_yen_units(amount) == expected


def test_format_yen_units_prints_the_seed_limits_and_damages_as_the_seed_does():
    assert [format_yen_units(x) for x in seed_limits()] == seed_limit_labels()
    # The seed prints 約1,000万円: the amounts of the examples are whole 万, read here from the printed text.
    for _, printed in seed_damages():
        amount = int(printed.removeprefix("約").removesuffix("万円").replace(",", "")) * MAN
        assert "約" + format_yen_units(amount) == printed


@given(AMOUNTS)
@pin_boundaries
def test_format_yen_units_reads_back_by_its_parts(n):
    text = format_yen_units(n)
    # Read independently: coefficient x unit, largest unit first, each unit once, every lower coefficient 1..9,999.
    parts = re.findall(r"([0-9,]+)([兆億万]?)", text.removesuffix("円"))
    assert "".join(c + u for c, u in parts) + "円" == text
    assert all(c == grouped(int(c.replace(",", ""))) for c, _ in parts)  # each coefficient grouped in threes
    coefficients = [int(c.replace(",", "")) for c, _ in parts]
    sizes = [UNIT[u] for _, u in parts]
    assert sum(c * s for c, s in zip(coefficients, sizes, strict=True)) == n
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    assert all(0 < c < MAN for c in coefficients[1:])
    assert n == 0 or coefficients[0] > 0
    assert (n < CHO) == ("兆" not in text) and (n < OKU) == ("億" not in text and "兆" not in text)
    assert format_yen_units(-n) == ("-" if n else "") + text


# --- parse_yen ---------------------------------------------------------------------------------------------


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
        ("０円", 0),
        ("9999", 9_999),
        ("9,999円", 9_999),
        ("1万", 10_000),
        ("10000", 10_000),
        ("9999万9999円", 99_999_999),
        ("９，９９９万９，９９９円", 99_999_999),
        ("99,999,999", 99_999_999),
        ("1億", 100_000_000),
        ("10000万", 100_000_000),  # a leading coefficient may reach 10,000; only later ones may not
        ("100,000,000円", 100_000_000),
        ("1億2,345万6,789円", 123_456_789),
        ("1億5,000円", 100_005_000),
        ("0.00001億", 1_000),
        ("1.2345万", 12_345),
    ],
)
def test_parse_yen_accepts(text, expected):
    assert parse_yen(text) == expected


def test_parse_yen_reads_the_seed_limits():
    assert [parse_yen(label) for label in seed_limit_labels()] == seed_limits()


def test_parse_yen_returns_int_input_unchanged():
    assert parse_yen(450_000_000) == 450_000_000
    assert type(parse_yen(7)) is int


@given(AMOUNTS)
@pin_boundaries
def test_parse_yen_reads_every_printed_form_back(n):
    for text in (str(n), grouped(n), format_yen(n), format_yen_units(n)):
        assert parse_yen(text) == n, text
        assert parse_yen(full_width(text)) == n, text  # full-width digits, commas and points
        assert parse_yen(f"¥{text}") == n and parse_yen(f"\u3000{text} ") == n, text


@given(st.integers(0, 10**5), st.integers(0, OKU - 1), st.sampled_from(["億", "万", "兆"]))
@example(4, 50_000_000, "億")  # 4.5億
@example(0, 1_000, "億")  # 0.00001億
@example(1, 2_345, "万")  # 1.2345万
def test_parse_yen_decimal_before_a_unit_is_exact(whole, fraction, unit):
    size = UNIT[unit]
    digits = len(str(size)) - 1  # 8 decimals for 億, 4 for 万, 12 for 兆
    fraction %= size
    text = f"{whole}.{fraction:0{digits}d}".rstrip("0").rstrip(".") + unit
    assert parse_yen(text) == whole * size + fraction
    assert parse_yen(full_width(text) + "円") == whole * size + fraction


@given(st.integers(1, 9_999), st.integers(MAN, 10**6))
@example(1, MAN)
def test_parse_yen_refuses_a_later_coefficient_of_10000_or_more(oku, man):
    with pytest.raises(AmountError, match="below 10,000"):
        parse_yen(f"{oku}億{man}万", field="limit")


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
        ("1億10000万", "below 10,000"),
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


# --- band_label --------------------------------------------------------------------------------------------


def test_band_label_prints_the_seed_bands():
    printed = seed_printed_tables()
    for code, rows in seed_tables().items():
        assert [band_label(over, up_to) for over, up_to, _ in rows] == [label for label, _ in printed[code]], code


@pytest.mark.parametrize(
    ("over", "up_to", "expected"),
    [
        (0, 500_000_000, "5億円以下"),
        (500_000_000, 1_000_000_000, "5億円超10億円以下"),
        (10_000_000, 150_000_000, "1,000万円超1億5,000万円以下"),
        (0, 1, "1円以下"),
        (99_999_999, 100_000_000, "9,999万9,999円超1億円以下"),
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


# --- dates -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (D(2026, 11, 26), "令和8年11月26日"),
        (D(2019, 5, 1), "令和元年5月1日"),
        (D(2019, 4, 30), "平成31年4月30日"),
        (D(2019, 12, 31), "令和元年12月31日"),
        (D(1989, 1, 8), "平成元年1月8日"),
        (D(1989, 1, 7), "昭和64年1月7日"),
        (D(1989, 12, 31), "平成元年12月31日"),
        (D(1926, 12, 25), "昭和元年12月25日"),
        (D(1926, 12, 31), "昭和元年12月31日"),
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


@given(DATES)
@pin_dates
def test_format_date_is_the_textbook_wareki(d):
    assert format_date(d) == wareki(d)
    assert format_date(d, era=False) == f"{d.year}年{d.month}月{d.day}日"


@given(DATES)
@pin_dates
def test_every_printed_date_form_parses_back(d):
    forms = [format_date(d), format_date(d, era=False), d.isoformat(), f"{d.year}/{d.month:02d}/{d.day:02d}", f"{d.year}-{d.month}-{d.day}"]
    for text in forms:
        assert parse_date(text) == d, text
        assert parse_date(full_width(text)) == d, text
        assert parse_date(f" {text}\u3000") == d, text


def pin_dates_in_every_era(test):
    for d in ERA_EDGES:
        for era in ERA_STARTS:
            test = example(d, era)(test)
    return test


@given(DATES, st.sampled_from(ERA_STARTS))
@pin_dates_in_every_era
@example(D(2019, 5, 1), ERA_STARTS[1])  # 平成31年5月1日 does not exist: that day is 令和元年
@example(D(2019, 4, 30), ERA_STARTS[2])  # 令和元年4月30日 neither
@example(D(1989, 1, 8), ERA_STARTS[0])  # 昭和64年1月8日 neither
@example(D(1989, 1, 7), ERA_STARTS[1])  # nor 平成元年1月7日
def test_a_date_written_in_an_era_parses_only_inside_that_era(d, era):
    name, start = era
    end = next((s for _, s in ERA_STARTS if s > start), None)
    year = d.year - start.year + 1
    assume(year >= 1)  # "平成-30年" is not a way anyone writes a date
    text = f"{name}{year}年{d.month}月{d.day}日"
    if start <= d and (end is None or d < end):
        assert parse_date(text) == d
    else:
        with pytest.raises(InputError, match=f"not in {name}") as info:
            parse_date(text, field="inception")
        _assert_names_field(info.value, "inception")
        assert info.value.suggestion == wareki(d)  # names the era the day really belongs to


def test_example_pins_cover_each_era_edge():
    assert {d.isoformat() for d in ERA_EDGES} >= {"1926-12-25", "1989-01-07", "1989-01-08", "2019-04-30", "2019-05-01"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26", D(2026, 11, 26)),
        ("2026/11/26", D(2026, 11, 26)),
        ("2026年11月26日", D(2026, 11, 26)),
        ("令和8年11月26日", D(2026, 11, 26)),
        ("令和元年5月1日", D(2019, 5, 1)),
        ("令和1年5月1日", D(2019, 5, 1)),
        ("平成31年4月30日", D(2019, 4, 30)),
        ("平成元年1月8日", D(1989, 1, 8)),
        ("２０２６－１１－２６", D(2026, 11, 26)),
        ("令和８年１１月２６日", D(2026, 11, 26)),
        (" 2026-1-5 ", D(2026, 1, 5)),
        ("昭和64年1月7日", D(1989, 1, 7)),
        ("昭和元年12月25日", D(1926, 12, 25)),
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
        ("平成31年5月1日", "not in 平成"),
        ("令和元年4月30日", "not in 令和"),
        ("昭和64年1月8日", "not in 昭和"),
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
