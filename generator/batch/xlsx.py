"""Excel client lists: the first worksheet streamed with openpyxl, cell by cell, never trusting what the file claims."""

from __future__ import annotations

import zipfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser  # the streaming parser read-only mode uses

from generator.batch.limits import MAX_COLUMNS, MAX_ROWS
from generator.errors import ClientListError
from generator.i18n import N_

EXCEL_ROWS = 1_048_576  # Excel's own sheet limit: a row number past it is a damaged or hostile file
# A 10,000-row list as Excel or openpyxl saves it is a 5-7 MB sheet (~700 bytes a row, 8 columns); anything past these
# bounds is refused before openpyxl parses a byte (parsing costs ~0.4 s and ~6 MB of memory per unpacked MB).
MAX_PART = 12 * 1024 * 1024  # unpacked bytes of one part (zip member)
MAX_UNPACKED = 20 * 1024 * 1024  # unpacked bytes of all parts together
MAX_RATIO = 100  # unpacked / packed for a part over 1 MB: spreadsheet XML packs 5-20x, a zip bomb thousands of times
MAX_PARTS = 1_000
_MB = 1024 * 1024


class _CellParser(WorkSheetParser):  # type: ignore[misc]  # openpyxl has no annotations: the class is Any to mypy
    """openpyxl's streaming sheet parser, telling a formula with no saved value from an empty cell."""

    def parse_cell(self, element: Any) -> dict[str, Any]:  # an lxml element; the cell as openpyxl's parser describes it
        cell: dict[str, Any] = super().parse_cell(element)
        if cell["value"] is None and element.find(FORMULA_TAG) is not None:
            cell["data_type"] = "formula"
        return cell


NOT_XLSX = N_("not a readable .xlsx workbook ({detail}); open it in Excel and save it as .xlsx")


def xlsx_rows(path: Path, max_rows: int = MAX_ROWS, *, name: str | None = None) -> Generator[tuple[int, list[object]], None, None]:
    """Rows of the first worksheet as cell values (str, int, float, date, bool), streamed with openpyxl.

    The sheet's claimed dimension is ignored (a tiny file can claim a huge sheet): only cells present are read,
    and a cell reference past Excel's own limits is refused. Every part's unpacked size is bounded first
    (:func:`check_parts`). Messages name the file ``name`` (default: ``path``).
    """
    shown = name if name is not None else str(path)
    with path.open("rb") as fh:  # ours to close, also when openpyxl gives up halfway through opening it
        check_parts(fh, shown)
        fh.seek(0)
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # zipfile, XML and openpyxl errors of many types on a damaged or fake file
            raise ClientListError(shown, NOT_XLSX, {"detail": _describe(exc)}) from None
        try:
            yield from _sheet_rows(shown, wb, max_rows)
        finally:
            wb.close()


def _sheet_rows(path: str, wb: openpyxl.Workbook, max_rows: int = MAX_ROWS) -> Iterator[tuple[int, list[object]]]:
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


def _row_values(path: str, cells: list[dict[str, Any]]) -> list[object]:
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


def check_parts(fh: BinaryIO, shown: str) -> None:
    """ClientListError unless every part of the package unpacks within the bounds above.

    The zip directory's declared sizes are checked first (no inflating at all); then each part is inflated in 1 MB
    steps, counting, and given up on as soon as it passes a bound, since a declared size can lie.
    """
    try:
        package = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ClientListError(shown, NOT_XLSX, {"detail": _describe(exc)}) from None
    with package:
        parts = package.infolist()
        if len(parts) > MAX_PARTS:
            # the bounds' sentences are Japanese on every face (as written for the portal); no msgid to translate
            raise ClientListError(shown, ".xlsx の中のファイルが {count:,} 個あり、多すぎます（{limit:,} 個まで）。Excel で開いて保存し直してください",
                                  {"count": len(parts), "limit": MAX_PARTS})
        for part in parts:
            _check_size(shown, part, part.file_size)
        if sum(p.file_size for p in parts) > MAX_UNPACKED:
            raise ClientListError(shown, *_too_big("全体", MAX_UNPACKED))
        total = 0
        for part in parts:
            size = 0
            try:
                with package.open(part) as member:
                    while block := member.read(_MB):
                        size += len(block)
                        total += len(block)
                        _check_size(shown, part, size)
                        if total > MAX_UNPACKED:
                            raise ClientListError(shown, *_too_big("全体", MAX_UNPACKED))
            except ClientListError:
                raise
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, RuntimeError) as exc:
                raise ClientListError(shown, NOT_XLSX, {"detail": _describe(exc)}) from None


def _check_size(shown: str, part: zipfile.ZipInfo, size: int) -> None:
    if size > MAX_PART:
        raise ClientListError(shown, *_too_big(part.filename[:80], MAX_PART))
    if size > _MB and size > MAX_RATIO * max(part.compress_size, 1):
        raise ClientListError(shown, ".xlsx の中の {member} が異常に高い圧縮率です（展開すると {ratio} 倍を超える）。"
                                     "Excel で開いて .xlsx として保存し直してください",
                              {"member": part.filename[:80], "ratio": MAX_RATIO})


def _too_big(what: str, limit: int) -> tuple[str, dict[str, object]]:
    """ClientListError's reason and data for a package (``全体``) or one part unpacking past ``limit`` bytes."""
    return (".xlsx の{what}を展開すると {mb} MB を超えます（顧客リストは {rows:,} 行まで。展開後 {mb} MB まで）。行を減らすか、ファイルを分けてください",
            {"what": what if what == "全体" else f"中の {what} ", "mb": limit // _MB, "rows": MAX_ROWS})


def _describe(exc: Exception) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "not a zip package: perhaps a CSV or another file renamed to .xlsx"
    if isinstance(exc, IndexError):
        return f"a cell refers to a shared string that does not exist ({exc})"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
