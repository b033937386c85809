"""The pieces every content file is made of: clauses and paragraphs with stable IDs, notes, titled lists."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """A clause or paragraph with a stable ID."""

    id: str
    text: str


@dataclass(frozen=True)
class Note:
    """A footnote or caveat; ``mark`` is printed before it (（※１）, （注）, ※)."""

    id: str
    mark: str
    text: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topic:
    """A titled list of points (a box or column in the brochure)."""

    id: str
    title: str
    points: tuple[str, ...] = ()
