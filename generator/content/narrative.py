"""The brochure's running sections: letter.yaml, background.yaml, examples.yaml and features.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from generator.content.text import Note, Text, Topic


@dataclass(frozen=True)
class Letter:
    id: str
    title: str
    opening: str
    greeting: tuple[str, ...]
    body: tuple[Text, ...]
    closing_lines: tuple[str, ...]
    closing: str


@dataclass(frozen=True)
class NarrativeSection:
    id: str
    number: int
    title: str
    paragraphs: tuple[Text, ...]
    topics: tuple[Topic, ...] = ()
    figures: tuple[Text, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Background:
    sections: tuple[NarrativeSection, ...]


@dataclass(frozen=True)
class Damage:
    item: str
    amount: int
    approximate: bool = True


@dataclass(frozen=True)
class IncidentCase:
    id: str
    industry: str
    attack: str
    description: str
    damages: tuple[Damage, ...]


@dataclass(frozen=True)
class Examples:
    id: str
    number: int
    title: str
    cases: tuple[IncidentCase, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Feature:
    id: str
    number: int
    title: str
    paragraphs: tuple[str, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Features:
    id: str
    number: int
    title: str
    intro: str
    features: tuple[Feature, ...]
