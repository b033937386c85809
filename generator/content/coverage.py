"""What the policy covers: coverage.yaml (what is paid, accident examples, limits, who may join, period)."""

from __future__ import annotations

from dataclasses import dataclass

from generator.content.text import Note, Text


@dataclass(frozen=True)
class CoverageSection:
    id: str
    label: str
    title: str
    optional: bool
    description: str = ""
    alias: str = ""
    items: tuple[Text, ...] = ()


@dataclass(frozen=True)
class Payment:
    id: str
    title: str
    sections: tuple[CoverageSection, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class AccidentCategory:
    id: str
    title: str
    cases: tuple[Text, ...]
    mark: str = ""


@dataclass(frozen=True)
class Accidents:
    id: str
    title: str
    intro: str
    categories: tuple[AccidentCategory, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class LimitRow:
    id: str
    section: str
    limit: str
    deductibles: tuple[str, ...]


@dataclass(frozen=True)
class Limits:
    id: str
    title: str
    intro: str
    rows: tuple[LimitRow, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Eligibility:
    id: str
    title: str
    text: str
    exclusion_text: str


@dataclass(frozen=True)
class Clause:
    """A titled clause: one or more paragraphs and optional notes."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Coverage:
    id: str
    number: int
    title: str
    intro: str
    causes: tuple[Text, ...]
    payment: Payment
    accidents: Accidents
    limits: Limits
    eligibility: Eligibility
    insured: Clause
    period: Clause
    retro_date: Clause
