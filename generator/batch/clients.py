"""Client lists: a CSV or Excel file streamed row by row as raw values per column (content.request checks each row)."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import unicodedata
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

from generator.batch.limits import MAX_COLUMNS, MAX_ROWS
from generator.content.load import did_you_mean
from generator.errors import ClientListError
from generator.i18n import N_

# column key -> accepted headers (compared after NFKC and lower-casing)
COLUMNS: dict[str, tuple[str, ...]] = {
    "client": ("client", "会社名", "顧客名", "お客様名", "契約者名", "法人名"),
    "contact": ("contact", "担当者", "ご担当者", "担当者名", "ご担当者名"),
    "industry": ("industry", "業種"),
    "revenue": ("revenue", "売上高", "年間売上高"),
    "limit": ("limit", "賠償保険金額", "支払限度額", "限度額"),
    "agent_name": ("agent_name", "代理店", "代理店名"),
    "agent_contact": ("agent_contact", "代理店連絡先"),
    "date": ("date", "日付", "作成日"),
    "start": ("start", "保険始期日", "始期日", "保険始期"),
    "renewal": ("renewal", "更新", "新規・更新", "契約区分"),
}
REQUIRED = ("client", "industry", "revenue", "limit")


# --- client lists ---------------------------------------------------------------------------


def _header_key(header: str) -> str:
    return unicodedata.normalize("NFKC", header).strip().lower()


def map_headers(headers: list[str], source: str) -> dict[int, str]:
    """Column index -> column key; ClientListError naming unknown or missing columns."""
    lookup = {_header_key(alias): key for key, aliases in COLUMNS.items() for alias in aliases}
    mapping: dict[int, str] = {}
    problems = []
    for i, header in enumerate(headers):
        if not header.strip():
            continue
        key = lookup.get(_header_key(header))
        if key is None:
            hint = did_you_mean(_header_key(header), lookup, cutoff=0.5)  # headers are 2-4 kanji: one differs
            problems.append((N_("unknown column {header!r} (did you mean {hint!r}?)"), {"header": header, "hint": hint}) if hint
                            else (N_("unknown column {header!r}"), {"header": header}))
        elif key in mapping.values():
            problems.append((N_("column {header!r} repeats {column}"), {"header": header, "column": key}))
        else:
            mapping[i] = key
    missing = [k for k in REQUIRED if k not in mapping.values()]
    if missing:
        problems.append((N_("missing required column(s): {columns}"),
                         {"columns": ", ".join(f"{k} ({'/'.join(COLUMNS[k][1:3])})" for k in missing)}))
    if problems:
        accepted = "; ".join(f"{k}: {', '.join(v)}" for k, v in COLUMNS.items())
        raise ClientListError(source, N_("{problems}. Accepted headers — {accepted}"), {"problems": problems, "accepted": accepted})
    return mapping


def read_client_rows(path: Path, max_rows: int = MAX_ROWS, *, name: str | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {column key: raw text}) for every non-empty row of a CSV or .xlsx.

    Both are streamed: memory stays flat however long the file; a list over ``max_rows`` rows is refused
    (a cluster run, generator.batch.distributed, allows longer lists). Messages name the file ``name`` (the portal: the
    name the agent uploaded it under, never the server's path), by default ``path``.
    """
    shown = name if name is not None else str(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ClientListError(shown, N_("is a folder; give the client list file (.csv or .xlsx)"))
    if not path.is_file():
        raise ClientListError(shown, N_("no such file"))
    rows: Generator[tuple[int, Sequence[object]], None, None]
    if suffix == ".csv":
        rows = _csv_rows(path, shown)
    elif suffix == ".xlsx":
        from generator.batch.xlsx import xlsx_rows  # openpyxl is imported for a workbook only

        rows = xlsx_rows(path, max_rows, name=shown)
    else:
        raise ClientListError(shown, N_("unsupported file type {suffix!r}; use .csv (UTF-8 or Shift_JIS) or .xlsx"), {"suffix": suffix})
    with contextlib.closing(rows):
        header = next(rows, None)
        if header is None:
            raise ClientListError(shown, N_("the file is empty; the first row must be the column headers"))
        header_row, headers = header
        mapping = map_headers([_text(h) for h in headers[:MAX_COLUMNS]], shown)
        count = 0
        for number, cells in rows:
            values = {key: _text(cells[i] if i < len(cells) else None) for i, key in mapping.items()}
            if not any(_text(c).strip() for c in cells[:MAX_COLUMNS]):
                continue
            count += 1
            if count > max_rows:
                raise ClientListError(shown, N_("more than {limit:,} client rows (row {row}); split the list into files of at most {limit:,} rows"),
                                      {"limit": max_rows, "row": number})
            yield number, values


def _text(value: object) -> str:
    """A cell as the text an agent typed: integers exact, dates ISO (a time of day dropped), booleans as Excel shows them.

    >>> _text(450000000.0), _text(dt.datetime(2026, 11, 26, 9, 30)), _text(None), _text(True)
    ('450000000', '2026-11-26', '', 'TRUE')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _csv_rows(path: Path, shown: str) -> Generator[tuple[int, list[str]], None, None]:
    encoding = _csv_encoding(path, shown)
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, strict=True)
        record, start = 0, 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ClientListError(shown, N_("line {line}: {problems}; a field that starts with a double quote must end with one "
                                               '(write a quote inside a field as "")'), {"line": start, "problems": [_csv_reason(exc)]}) from None
            record += 1
            start = reader.line_num + 1
            yield record, cells


def _csv_reason(exc: csv.Error) -> tuple[str, dict[str, object]]:
    text = str(exc)
    if "end of data" in text or "field larger" in text:
        return N_("a quoted field opened on this line is never closed"), {}
    return N_("malformed CSV ({detail})"), {"detail": text}


def _csv_encoding(path: Path, shown: str) -> str:
    """utf-8-sig or cp932 (Japanese Excel saves CSV as Shift_JIS), checked over the whole file in bounded memory."""
    for encoding in ("utf-8-sig", "cp932"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise ClientListError(shown, N_("not UTF-8 or Shift_JIS text; save the sheet as 'CSV UTF-8'"))
