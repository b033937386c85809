"""Checking a client list before anything is built: every row parsed and quoted, bad rows with row/column/value/reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from generator import api
from generator.api import IssuingPolicy
from generator.batch.clients import read_client_rows
from generator.content.model import Product
from generator.content.request import ClientRequest
from generator.content.revisions import Schedule
from generator.errors import InputError
from generator.i18n import N_
from generator.store.accounts import User
from generator.web.messages import row_error

SUFFIXES = (".csv", ".xlsx")
MAX_BYTES = 5 * 1024 * 1024  # a list of a few thousand clients is well under this


@dataclass
class Checked:
    """The rows of a list that can be built, and the ones that cannot (as table rows)."""

    requests: list[ClientRequest] = field(default_factory=list)
    bad: list[dict[str, object]] = field(default_factory=list)


def policy_for(user: User, today: dt.date) -> api.IssuingPolicy:
    """What a portal user may put on a document: their agency, their name, today (every path: form and list)."""
    return api.issuing_policy(agency=user.agency.name, agent=user.name or "", today=today)


def check_list(product: Product, path: Path, policy: IssuingPolicy, name: str, schedule: Schedule | None = None,
               today: dt.date | None = None) -> Checked:
    """Every row of a .csv/.xlsx list through the planning step's checks (issuing policy, revision, quote, one pack per
    client); ClientListError when the file cannot be read at all (naming the file ``name``, as the agent uploaded it).

    With a ``schedule``, each row is quoted by the revision in force on its 保険始期日 (a date none prices is a bad row).
    """
    planner = api.planner(None, product, today=today, policy=policy, schedule=schedule)
    checked = Checked()
    for row, values in read_client_rows(path, name=name):
        found, errors = planner.check(row, values)
        if found is None:  # the same sentence the CLI prints for this row (要見積 / 引受不可 and why)
            checked.bad += [row_error(e.row, e.column, e.value, e.reason, e.error) for e in errors]
            continue
        checked.requests.append(found.request)
    return checked


def list_rows(path: Path, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of an uploaded list, (row, raw values) one by one; ClientListError names the file as the agent did."""
    return read_client_rows(path, name=name)


def safe_suffix(filename: str, shown: str | None = None) -> str:
    """The list format from the uploaded name, or InputError; the name itself is never used as a path.

    >>> safe_suffix("顧客一覧.XLSX")
    '.xlsx'
    >>> safe_suffix("../../etc/passwd")
    Traceback (most recent call last):
    ...
    generator.errors.InputError: file: '../../etc/passwd': is not a client list; allowed: .csv, .xlsx
    """
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError("file", filename if shown is None else shown, N_("is not a client list"), allowed=", ".join(SUFFIXES))
    return suffix
