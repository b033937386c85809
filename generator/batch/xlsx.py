"""Excel client lists: the first worksheet streamed with openpyxl, cell by cell, never trusting what the file claims."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser  # the streaming parser read-only mode uses

from generator.batch.clients import MAX_COLUMNS, MAX_ROWS
from generator.errors import ClientListError
from generator.i18n import N_

EXCEL_ROWS = 1_048_576  # Excel's own sheet limit: a row number past it is a damaged or hostile file


class _CellParser(WorkSheetParser):
    """openpyxl's streaming sheet parser, telling a formula with no saved value from an empty cell."""

    def parse_cell(self, element):  # noqa: ANN001 - openpyxl's signature
        cell = super().parse_cell(element)
        if cell["value"] is None and element.find(FORMULA_TAG) is not None:
            cell["data_type"] = "formula"
        return cell


NOT_XLSX = N_("not a readable .xlsx workbook ({detail}); open it in Excel and save it as .xlsx")


def xlsx_rows(path: Path, max_rows: int = MAX_ROWS) -> Iterator[tuple[int, list[object]]]:
    """Rows of the first worksheet as cell values (str, int, float, date, bool), streamed with openpyxl.

    The sheet's claimed dimension is ignored (a tiny file can claim a huge sheet): only cells present are read,
    and a cell reference past Excel's own limits is refused.
    """
    with path.open("rb") as fh:  # ours to close, also when openpyxl gives up halfway through opening it
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # zipfile, XML and openpyxl errors of many types on a damaged or fake file
            raise ClientListError(path, NOT_XLSX, {"detail": _describe(exc)}) from None
        try:
            yield from _sheet_rows(path, wb, max_rows)
        finally:
            wb.close()


def _sheet_rows(path: Path, wb: openpyxl.Workbook, max_rows: int = MAX_ROWS) -> Iterator[tuple[int, list[object]]]:
    ws = wb.worksheets[0] if wb.worksheets else None
    if ws is None or not hasattr(ws, "_get_source"):
        raise ClientListError(path, N_("the workbook has no worksheet"))
    scanned = 0
    try:
        with ws._get_source() as src:
            parser = _CellParser(src, ws._shared_strings, data_only=True, epoch=wb.epoch,
                                 date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
            for number, cells in parser.parse():
                scanned += 1
                if number > EXCEL_ROWS or scanned > 5 * max_rows:
                    raise ClientListError(path, N_("row {row}: the sheet is larger than any client list ({scanned:,} rows read); "
                                                             "keep at most {limit:,} rows"), {"row": number, "scanned": scanned, "limit": max_rows})
                yield number, _row_values(path, cells)
    except ClientListError:
        raise
    except Exception as exc:
        raise ClientListError(path, NOT_XLSX, {"detail": _describe(exc)}) from None


def _row_values(path: Path, cells: list[dict]) -> list[object]:
    values: list[object] = []
    for cell in cells:
        column = cell["column"]
        if column > MAX_COLUMNS:  # no client list is this wide; what is past it is not read
            continue
        where = f"{get_column_letter(column)}{cell['row']}"
        if cell["data_type"] == "formula":
            raise ClientListError(path, N_("cell {cell} holds a formula with no saved value (the file was written by a program, "
                                             "not Excel); open and save the file in Excel, or paste the values"), {"cell": where})
        if cell["data_type"] == "e":
            raise ClientListError(path, N_("cell {cell} shows the Excel error {error}; fix it or paste values"), {"cell": where, "error": cell["value"]})
        values.extend([None] * (column - 1 - len(values)))
        values.append(cell["value"])
    return values


def _describe(exc: Exception) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "not a zip package: perhaps a CSV or another file renamed to .xlsx"
    if isinstance(exc, IndexError):
        return f"a cell refers to a shared string that does not exist ({exc})"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
