"""The quote page: the ladder is the printed table's row, and refusals and referrals read as the CLI's in Japanese."""

from __future__ import annotations

import html
import re

import pytest

from generator.cli import main
from tests.seed import seed_class_industries, seed_limits, seed_tables


def ladder_cells(page: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-premium="(\d+)"', page)]


@pytest.mark.parametrize(("code", "band"), [("D01", 0), ("D02", 2), ("D03", 4)])
def test_ladder_is_the_brochure_row(portal, code: str, band: int) -> None:  # type: ignore[no-untyped-def]
    industry = seed_class_industries()[code][0]
    over, up_to, premiums = seed_tables()[code][band]
    client = portal.client("agent")
    for revenue in (over + 1, up_to):  # both ends of the band: over < revenue <= up_to
        page = client.get("/quote/ladder", params={"industry": industry, "revenue": str(revenue)})
        assert page.status_code == 200 and ladder_cells(page.text) == premiums, (industry, revenue)


def test_ladder_marks_the_chosen_limit_and_works_without_javascript(portal) -> None:  # type: ignore[no-untyped-def]
    page = portal.client("agent").get("/quote", params={"industry": "製造業", "revenue": "4.5億", "limit": str(seed_limits()[3])})
    assert page.status_code == 200
    selected = re.search(r'<tr class="selected">\s*<td>(.*?)</td>\s*<td class="num" data-premium="(\d+)"', page.text)
    assert selected and int(selected.group(2)) == seed_tables()["D01"][0][2][3]


def cli_message(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What ``docgen --lang ja quote ARGS`` prints on stderr, from the CLI's main in this process (tests/test_cli.py runs it in a shell)."""
    code = main(["--lang", "ja", "quote", *args])
    captured = capsys.readouterr()
    assert code in (2, 3, 4) and captured.out == "", (code, captured)
    return captured.err.strip().removeprefix("docgen quote: ")


# the field as the error names it (the CLI prints that) -> as the quote page labels it (templates/quote.html)
@pytest.mark.parametrize(("industry", "revenue", "limit", "word", "field", "label"), [
    ("製造業", "4.5億", "2億", "要見積", "limit", "賠償保険金額"),  # not a published limit
    ("金融", "4.5億", "1億", "引受不可", "industry", "業種"),  # excluded industry
    ("製造業", "200億", "1億", "引受不可", "revenue", "売上高"),  # revenue over the table
    ("金融業", "4.5億", "1億", "のことですか", "industry", "業種"),  # a typo: the suggestion too
])
def test_refusal_and_referral_read_as_the_cli(portal, capsys, industry: str, revenue: str, limit: str, word: str, field: str,  # type: ignore[no-untyped-def]
                                              label: str) -> None:
    expected = cli_message(capsys, "--industry", industry, "--revenue", revenue, "--limit", limit)
    assert word in expected and expected.count(field) == 1
    page = portal.client("agent").get("/quote/ladder", params={"industry": industry, "revenue": revenue, "limit": limit})
    shown = html.unescape(re.search(r'id="quote-message">(.*?)</p>', page.text, re.S).group(1))
    assert shown == expected.replace(field, label)
    assert f"<label>{label} <" in portal.client("agent").get("/quote").text  # the label the form prints


def test_htmx_request_without_login_is_told_where_to_go(portal) -> None:  # type: ignore[no-untyped-def]
    r = portal.client().get("/quote/ladder", params={"industry": "製造業", "revenue": "4.5億"}, headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["hx-redirect"].startswith("/login")
