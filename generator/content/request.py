"""The client request: one client's checked values, the domain value every pack is planned from, and its parsing."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from generator.errors import DocgenError, InputError
from generator.i18n import N_
from generator.jpformat import parse_date, parse_yen

MAX_NAME = 200  # longest client name we lay out; longer ones are refused, not truncated
# a renewal column's cell: 更新 (renewal) or 新規 (new business); empty is new business
RENEWAL = {"更新": True, "renewal": True, "yes": True, "1": True, "true": True, "○": True,
           "新規": False, "new": False, "no": False, "0": False, "false": False, "": False}


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


def excel_serial_date(text: str) -> dt.date | None:
    """A date cell stored as an Excel serial number (1900 date system, as CSV exports use), else None.

    >>> excel_serial_date("46352")
    datetime.date(2026, 11, 26)
    """
    if re.fullmatch(r"[0-9]{5}", text.strip()):
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
    return None
