"""The rating engine against the seed's 75 premium cells, band edges, refusals and referrals."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.content.load import load_product
from generator.errors import InputError, QuoteRefused, ReferralRequired
from generator.rating.rate import find_band, quote
from tests.seed import seed_class_industries, seed_limits, seed_tables

SEED_TABLES = seed_tables()
SEED_LIMITS = seed_limits()
INDUSTRIES = seed_class_industries()


@pytest.fixture(scope="module")
def product():
    return load_product(Path(__file__).resolve().parents[2] / "content" / "cyber_lite")


CELLS = [
    (code, band, li, over, up_to, premium)
    for code, rows in SEED_TABLES.items()
    for band, (over, up_to, premiums) in enumerate(rows)
    for li, premium in enumerate(premiums)
]


def test_seed_has_75_cells():
    assert len(CELLS) == 75


@pytest.mark.parametrize(("code", "band", "li", "over", "up_to", "premium"), CELLS)
def test_every_premium_cell_matches_seed(product, code, band, li, over, up_to, premium):
    limit = SEED_LIMITS[li]
    # both edges of the band: just above its lower bound, and exactly its upper bound
    for revenue in (over + 1, up_to):
        for industry in INDUSTRIES[code]:
            q = quote(product, industry, revenue, limit)
            assert (q.class_code, q.premium) == (code, premium), (industry, revenue, limit)
        assert quote(product, code, revenue, limit).premium == premium


def test_quote_fields(product):
    q = quote(product, "製造業", 450_000_000, 100_000_000)
    assert q.premium == 149_000
    assert q.class_code == "D01" and q.band_label == "5億円以下"
    assert q.expense_limit == 10_000_000  # 賠償部分の限度額×10%
    assert q.ladder == tuple(zip(SEED_LIMITS, SEED_TABLES["D01"][0][2], strict=True))
    assert "保険料払込方法：一括払" in q.premises
    assert q.as_dict()["premium"] == 149_000 and isinstance(q.as_dict()["premium"], int)


@pytest.mark.parametrize(
    ("revenue", "band_label"),
    [
        (1, "5億円以下"),
        (500_000_000, "5億円以下"),  # exactly 5億円 is in the first band
        (500_000_001, "5億円超10億円以下"),
        (1_000_000_000, "5億円超10億円以下"),
        (1_000_000_001, "10億円超30億円以下"),
        (3_000_000_000, "10億円超30億円以下"),
        (3_000_000_001, "30億円超50億円以下"),
        (5_000_000_000, "30億円超50億円以下"),
        (5_000_000_001, "50億円超100億円以下"),
        (10_000_000_000, "50億円超100億円以下"),
    ],
)
def test_band_edges(product, revenue, band_label):
    assert quote(product, "D03", revenue, 10_000_000).band_label == band_label


def test_find_band_outside(product):
    assert find_band(product.rates.bands, 0) is None
    assert find_band(product.rates.bands, 10_000_000_001) is None


@pytest.mark.parametrize("revenue", [0, 10_000_000_001, 20_000_000_000])
def test_revenue_out_of_range_refused(product, revenue):
    with pytest.raises(QuoteRefused) as err:
        quote(product, "製造業", revenue, 10_000_000)
    assert err.value.field == "revenue"


@pytest.mark.parametrize("industry", ["金融", "航空", "鉄道", "電力", "ガス", "水道", "政府・行政サービス", "医療機関", "IT業", "ＩＴ業"])
def test_excluded_industries_refused_with_reason(product, industry):
    with pytest.raises(QuoteRefused) as err:
        quote(product, industry, 100_000_000, 10_000_000)
    assert "除きます" in err.value.reason


def test_unknown_industry_lists_accepted_and_suggests(product):
    with pytest.raises(InputError) as err:
        quote(product, "製造", 100_000_000, 10_000_000)
    assert err.value.suggestion == "製造業"
    assert "D01" in err.value.allowed and "新聞" in err.value.allowed


def test_full_width_and_spaces_in_industry(product):
    assert quote(product, " ｄ０２ ".upper(), 100_000_000, 10_000_000).class_code == "D02"


@pytest.mark.parametrize("limit", [20_000_000, 150_000_000, 250_000_000])
def test_unpublished_limit_is_referral(product, limit):
    with pytest.raises(ReferralRequired) as err:
        quote(product, "製造業", 100_000_000, limit)
    assert err.value.field == "limit"


def test_limit_over_product_maximum_refused(product):
    with pytest.raises(QuoteRefused):
        quote(product, "製造業", 100_000_000, 500_000_000)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"deductible": 300_000}, "deductible"),
        ({"options": ("利益損害",)}, "option"),
        ({"options": ("営業継続費用",)}, "option"),
        ({"payment": "月払"}, "payment"),
    ],
)
def test_unpriced_conditions_are_referrals(product, kwargs, field):
    with pytest.raises(ReferralRequired) as err:
        quote(product, "製造業", 100_000_000, 10_000_000, **kwargs)
    assert err.value.field == field


def test_industries_across_classes_referral(product):
    with pytest.raises(ReferralRequired):
        quote(product, "製造業,物流業", 100_000_000, 10_000_000)
    assert quote(product, "製造業、小売業", 100_000_000, 10_000_000).class_code == "D01"


def test_unknown_option_is_input_error(product):
    with pytest.raises(InputError) as err:
        quote(product, "製造業", 100_000_000, 10_000_000, options=("利益損失",))
    assert err.value.suggestion == "利益損害"
