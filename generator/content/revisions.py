"""Revisions of a product: which content, rates and templates apply to a policy starting on a given date."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.content.load import display_path, load_product
from generator.content.model import CONTENT_FILES, Product
from generator.errors import ContentError, InputError, Problem
from generator.i18n import N_
from generator.site import Site

REVISIONS = "revisions"  # content/<product>/revisions/<name>/: every revision after the first
TEMPLATES = "templates"  # content/<product>/revisions/<name>/templates/: that revision's own templates, when they change
NAME = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")  # 2027-04, or 2027-04-15 for a second revision in one month
ONE_DAY = dt.timedelta(days=1)


def first_name(product: Product) -> str:
    """The first revision's name: the month its product.yaml takes effect (``2026-12``)."""
    return f"{product.meta.effective_date:%Y-%m}"


@dataclass(frozen=True)
class Revision:
    """One revision: its loaded content, the folder it was read from and the templates its documents use."""

    name: str
    folder: Path
    product: Product
    templates: Path | None = None  # None: the site's templates

    @property
    def effective(self) -> dt.date:
        """First start date of new business this revision prices."""
        return self.product.meta.effective_date

    @property
    def renewal_effective(self) -> dt.date:
        """First start date of a renewal this revision prices (the new-business date unless product.yaml says otherwise)."""
        return self.product.meta.renewal_effective_date or self.effective

    def starts(self, renewal: bool) -> dt.date:
        return self.renewal_effective if renewal else self.effective

    def on_site(self, site: Site) -> Site:
        """``site`` with the templates this revision is laid out with (its own, when it has them)."""
        return dataclasses.replace(site, templates=self.templates) if self.templates is not None else site


@dataclass(frozen=True)
class Schedule:
    """A product's revisions in the order they take effect, and which one is in force on a start date."""

    product: str
    revisions: tuple[Revision, ...]

    def by_name(self, name: str) -> Revision:
        for r in self.revisions:
            if r.name == name:
                return r
        raise InputError("--revision", name, "no such revision", allowed=", ".join(r.name for r in self.revisions))

    def last_day(self, revision: Revision, renewal: bool = False) -> dt.date | None:
        """The last start date ``revision`` prices: its end_date, else the day before the next revision starts; None: open."""
        at = self.revisions.index(revision)
        ends = [d for d in (revision.product.meta.end_date,) if d is not None]
        if at + 1 < len(self.revisions):
            ends.append(self.revisions[at + 1].starts(renewal) - ONE_DAY)
        return min(ends) if ends else None

    def in_force(self, start: dt.date, renewal: bool = False) -> Revision:
        """The revision pricing a policy (a renewal when ``renewal``) that starts on ``start``; InputError listing the dates otherwise."""
        for r in reversed(self.revisions):
            if r.starts(renewal) <= start:
                end = self.last_day(r, renewal)
                if end is None or start <= end:
                    return r
                break
        reason = (N_("no revision of {product} is in force for renewals starting on this date") if renewal
                  else N_("no revision of {product} is in force for new business starting on this date"))
        raise InputError("start", start.isoformat(), reason, allowed=self.periods(renewal), params={"product": self.product})

    def pick(self, start: dt.date | None, renewal: bool, today: dt.date) -> Revision:
        """The revision pricing a policy starting on ``start``; without a start date the one in force ``today`` (the
        first before it takes effect, as before revisions existed). InputError (``start``) lists the periods there are."""
        if start is not None:
            return self.in_force(start, renewal)
        if today < self.revisions[0].starts(renewal):
            return self.revisions[0]
        return self.in_force(today, renewal)

    def periods(self, renewal: bool = False) -> str:
        """``2026-12: 2026-12-01〜2027-03-31, 2027-04: 2027-04-01〜`` (what a refused start date is told)."""
        return ", ".join(f"{r.name}: {r.starts(renewal)}〜{self.last_day(r, renewal) or ''}" for r in self.revisions)

    @property
    def single(self) -> bool:
        return len(self.revisions) == 1


def revision_folders(folder: Path) -> list[Path]:
    """The folders of every revision after the first, by name (``content/<product>/revisions/*``)."""
    root = Path(folder) / REVISIONS
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def load_revisions(folder: Path, first: Product | None = None) -> list[Revision]:
    """Every revision of the product in ``folder``, loaded and type-checked (not yet cross-checked); ContentError lists all problems.

    ``first``: the product folder's own content, already loaded.
    """
    folder = Path(folder)
    problems: list[Problem] = []
    product = first or load_product(folder)
    found = [Revision(first_name(product), folder, _with_revision(product, first_name(product)))]
    for sub in revision_folders(folder):
        if not NAME.match(sub.name):
            problems.append(Problem(display_path(sub), 0, "", "a revision folder is named by the month it takes effect; allowed: 2027-04 or 2027-04-15"))
            continue
        try:
            loaded = dataclasses.replace(load_product(sub, key=product.key, revision=sub.name), revision_path=f"{REVISIONS}/{sub.name}")
        except ContentError as exc:
            problems += exc.problems
            continue
        own = sub / TEMPLATES
        found.append(Revision(sub.name, sub, loaded, own if own.is_dir() else None))
    if problems:
        raise ContentError(problems)
    return found


def _with_revision(product: Product, name: str) -> Product:
    return product if product.revision == name else dataclasses.replace(product, revision=name)


def timeline_problems(revisions: Iterable[Revision], approved: dict[str, str] | None = None, today: dt.date | None = None) -> list[Problem]:
    """Overlaps, gaps, misnamed and out-of-order revisions, and a new revision dated before an approved one, with file:line.

    ``approved``: revision name → approval number of the revisions approved (the caller knows; content does not). A
    revision is new until it takes effect (after ``today``): one in force or past is history, approved or not.
    """
    revs = list(revisions)
    problems: list[Problem] = []

    def at(r: Revision, key: str, message: str) -> None:
        src = r.product.source(f"meta.{key}")
        problems.append(Problem(src.file, src.line, f"meta.{key}", message))

    first = revs[0]
    for r in revs[1:]:
        if r.name == first.name:
            at(r, "effective_date", f"revision {r.name} has the first revision's name; the product folder's own content is revision {first.name}")
        if r.product.meta.slug != first.product.meta.slug:
            at(r, "slug", f"{r.product.meta.slug!r} differs from the product's {first.product.meta.slug!r}; a revision is the same product")
        if not f"{r.effective:%Y-%m-%d}".startswith(r.name):
            at(r, "effective_date", f"{r.effective} does not fall in the month the folder {r.name} names; rename the folder or fix the date")
    for prev, cur in zip(revs, revs[1:], strict=False):
        if cur.product.rates != prev.product.rates and cur.product.rates.rates_version == prev.product.rates.rates_version:
            src = cur.product.source("rates.rates_version")
            problems.append(Problem(src.file, src.line, "rates.rates_version", f"revision {cur.name} changes the rates of revision {prev.name} "
                                    f"but keeps its rates_version {cur.product.rates.rates_version!r}; allowed: a new version, e.g. {cur.name!r}"))
    for r in revs:
        end = r.product.meta.end_date
        if end is not None and end < max(r.effective, r.renewal_effective):
            at(r, "end_date", f"{end} is before the revision takes effect ({r.effective}); allowed: on or after it")
    ordered = sorted(revs, key=lambda r: r.effective)
    for prev, cur in zip(ordered, ordered[1:], strict=False):
        if cur.effective == prev.effective:
            at(cur, "effective_date", f"revisions {prev.name} and {cur.name} both take effect on {cur.effective} (overlap); one start date, one revision")
            continue
        end = prev.product.meta.end_date
        if end is not None and end >= cur.effective:
            at(cur, "effective_date", f"{cur.effective} overlaps revision {prev.name}, which runs until {end} "
                                      f"({display_path(prev.folder / 'product.yaml')}); allowed: {end + ONE_DAY}")
        elif end is not None and end + ONE_DAY < cur.effective:
            at(cur, "effective_date", f"gap: revision {prev.name} ends on {end}, so no revision prices policies starting "
                                      f"{end + ONE_DAY}〜{cur.effective - ONE_DAY}; allowed: {end + ONE_DAY}")
        if cur.renewal_effective <= prev.renewal_effective:
            at(cur, "renewal_effective_date", f"renewals from {cur.renewal_effective} would leave revision {prev.name} "
                                              f"(renewals from {prev.renewal_effective}) no period; allowed: after {prev.renewal_effective}")
        elif end is not None and cur.product.meta.renewal_effective_date is not None and end + ONE_DAY != cur.renewal_effective:
            # (without a renewal date of its own the new-business check above said it already)
            kind = "overlaps" if cur.renewal_effective <= end else "leaves a gap after"
            at(cur, "renewal_effective_date", f"renewals from {cur.renewal_effective} {kind} revision {prev.name}, which ends on {end}; "
                                              f"allowed: {end + ONE_DAY}")
    for r in ordered:
        if approved and r.name not in approved and (today is None or r.effective > today):
            later = [a for a in ordered if a.name in approved and a.effective > r.effective]
            if later:
                a = later[0]
                at(r, "effective_date", f"revision {r.name} ({r.effective}) is dated before revision {a.name}, approved as {approved[a.name]} "
                                        f"({a.effective}), but is not approved itself: an approved revision's period never changes; "
                                        f"allowed: a revision after {ordered[-1].effective}")
    return problems


def new_revision(revisions: list[Revision], effective: dt.date, renewal_effective: dt.date | None = None,
                 today: dt.date | None = None) -> Path:
    """Start the next revision as a copy of the latest (content files, and its own templates if it has any); return its folder.

    InputError when ``effective`` is not after the latest revision's dates or a folder of that name exists.
    """
    latest = max(revisions, key=lambda r: r.effective)
    if effective <= latest.effective or (latest.product.meta.end_date and effective <= latest.product.meta.end_date):
        raise InputError("--effective", effective.isoformat(), f"is not after the latest revision {latest.name} (from {latest.effective})",
                         allowed=f"after {latest.product.meta.end_date or latest.effective}")
    if renewal_effective is not None and renewal_effective <= latest.renewal_effective:
        raise InputError("--renewal-effective", renewal_effective.isoformat(),
                         f"is not after the latest revision's renewals ({latest.renewal_effective})", allowed=f"after {latest.renewal_effective}")
    if today is not None and effective <= today:
        raise InputError("--effective", effective.isoformat(), "is not in the future; a revision takes effect after it is made",
                         allowed=f"after {today}")
    root = revisions[0].folder / REVISIONS
    name = f"{effective:%Y-%m}"
    if (root / name).exists():
        name = effective.isoformat()
    target = root / name
    if target.exists():
        raise InputError("--effective", effective.isoformat(), f"a revision folder {display_path(target)} exists already")
    root.mkdir(exist_ok=True)
    staging = root / f".new-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for file in CONTENT_FILES:
            src = latest.folder / file
            if src.is_file():
                data = src.read_text(encoding="utf-8")
                if file == "product.yaml":
                    data = _set_dates(data, effective, renewal_effective)
                (staging / file).write_text(data, encoding="utf-8")
        if latest.templates is not None:
            shutil.copytree(latest.templates, staging / TEMPLATES)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _set_dates(text: str, effective: dt.date, renewal: dt.date | None) -> str:
    """product.yaml with the new dates, its comments and layout kept (a line edit, not a YAML round trip).

    >>> _set_dates("name: x\\neffective_date: 2026-12-01\\nend_date: 2027-03-31\\n", dt.date(2027, 4, 1), None)
    'name: x\\neffective_date: 2027-04-01\\n'
    >>> _set_dates("effective_date: 2026-12-01\\n", dt.date(2027, 4, 1), dt.date(2027, 5, 1))
    'effective_date: 2027-04-01\\nrenewal_effective_date: 2027-05-01\\n'
    """
    lines = [ln for ln in text.splitlines(keepends=True) if not re.match(r"^(renewal_effective_date|end_date):", ln)]
    out = []
    for ln in lines:
        if re.match(r"^effective_date:", ln):
            ln = f"effective_date: {effective.isoformat()}\n"
            if renewal is not None:
                ln += f"renewal_effective_date: {renewal.isoformat()}\n"
        out.append(ln)
    return "".join(out)
