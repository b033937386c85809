"""Validate stage: cross-checks between a product's wording, its rate tables and its IDs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from generator.content.disclosures import check_disclosures
from generator.content.model import Product
from generator.errors import AmountError, ContentError, Problem
from generator.jpformat import ERAS, parse_yen

# A yen amount as printed in wording: 1,000万円, １００億円, 3億円 (full width allowed).
_AMOUNT = re.compile(r"[0-9０-９][0-9０-９,，.．]*(?:兆|億|万)?(?:[0-9０-９][0-9０-９,，]*(?:億|万))*円")
_PERCENT = re.compile(r"([0-9０-９]+)\s*[%％]")
_LEADING_NUMBER = re.compile(r"^\s*(?:[①-⑳]|[（(][0-9０-９]+[)）]|[ア-ン][．.]|・|■|〇)")
_LIST_ITEM = re.compile(r"\.(items|points|cases|paragraphs|body|greeting|closing_lines)\[\d+\](\.text)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A live page reference in wording: {page:ESS} prints the page on which section ESS starts.
PAGE_REF = re.compile(r"\{page:([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*)\}")
# Side-by-side steps a flow-diagram stage may hold: the diagram's grid has 12 columns.
FLOW_WIDTHS = (1, 2, 3, 4, 6)


def amounts_in(text: str) -> list[int]:
    """Every yen amount stated in ``text``, in order.

    >>> amounts_in("1,000万円/3,000万円/5,000万円/1億円/3億円（※１）")
    [10000000, 30000000, 50000000, 100000000, 300000000]
    >>> amounts_in("売上高が１００億円以下の企業")
    [10000000000]
    """
    return [parse_yen(m.group(0)) for m in _AMOUNT.finditer(text)]


def percents_in(text: str) -> list[int]:
    """Every whole percentage stated in ``text``.

    >>> percents_in("原則、賠償部分の限度額×10%（※１）")
    [10]
    >>> percents_in("費用保険金額は賠償保険金額の１０％")
    [10]
    """
    return [int(unicodedata.normalize("NFKC", m.group(1))) for m in _PERCENT.finditer(text)]


def industries_in(text: str) -> list[str]:
    """Industry names listed in an exclusion sentence, NFKC-normalised for comparison.

    >>> industries_in("ただし、金融、航空、ＩＴ業を除きます。")
    ['金融', '航空', 'IT業']
    """
    body = re.sub(r"^.*?(?:ただし、|※)", "", text)
    body = re.sub(r"を除きます。?$", "", body)
    return [unicodedata.normalize("NFKC", s).strip() for s in body.split("、") if s.strip()]


def page_refs(text: str) -> list[str]:
    """Section IDs of the ``{page:ID}`` references in ``text``, in order (printed as that section's page).

    >>> page_refs("『緊急時サポート総合サービス』が付帯されます。（P{page:ESS}）")
    ['ESS']
    """
    return PAGE_REF.findall(text)


def numbered_sections(product: Product) -> list[Any]:
    """The brochure's numbered sections in print order: what a page reference may name."""
    p = product
    return [*p.background.sections, p.examples, p.features, p.coverage, p.emergency_support, p.exclusions, p.risk_services]


def walk(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (path, value) in a model tree, paths as the loader records them."""
    yield path, obj
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            if f.name not in ("sources", "file_hashes", "key"):
                yield from walk(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            yield from walk(item, f"{path}[{i}]")


class _Checker:
    def __init__(self, product: Product):
        self.p = product
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        src = self.p.source(path)
        self.problems.append(Problem(src.file, src.line, path, message))

    def run(self) -> list[Problem]:
        self.ids_and_text()
        self.limits()
        self.expense_ratio()
        self.bands()
        self.industries()
        self.tables()
        self.references()
        self.page_refs()
        self.dates()
        self.problems += check_disclosures(self.p)  # missing items are warnings: missing_disclosures
        return self.problems

    def ids_and_text(self) -> None:
        seen: dict[str, str] = {}
        for path, value in walk(self.p, ""):
            if path.endswith(".id") and isinstance(value, str):
                if not re.fullmatch(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*", value):
                    self.fail(path, f"ID {value!r} must be upper-case letters, digits and hyphens (e.g. EXC-LIA-01)")
                if value in seen:
                    self.fail(path, f"duplicate ID {value!r}, first used at {seen[value]}")
                seen.setdefault(value, path)
            if isinstance(value, str) and _CONTROL.search(value):
                self.fail(path, "contains a control character (Word refuses such files)")
            if isinstance(value, str) and _LEADING_NUMBER.match(value) and _LIST_ITEM.search(path):
                self.fail(path, f"starts with list numbering {value[:2]!r}: numbering is data (list order), not text")

    def dates(self) -> None:
        """Every date must print in 和暦 and leave room for the periods counted from it (quote validity, a policy year)."""
        first, last = ERAS[-1][0], dt.date.max - dt.timedelta(days=366)
        for path, value in walk(self.p, ""):
            if isinstance(value, dt.date) and not first <= value <= last:
                self.fail(path, f"{value.isoformat()} is out of range; allowed: {first.isoformat()} ({ERAS[-1][1]} began) to {last.isoformat()}")

    def limits(self) -> None:
        rates, lim = self.p.rates, self.p.coverage.limits
        if list(rates.limits) != sorted(set(rates.limits)) or any(x <= 0 for x in rates.limits):
            self.fail("rates.limits", f"limits must be positive and strictly increasing, got {list(rates.limits)}")
        first = next((i for i, r in enumerate(lim.rows) if r.section == self._section_id(0)), None)
        if first is None:
            self.fail("coverage.limits.rows", "no limit row for the liability section (ア)")
            return
        path = f"coverage.limits.rows[{first}].limit"
        stated = self._amounts(path, lim.rows[first].limit)
        if stated is not None and stated != list(rates.limits):
            self.fail(path, f"limit options stated in the wording {stated} differ from the rate tables' columns {list(rates.limits)} (rates.limits)")

    def expense_ratio(self) -> None:
        want = self.p.rates.expense_ratio_percent
        checks = [(f"rates.premises[{i}].text", t.text) for i, t in enumerate(self.p.rates.premises) if "費用" in t.text and _PERCENT.search(t.text)]
        second = self._section_id(1)
        checks += [(f"coverage.limits.rows[{i}].limit", r.limit) for i, r in enumerate(self.p.coverage.limits.rows) if r.section == second]
        if len(checks) < 2:
            self.fail("coverage.limits.rows", "the 費用 ratio must be stated both in the limits table (イ) and the rating premises")
        for path, text in checks:
            if percents_in(text) != [want]:
                self.fail(path, f"states 費用 ratio {percents_in(text)}%, rating premise is {want}% (rates.expense_ratio_percent)")

    def bands(self) -> None:
        bands = self.p.rates.bands
        if not bands:
            self.fail("rates.bands", "no revenue bands")
            return
        if bands[0].over != 0:
            self.fail("rates.bands[0].over", f"the first band must start at 0 (over: 0), got {bands[0].over}")
        for i, b in enumerate(bands):
            if b.up_to <= b.over:
                self.fail(f"rates.bands[{i}]", f"band {b.id} is empty: up_to {b.up_to} <= over {b.over}")
            if i and b.over != bands[i - 1].up_to:
                kind = "gap" if b.over > bands[i - 1].up_to else "overlap"
                self.fail(f"rates.bands[{i}].over", f"{kind} between bands {bands[i - 1].id} (up_to {bands[i - 1].up_to}) and {b.id} (over {b.over})")
        cap_path = "coverage.eligibility.text"
        cap = self._amounts(cap_path, self.p.coverage.eligibility.text)
        if cap is not None and cap != [bands[-1].up_to]:
            self.fail(cap_path, f"eligibility cap {cap} differs from the last band's up_to {bands[-1].up_to} (rates.bands[{len(bands) - 1}].up_to)")

    def industries(self) -> None:
        rates = self.p.rates
        def norm(s: str) -> str:
            return unicodedata.normalize("NFKC", s)

        owner: dict[str, str] = {}
        for ci, cls in enumerate(rates.classes):
            for ii, name in enumerate(cls.industries):
                path = f"rates.classes[{ci}].industries[{ii}]"
                if norm(name) in owner:
                    self.fail(path, f"industry {name!r} is in both {owner[norm(name)]} and {cls.code}; each industry maps to exactly one class")
                owner.setdefault(norm(name), cls.code)
        excluded = [norm(x) for x in rates.excluded_industries]
        for ci, cls in enumerate(rates.classes):
            for ii, name in enumerate(cls.industries):
                if norm(name) in excluded:
                    self.fail(f"rates.classes[{ci}].industries[{ii}]", f"{name!r} is excluded but also rated in {cls.code}")
        for path, text in (("coverage.eligibility.exclusion_text", self.p.coverage.eligibility.exclusion_text), ("rates.excluded_note", rates.excluded_note)):
            if industries_in(text) != excluded:
                self.fail(path, f"lists excluded industries {industries_in(text)}, rates.excluded_industries has {excluded}")
        codes = [c.code for c in rates.classes]
        if len(set(codes)) != len(codes):
            self.fail("rates.classes", f"class codes must be unique, got {codes}")

    def tables(self) -> None:
        rates = self.p.rates
        n_bands, n_limits = len(rates.bands), len(rates.limits)
        for ci, cls in enumerate(rates.classes):
            base = f"rates.classes[{ci}].premiums"
            if len(cls.premiums) != n_bands:
                self.fail(base, f"{cls.code}: expected {n_bands} rows (one per revenue band), got {len(cls.premiums)}")
            for ri, row in enumerate(cls.premiums):
                if len(row) != n_limits:
                    self.fail(f"{base}[{ri}]", f"{cls.code}[{ri}]: expected {n_limits} premiums (one per limit), got {len(row)}")
                for li, value in enumerate(row):
                    if value <= 0:
                        self.fail(f"{base}[{ri}][{li}]", f"{cls.code}: premium must be a positive integer (yen), got {value}")
                    if li and value < row[li - 1]:
                        self.fail(f"{base}[{ri}][{li}]", f"{cls.code}: premium {value} is lower than {row[li - 1]} for the smaller limit in the same band")
                    if ri and li < len(cls.premiums[ri - 1]) and value < cls.premiums[ri - 1][li]:
                        self.fail(f"{base}[{ri}][{li}]", f"{cls.code}: premium {value} is lower than {cls.premiums[ri - 1][li]} for the lower revenue band")

    def references(self) -> None:
        sections = {s.id for s in self.p.coverage.payment.sections}
        for i, row in enumerate(self.p.coverage.limits.rows):
            if row.section not in sections:
                self.fail(f"coverage.limits.rows[{i}].section", f"unknown coverage section {row.section!r}; known: {', '.join(sorted(sections))}")
        ess = self.p.emergency_support
        partners = {p.id for p in ess.partners}
        used: set[str] = set()
        for fi, fn in enumerate(ess.functions):
            for pi, pid in enumerate(fn.partners):
                used.add(pid)
                if pid not in partners:
                    self.fail(f"emergency_support.functions[{fi}].partners[{pi}]", f"unknown partner {pid!r}; known: {', '.join(sorted(partners))}")
        for i, p in enumerate(ess.partners):
            if p.id not in used:
                self.fail(f"emergency_support.partners[{i}]", f"partner {p.id} ({p.name}) provides no support function")
        self.diagram()
        numbers = [s.number for s in numbered_sections(self.p)]
        if numbers != list(range(1, len(numbers) + 1)):
            self.fail("background.sections", f"section numbers must run 1..{len(numbers)} in brochure order, got {numbers}")

    def diagram(self) -> None:
        """The flow diagram: steps name known functions, and a stage's steps fit the diagram's grid side by side."""
        ess = self.p.emergency_support
        functions = {f.id for f in ess.functions}
        base = "emergency_support.diagram"
        if not ess.diagram.phases:
            self.fail(f"{base}.phases", "the flow diagram needs at least one phase (平時, 有事)")
        for pi, phase in enumerate(ess.diagram.phases):
            if not phase.stages:
                self.fail(f"{base}.phases[{pi}].stages", f"phase {phase.id} ({phase.title}) has no stages")
            for si, stage in enumerate(phase.stages):
                path = f"{base}.phases[{pi}].stages[{si}]"
                if len(stage.steps) not in FLOW_WIDTHS:
                    self.fail(f"{path}.steps", f"stage {stage.id} has {len(stage.steps)} steps side by side; allowed: {', '.join(map(str, FLOW_WIDTHS))}")
                for ti, step in enumerate(stage.steps):
                    for fi, fid in enumerate(step.functions):
                        if fid not in functions:
                            self.fail(f"{path}.steps[{ti}].functions[{fi}]", f"unknown support function {fid!r}; known: {', '.join(sorted(functions))}")

    def page_refs(self) -> None:
        """Every ``{page:ID}`` names a numbered section, and only the brochure's feature paragraphs print one."""
        targets = {s.id for s in numbered_sections(self.p)}
        for path, value in walk(self.p, ""):
            if not isinstance(value, str) or "{page" not in value:
                continue
            if not re.fullmatch(r"features\.features\[\d+\]\.paragraphs\[\d+\]", path):
                self.fail(path, "a page reference {page:ID} can only stand in features.yaml paragraphs (the brochure prints it as a live page number)")
                continue
            for target in page_refs(value):
                if target not in targets:
                    self.fail(path, f"page reference {{page:{target}}} names no section; allowed: {', '.join(sorted(targets))}")
            if value.count("{page:") != len(page_refs(value)) or PAGE_REF.sub("", value).count("{page"):
                self.fail(path, "malformed page reference: write {page:ID} with a section ID, e.g. {page:ESS}")

    def _section_id(self, index: int) -> str:
        sections = self.p.coverage.payment.sections
        return sections[index].id if index < len(sections) else ""

    def _amounts(self, path: str, text: str) -> list[int] | None:
        try:
            return amounts_in(text)
        except AmountError as exc:
            self.fail(path, f"cannot read an amount: {exc}")
            return None


def check_product(product: Product) -> list[Problem]:
    """Every cross-check problem of ``product`` (empty when it is consistent)."""
    return _Checker(product).run()


def validate(product: Product) -> Product:
    """Return ``product`` unchanged, or raise ContentError listing every problem."""
    problems = check_product(product)
    if problems:
        raise ContentError(problems)
    return product
