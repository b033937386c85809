"""Reports people open in Excel (errors.csv): written atomically, and safe against formula injection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from generator.documents.render import write_atomic

# OWASP "CSV Injection": a cell starting with one of these is read by Excel or LibreOffice as a formula
# (=HYPERLINK(...), +cmd|..., @SUM(...)); tab and CR are skipped by some importers, exposing what follows.
# The full-width forms are covered too: they are what Japanese input produces, and cost nothing to neutralise.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise(value: object) -> object:
    """A cell value that a spreadsheet shows as text: a leading single quote before a formula start.

    Numbers stay numbers (a row number is never a formula); text is prefixed only when it needs it.

    >>> neutralise("=HYPERLINK(\\"http://x\\",\\"y\\")"), neutralise("-5億"), neutralise("有限会社 伸和企画"), neutralise(7)
    ('\\'=HYPERLINK("http://x","y")', "'-5億", '有限会社 伸和企画', 7)
    >>> neutralise("\\t=1+1"), neutralise(None)
    ("'\\t=1+1", '')
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_report(header: Sequence[str], rows: Iterable[Sequence[object]], *, lineterminator: str = "\r\n") -> bytes:
    """A CSV for people to open in Excel: UTF-8 with BOM (Excel then reads it as UTF-8), every value neutralised.

    >>> csv_report(["row", "value"], [[3, "=1+1"]]).decode("utf-8-sig").splitlines()
    ['row,value', "3,'=1+1"]
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=lineterminator)
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([neutralise(v) for v in row] for row in rows)
    return buf.getvalue().encode("utf-8-sig")


def write_csv_report(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """:func:`csv_report` written to ``path`` atomically."""
    write_atomic(Path(path), csv_report(header, rows))
    return Path(path)
