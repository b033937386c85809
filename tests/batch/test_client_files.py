"""Client lists as real users make them: Excel's own .xlsx (furigana, 1904 dates, date-times), huge and broken files."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from pathlib import Path

import pytest

from generator.batch.clients import read_client_rows
from generator.batch.limits import MAX_ROWS
from generator.content.request import parse_client
from generator.errors import ClientListError
from tests.batch.xlsx_kit import row_xml, write_xlsx

HEADERS = ["会社名", "担当者", "業種", "売上高", "賠償保険金額", "日付"]
STRINGS = [*HEADERS, ("有限会社伸和企画", "ユウゲンガイシャシンワキカク"), ("上", "カミ"), ("製造業", "セイゾウギョウ"), "1億"]
HEADER_ROW = row_xml(1, [("s", i) for i in range(6)])


def client_row(n: int, date: object = None, client: object = ("s", 6)) -> str:
    return row_xml(n, [client, ("s", 7), ("s", 8), 450000000, ("s", 9), date])


def read(path: Path) -> list[tuple[int, dict[str, str]]]:
    return list(read_client_rows(path))


def test_furigana_stored_by_japanese_excel_never_reaches_the_name(tmp_path):
    path = write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, client_row(2)])
    ((row, values),) = read(path)
    # the text as typed; the IME reading (ユウゲンガイシャ…) Excel keeps beside it is not part of the name
    assert row == 2 and values["client"] == "有限会社伸和企画" and values["contact"] == "上" and values["industry"] == "製造業"
    request, errors = parse_client(values, row=row)
    assert errors == [] and request.revenue == 450_000_000 and request.limit == 100_000_000


@pytest.mark.parametrize(("date1904", "serial"), [(False, 46352), (True, 46352 - 1462)])
def test_date_cells_in_both_excel_date_systems(tmp_path, date1904, serial):
    # 2026-11-26 is day 46352 counted from 1899-12-30, and 1462 days fewer counted from 1904-01-01
    assert dt.date(1899, 12, 30) + dt.timedelta(days=46352) == dt.date(2026, 11, 26)
    assert dt.date(1904, 1, 1) + dt.timedelta(days=46352 - 1462) == dt.date(2026, 11, 26)
    path = write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, client_row(2, ("d", serial))], date1904=date1904)
    ((_, values),) = read(path)
    assert parse_client(values)[0].date == dt.date(2026, 11, 26)


def test_a_date_with_a_time_of_day_is_that_date(tmp_path):
    path = write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, client_row(2, ("dt", "46352.40625"))])  # 9:45
    ((_, values),) = read(path)
    assert parse_client(values)[0].date == dt.date(2026, 11, 26)


def test_row_numbers_are_the_sheets_own_even_with_gaps(tmp_path):
    path = write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, client_row(5), client_row(9, client=("str", "株式会社 次"))])
    assert [(n, v["client"]) for n, v in read(path)] == [(5, "有限会社伸和企画"), (9, "株式会社 次")]


def test_a_tiny_file_claiming_a_huge_sheet_reads_in_an_instant(tmp_path):
    far = '<row r="3"><c r="XFD3" t="s"><v>9</v></c></row>'  # one cell in Excel's last column
    path = write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, client_row(2), far], dimension="A1:XFD1048576")
    assert path.stat().st_size < 5000
    start = time.process_time()
    assert [n for n, _ in read(path)] == [2]
    assert time.process_time() - start < 5  # a reader trusting the dimension would pad 17 billion cells


def test_a_row_past_excels_last_row_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, client_row(2), client_row(1_048_577)])
    with pytest.raises(ClientListError, match=r"row 1048577: the sheet is larger than any client list"):
        read(path)


def _million(n: int = 1_000_000):
    yield HEADER_ROW
    yield client_row(2)
    # the rest: a one-cell row, repeated (no r= is valid OOXML: each row is the one after the last). A reader loading the
    # whole sheet would build a million rows of cells; a streaming one stops at the limit, so they need not differ.
    yield '<row><c t="s"><v>6</v></c></row>' * (n - 1)


def test_a_million_row_workbook_is_refused_in_bounded_memory(tmp_path):
    path = write_xlsx(tmp_path / "big.xlsx", STRINGS, _million(), dimension="A1:F1000001")
    tracemalloc.start()
    try:  # a lower limit than MAX_ROWS: the same code, fewer rows traced (the CSV test below keeps the default)
        # its ~32 MB sheet is past the unpacked bound (generator.batch.xlsx.MAX_PART): refused before a row is parsed
        with pytest.raises(ClientListError, match="big.xlsx: .xlsx の中の xl/worksheets/sheet1.xml を展開すると 12 MB を超えます"):
            for _ in read_client_rows(path, max_rows=1_000):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # streamed: the ~30 MB of sheet XML is never held at once, nor a million rows of cells


def test_a_million_row_csv_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("会社名,業種,売上高,賠償保険金額\n")
        fh.write("株式会社 甲,製造業,4.5億,1億\n" * 1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(ClientListError, match=f"more than {MAX_ROWS:,} client rows"):
            for _ in read_client_rows(path):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20 < path.stat().st_size


def test_formula_without_a_saved_value_says_to_open_and_save_in_excel(tmp_path):
    row = row_xml(2, [("s", 6), ("s", 7), ("s", 8), ("f", "4.5*10^8"), ("s", 9)])
    path = write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, row])
    with pytest.raises(ClientListError, match=r"cell D2 holds a formula with no saved value.*open and save the file in Excel"):
        read(path)


def test_formula_with_a_saved_value_reads_the_value(tmp_path):
    row = row_xml(2, [("s", 6), ("s", 7), ("s", 8), ("f", "4.5*10^8", "450000000"), ("s", 9)])
    ((_, values),) = read(write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, row]))
    assert values["revenue"] == "450000000"


def test_an_excel_error_cell_is_named(tmp_path):
    row = row_xml(2, [("s", 6), ("s", 7), ("s", 8), 1, ("s", 9)]).replace('<c r="D2"><v>1</v></c>', '<c r="D2" t="e"><v>#DIV/0!</v></c>')
    with pytest.raises(ClientListError, match=r"cell D2 shows the Excel error #DIV/0!"):
        read(write_xlsx(tmp_path / "list.xlsx", STRINGS, [HEADER_ROW, row]))


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: write_xlsx(p, STRINGS, [HEADER_ROW, client_row(2, client=("s", 99))]), "shared string that does not exist"),
        (lambda p: write_xlsx(p, STRINGS, [], sheet_override=b"<worksheet><sheetData><row r='1'><c r='A1'"), "not a readable .xlsx"),
        (lambda p: p.write_bytes("会社名,業種,売上高,賠償保険金額\nA,製造業,1億,1億\n".encode()), "perhaps a CSV or another file renamed to .xlsx"),
        (lambda p: p.write_bytes(b"PK\x03\x04 truncated"), "not a readable .xlsx"),
    ],
    ids=["bad-shared-string-index", "broken-sheet-xml", "csv-renamed-xlsx", "truncated-zip"],
)
def test_corrupt_workbooks_are_one_clear_error(tmp_path, make, needle):
    path = tmp_path / "list.xlsx"
    make(path)
    with pytest.raises(ClientListError) as err:
        read(path)
    assert needle in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('会社名,業種,売上高,賠償保険金額\nA,製造業,1億,1億\n"B,製造業,1億,1億\nC,製造業,1億,1億\n', 3),
        ('会社名,業種,売上高,賠償保険金額\n"A\nA",製造業,1億,1億\nB,製造業,"1億,1億\n', 4),  # a quoted newline is fine; line 4 is not
        ('会社名,業種,売上高,賠償保険金額\nA,製造業,"1"億,1億\n', 2),
    ],
)
def test_csv_quote_errors_say_which_line(tmp_path, text, line):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ClientListError, match=f"list.csv: line {line}: "):
        read(path)


def test_a_folder_given_as_the_list_is_a_clear_error(tmp_path):
    (tmp_path / "list.csv").mkdir()
    with pytest.raises(ClientListError, match="is a folder"):
        read(tmp_path / "list.csv")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("list.xlsx", "会社名,業種\nA,製造業\n".encode(), "perhaps a CSV or another file renamed to .xlsx"),
        ("list.csv", '会社名,業種,売上高,賠償保険金額\n"A,製造業,1億,1億\n'.encode(), "line 2: a quoted field opened on this line is never closed"),
    ],
)
def test_the_cli_exits_2_with_one_line_and_builds_nothing(tmp_path, capsys, name, content, needle):
    from generator.cli import main

    (tmp_path / name).write_bytes(content)
    assert main(["proposals", str(tmp_path / name), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("docgen proposals:")]  # besides the DRAFT notice
    assert needle in line and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
