"""errors.csv is safe to open in Excel: no cell an agent typed can start a formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from generator.batch.report import write_csv_report
from generator.batch.runner import write_errors
from generator.content.request import parse_client

# what OWASP lists as formula starts, and full-width forms Japanese input produces
DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "＝1+1", '=HYPERLINK("http://evil.invalid","請求書")',
             "=cmd|' /C calc'!A0"]
ROW = {"client": "有限会社 伸和企画", "contact": "上", "industry": "製造業", "revenue": "4.5億", "limit": "1億"}


def read_back(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def starts_formula(cell: str) -> bool:
    return cell[:1] in set("=+-@\t\r＝＋－＠")


@pytest.mark.parametrize("value", DANGEROUS)
def test_every_formula_start_is_neutralised_in_errors_csv(tmp_path, value):
    request, errors = parse_client(ROW | {"revenue": value, "contact": value}, row=5)
    assert request is None and {e.column for e in errors} >= {"revenue"}
    path = write_errors(tmp_path / "errors.csv", errors)
    rows = read_back(path)
    assert rows[0] == ["row", "column", "value", "reason"]
    cells = [c for row in rows for c in row]
    assert not any(starts_formula(c) for c in cells), cells
    revenue = next(r for r in rows[1:] if r[1] == "revenue")
    assert revenue[0] == "5" and revenue[2] == "'" + value  # still readable: the typed text after one quote


def test_plain_values_are_left_exactly_as_typed(tmp_path):
    _, errors = parse_client(ROW | {"revenue": "たくさん"}, row=3)
    (row,) = read_back(write_errors(tmp_path / "errors.csv", errors))[1:]
    assert row[:3] == ["3", "revenue", "たくさん"] and not row[3].startswith("'")


def test_a_reason_quoting_a_dangerous_value_is_neutralised_too(tmp_path):
    path = write_csv_report(tmp_path / "r.csv", ["a", "b"], [["-", "=x"], [None, 12], ["a=b", "@"]])
    assert read_back(path) == [["a", "b"], ["'-", "'=x"], ["", "12"], ["a=b", "'@"]]
    assert not list(tmp_path.glob(".*.part"))  # written through a temp file and a rename


def test_no_errors_means_no_errors_file(tmp_path):
    (tmp_path / "errors.csv").write_text("stale", encoding="utf-8")
    assert write_errors(tmp_path / "errors.csv", []) is None and not (tmp_path / "errors.csv").exists()


def test_the_portals_errors_download_is_neutralised_too():
    from generator.web.jobs import errors_csv

    data = errors_csv([{"row": 4, "column": "client", "value": "=HYPERLINK(\"http://evil.invalid\")", "reason": "-1 rows"}])
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert data.startswith(b"\xef\xbb\xbf") and rows[1] == ["4", "client", "'=HYPERLINK(\"http://evil.invalid\")", "'-1 rows"]
