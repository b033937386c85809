"""The published premium table: rates.yaml (revenue bands, industry classes, premiums per limit)."""

from __future__ import annotations

from dataclasses import dataclass

from generator.content.text import Text


@dataclass(frozen=True)
class Band:
    id: str
    over: int
    up_to: int


@dataclass(frozen=True)
class RateClass:
    code: str
    industries: tuple[str, ...]
    premiums: tuple[tuple[int, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Rates:
    id: str
    title: str
    rates_version: str
    premises_title: str
    premises: tuple[Text, ...]
    notes: tuple[Text, ...]
    expense_ratio_percent: int
    payment_method: str
    limits: tuple[int, ...]
    bands: tuple[Band, ...]
    classes: tuple[RateClass, ...]
    excluded_industries: tuple[str, ...]
    excluded_note: str
