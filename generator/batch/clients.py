"""Client input: one agent's client from CLI options, or a whole CSV/Excel list, checked row by row."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator.content.load import did_you_mean
from generator.errors import ClientListError, DocgenError, InputError
from generator.i18n import N_
from generator.jpformat import parse_date, parse_yen

MAX_NAME = 200  # longest client name we lay out; longer ones are refused, not truncated
MAX_ROWS = 10_000  # clients in one list: a day of packs; a longer list is refused before anything is built
MAX_COLUMNS = 256  # cells past this column are not read (the dimension a file claims is never trusted)

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
# a renewal column's cell: 更新 (renewal) or 新規 (new business); empty is new business
RENEWAL = {"更新": True, "renewal": True, "yes": True, "1": True, "true": True, "○": True,
           "新規": False, "new": False, "no": False, "0": False, "false": False, "": False}
REQUIRED = ("client", "industry", "revenue", "limit")


@dataclass(frozen=True)
class ClientRequest:
    """Everything one proposal pack is built from, already checked."""

    client: str
    contact: str
    industry: str
    revenue: int
    limit: int
    agent_name: str = ""
    agent_contact: str = ""
    date: dt.date | None = None
    row: int | None = None  # 1-based spreadsheet row (header is row 1); None for the CLI
    start: dt.date | None = None  # 保険始期日: picks the revision in force (None: the one in force on the issue date)
    renewal: bool = False  # a renewal: priced by the revision in force for renewals on ``start``

    @property
    def addressee(self) -> str:
        """`有限会社 伸和企画 上 様`, or `… 御中` with no contact person (Japanese business letters)."""
        return f"{self.client} {self.contact} 様" if self.contact else f"{self.client} 御中"


@dataclass(frozen=True)
class RowError:
    """One bad value in a client list: where, what, and why."""

    row: int | None
    column: str
    value: str
    reason: str
    error: DocgenError | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "input"
        return f"{where}: {self.column}: {self.value!r}: {self.reason}"

    def as_error(self) -> DocgenError:
        """The exception behind this row's failure (its exit code tells referral from refusal)."""
        return self.error or InputError(self.column, self.value, self.reason)


def check_name(field: str, value: str, *, required: bool, missing_glyphs: Callable[[str], list[str]] | None = None) -> str:
    """A person's or company's name exactly as it will print, or InputError saying why not.

    Surrounding spaces (also full-width) are trimmed; nothing inside is changed.

    >>> check_name("client", "  有限会社 伸和企画　", required=True)
    '有限会社 伸和企画'
    >>> check_name("client", "A&B <株>", required=True)
    'A&B <株>'
    >>> check_name("client", "伸和\\x07企画", required=True)
    Traceback (most recent call last):
    ...
    generator.errors.InputError: client: '伸和\\x07企画': contains control character U+0007 at position 3; names must be printable text
    """
    text = value.strip(" \t\u3000")
    if not text:
        if required:
            raise InputError(field, value, N_("is empty"))
        return ""
    for i, ch in enumerate(text, 1):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            kind = {"Cc": N_("control character"), "Cf": N_("invisible format character"), "Cs": N_("broken (surrogate) character"),
                    "Co": N_("private-use character"), "Cn": N_("unassigned character")}.get(cat, N_("line separator"))
            raise InputError(field, value, N_("contains {kind} U+{code} at position {position}; names must be printable text"),
                             params={"kind": [(kind, {})], "code": f"{ord(ch):04X}", "position": i})
    if len(text) > MAX_NAME:
        raise InputError(field, value, N_("is {length} characters long; at most {limit} fit the documents"),
                         params={"length": len(text), "limit": MAX_NAME})
    if missing_glyphs:
        missing = missing_glyphs(text)
        if missing:
            shown = " ".join(f"{c} (U+{ord(c):04X})" for c in missing)
            raise InputError(field, value, N_("has characters the document fonts cannot print: {characters}"), params={"characters": shown})
    return text


def parse_client(values: dict[str, str], *, row: int | None = None,
                 missing_glyphs: Callable[[str], list[str]] | None = None) -> tuple[ClientRequest | None, list[RowError]]:
    """Check one client's raw values; return the request, or None and every problem found."""
    errors: list[RowError] = []
    out: dict[str, object] = {}

    def take(key: str, parse: Callable[[str], object]) -> None:
        raw = values.get(key, "") or ""
        try:
            out[key] = parse(raw)
        except InputError as exc:
            errors.append(RowError(row, key, raw, exc.reason + (f"; allowed: {exc.allowed}" if exc.allowed else ""), exc))

    take("client", lambda v: check_name("client", v, required=True, missing_glyphs=missing_glyphs))
    take("contact", lambda v: check_name("contact", v, required=False, missing_glyphs=missing_glyphs))
    take("agent_name", lambda v: check_name("agent_name", v, required=False, missing_glyphs=missing_glyphs))
    take("agent_contact", lambda v: check_name("agent_contact", v, required=False, missing_glyphs=missing_glyphs))
    take("industry", lambda v: check_name("industry", v, required=True))
    take("revenue", lambda v: parse_yen(v, field="revenue"))
    take("limit", lambda v: parse_yen(v, field="limit"))
    take("date", lambda v: (excel_serial_date(v) or parse_date(v.strip(), field="date")) if v.strip() else None)
    take("start", lambda v: (excel_serial_date(v) or parse_date(v.strip(), field="start")) if v.strip() else None)
    take("renewal", parse_renewal)
    if errors:
        return None, errors
    # arg-type: ``out`` maps each field to the value its own parser above checked and typed (a dict cannot say so per key)
    return ClientRequest(row=row, **out), []  # type: ignore[arg-type]


def parse_renewal(text: str) -> bool:
    """A renewal column's cell: 更新 / 新規 (or renewal / new, yes / no); empty is new business.

    >>> parse_renewal("更新"), parse_renewal(" 新規 "), parse_renewal("")
    (True, False, False)
    """
    key = unicodedata.normalize("NFKC", text).strip().lower()
    if key not in RENEWAL:
        raise InputError("renewal", text, "is neither 更新 nor 新規", allowed="更新 (renewal), 新規 (new business) or empty")
    return RENEWAL[key]


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


def excel_serial_date(text: str) -> dt.date | None:
    """A date cell stored as an Excel serial number (1900 date system, as CSV exports use), else None.

    >>> excel_serial_date("46352")
    datetime.date(2026, 11, 26)
    """
    if re.fullmatch(r"[0-9]{5}", text.strip()):
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
    return None
