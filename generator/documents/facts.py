"""Facts: a product flattened to clauses by ID and premium cells, the unit compliance diffs and cites."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from generator.content.model import Product
from generator.documents.context import CIRCLED
from generator.documents.registry import uses_by_kind
from generator.jpformat import band_label, format_yen, format_yen_units

# Which documents print which parts of a product, standalone and inside a pack: the impact list of a change.
DOCUMENT_USES: dict[str, tuple[str, ...]] = uses_by_kind()


@dataclass(frozen=True)
class Clause:
    """One identified piece of wording: its ID, where it sits, a readable label and its full text."""

    id: str
    path: str
    label: str
    text: str


@dataclass(frozen=True)
class Cell:
    """One premium: class × revenue band × limit."""

    key: str  # "D01/B1/100000000"
    label: str  # "D01 5億円以下 / 1億円"
    path: str  # "rates.classes[0].premiums[0][3]"
    premium: int


def _has_id(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and any(f.name == "id" for f in dataclasses.fields(obj))


def _own_text(obj: Any) -> list[str]:
    """Text an object prints itself: its strings, lists of strings and id-less children, not clauses with their own ID."""
    out: list[str] = []
    for f in dataclasses.fields(obj):
        if f.name in ("id", "sources", "file_hashes", "key", "premiums"):  # premiums compare as cells
            continue
        value = getattr(obj, f.name)
        out += _flatten(value)
    return out


def _flatten(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [format_yen_units(value)] if value >= 10_000 else [str(value)]
    if isinstance(value, tuple):
        return [t for item in value for t in _flatten(item)]
    if _has_id(value):
        return []  # a clause of its own
    if dataclasses.is_dataclass(value):
        return _own_text(value)
    return [str(value)] if value is not None else []


def clauses(product: Product) -> dict[str, Clause]:
    """Every object with an ``id`` in the product, keyed by ID, with the text it prints itself."""
    found: dict[str, Clause] = {}

    def walk(obj: Any, path: str, parent: str, index: int) -> None:
        label = parent
        if _has_id(obj):
            title = str(getattr(obj, "title", "") or getattr(obj, "name", "") or getattr(obj, "label", ""))
            # an untitled item (an exclusion, a paragraph) is named by its parent and its ①… position
            label = title or (f"{parent} {CIRCLED[index]}".strip() if 0 <= index < len(CIRCLED) else parent)
            found[obj.id] = Clause(obj.id, path, label, "\n".join(_own_text(obj)))
        if dataclasses.is_dataclass(obj):
            for f in dataclasses.fields(obj):
                if f.name not in ("sources", "file_hashes", "key"):
                    walk(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name, label, -1)
        elif isinstance(obj, tuple):
            for i, item in enumerate(obj):
                walk(item, f"{path}[{i}]", parent, i)

    walk(product, "", "", -1)
    return found


def cells(product: Product) -> dict[str, Cell]:
    """Every premium cell, keyed by class/band/limit so a reordered table still compares cell by cell."""
    rates = product.rates
    out: dict[str, Cell] = {}
    for ci, cls in enumerate(rates.classes):
        for bi, (band, row) in enumerate(zip(rates.bands, cls.premiums, strict=False)):
            for li, (limit, premium) in enumerate(zip(rates.limits, row, strict=False)):
                key = f"{cls.code}/{band.id}/{limit}"
                label = f"{cls.code} {band_label(band.over, band.up_to)} / {format_yen_units(limit)}"
                out[key] = Cell(key, label, f"rates.classes[{ci}].premiums[{bi}][{li}]", premium)
    return out


def documents_using(path: str) -> list[str]:
    """Documents whose content includes the model ``path`` (e.g. ``exclusions.groups[0].items[2]``)."""
    return [doc for doc, prefixes in DOCUMENT_USES.items() if any(path == p or path.startswith((p + ".", p + "[")) for p in prefixes)]


def describe_cell_change(old: Cell, new: Cell) -> str:
    """``D01 5億円以下 / 1億円 149,000円 → 150,000円``"""
    return f"{new.label} {format_yen(old.premium)} → {format_yen(new.premium)}"
