"""Client input: names kept exactly or refused with a reason, CSV/xlsx lists read row by row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from generator.batch.clients import read_client_rows
from generator.content.request import MAX_NAME, check_name, parse_client
from generator.documents.fonts import missing_glyphs
from generator.errors import ClientListError, InputError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
SAMPLES = Path(__file__).resolve().parents[2] / "content" / "samples"
ROW = {"client": "有限会社 伸和企画", "contact": "上", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}


@pytest.mark.parametrize(
    "name",
    [
        "A&B <株> \"x\" 'y'",  # XML-special characters are escaped, never dropped
        "株式会社 髙﨑製作所",  # 旧字体 / IBM extension kanji
        "（株）ＡＢＣ＆Ｃｏ．①",  # full-width symbols
        "㈱テスト～〜￥",
        "あ" * MAX_NAME,
    ],
)
def test_printable_names_are_kept_exactly(name):
    assert check_name("client", name, required=True, missing_glyphs=missing_glyphs) == name


def test_surrounding_spaces_are_trimmed_inner_spaces_kept():
    assert check_name("client", " \u3000有限会社  伸和企画 ", required=True) == "有限会社  伸和企画"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("伸和\x07企画", "control character U+0007 at position 3"),
        ("伸和\n企画", "control character U+000A"),
        ("伸和\t企画", "control character U+0009"),
        ("伸和\u202e企画", "invisible format character U+202E"),
        ("伸和\ue000企画", "private-use character U+E000"),
        ("伸和企画😀", "cannot print: 😀 (U+1F600)"),
        ("あ" * (MAX_NAME + 1), f"is {MAX_NAME + 1} characters long; at most {MAX_NAME}"),
    ],
)
def test_unprintable_names_are_refused_with_a_reason(name, reason):
    with pytest.raises(InputError) as err:
        check_name("client", name, required=True, missing_glyphs=missing_glyphs)
    assert reason in str(err.value) and err.value.field == "client"


def test_parse_client_collects_every_problem_of_a_row():
    request, errors = parse_client(ROW | {"revenue": "たくさん", "limit": "", "client": "x\x00"}, row=7)
    assert request is None
    assert sorted(e.column for e in errors) == ["client", "limit", "revenue"]
    assert all(e.row == 7 for e in errors)
    assert "allowed:" in next(e for e in errors if e.column == "revenue").reason


def test_parse_client_values_and_addressee():
    request, errors = parse_client(ROW | {"date": "令和8年11月26日"})
    assert errors == [] and request.revenue == 450_000_000 and request.limit == 100_000_000
    assert request.date == dt.date(2026, 11, 26)
    assert request.addressee == "有限会社 伸和企画 上 様"
    assert parse_client(ROW | {"contact": " "})[0].addressee == "有限会社 伸和企画 御中"


def test_sample_csv_and_xlsx_agree():
    csv_rows = [parse_client(v, row=n)[0] for n, v in read_client_rows(SAMPLES / "clients.csv")]
    xlsx_rows = [parse_client(v, row=n)[0] for n, v in read_client_rows(SAMPLES / "clients.xlsx")]
    assert len(csv_rows) == 5 and csv_rows == xlsx_rows


def test_bad_row_in_the_middle_is_reported_and_the_rest_read():
    rows = list(read_client_rows(FIXTURES / "bad.revenue-not-a-number.csv"))
    parsed = [(n, *parse_client(v, row=n)) for n, v in rows]
    assert [n for n, req, _ in parsed if req] == [2, 4]
    (bad,) = [errs for _, req, errs in parsed if req is None]
    assert (bad[0].row, bad[0].column, bad[0].value) == (3, "revenue", "たくさん")


@pytest.mark.parametrize(
    ("fixture", "needle"),
    [
        ("bad.unknown-column.csv", "unknown column '業界' (did you mean '業種'?)"),
        ("bad.missing-column.csv", "missing required column(s): industry"),
    ],
)
def test_unreadable_lists_name_the_column(fixture, needle):
    with pytest.raises(ClientListError) as err:
        list(read_client_rows(FIXTURES / fixture))
    assert needle in str(err.value)


def test_encodings_and_english_headers():
    (_, values), = read_client_rows(FIXTURES / "ok.utf8-bom-english-headers.csv")
    assert values["client"] == "A&B <株> \"x\" 'y'" and values["industry"] == "D03"
    (_, values), = read_client_rows(FIXTURES / "ok.shift-jis.csv")
    assert values["client"] == "株式会社 髙橋製作所"


def test_xlsx_numbers_stay_exact_and_dates_are_dates(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["会社名", "業種", "売上高", "賠償保険金額", "日付"])
    ws.append(["株式会社 大数", "製造業", 9_999_999_999, 300_000_000, dt.date(2019, 5, 1)])
    ws.append([None, None, None, None, None])  # empty rows are skipped
    ws.append(["株式会社 文字", "製造業", "4億5000万", "1億", "令和元年5月1日"])
    wb.save(tmp_path / "list.xlsx")
    rows = [(n, parse_client(v, row=n)[0]) for n, v in read_client_rows(tmp_path / "list.xlsx")]
    assert [n for n, _ in rows] == [2, 4]
    assert rows[0][1].revenue == 9_999_999_999 and rows[0][1].date == dt.date(2019, 5, 1)
    assert rows[1][1].revenue == 450_000_000 and rows[1][1].date == dt.date(2019, 5, 1)


@pytest.mark.parametrize(("name", "content"), [("list.txt", b"x"), ("list.xlsx", b"not a zip"), ("empty.csv", b"")])
def test_unreadable_files(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ClientListError):
        list(read_client_rows(tmp_path / name))
