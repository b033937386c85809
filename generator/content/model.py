"""Typed, immutable content of one insurance product, as loaded from content/<product>/."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Literal

# Every dataclass below is built from YAML by generator.content.load: a field without a default is
# required, a field's type is checked, and unknown keys are errors (with did-you-mean).
# Any field named ``id`` is a stable identifier, unique within the product, that compliance
# cites and diffs by.


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


# --- product.yaml -----------------------------------------------------------------------


@dataclass(frozen=True)
class Insurer:
    name: str
    short_name: str
    department: str = ""
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class ProductMeta:
    slug: str
    name: str
    display_name: str
    content_version: str
    effective_date: dt.date
    approval_number: str
    insurer: Insurer
    brochure_title: str
    quote_valid_days: int = 90  # お見積書の有効期限: issue date + this many days


# --- letter.yaml, background.yaml, examples.yaml, features.yaml ---------------------------


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


# --- coverage.yaml ------------------------------------------------------------------------


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


# --- rates.yaml -----------------------------------------------------------------------------


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


# --- emergency_support.yaml, exclusions.yaml, risk_services.yaml ---------------------------


@dataclass(frozen=True)
class Partner:
    id: str
    name: str


@dataclass(frozen=True)
class SupportFunction:
    """One support function; ``short_name`` is its spelling in the flow diagram (half-width where the seed prints so)."""

    id: str
    name: str
    services: tuple[str, ...]
    partners: tuple[str, ...]
    required: bool = False
    short_name: str = ""


@dataclass(frozen=True)
class FlowStep:
    """One box of the flow diagram: a measure, its points, and the IDs of the support functions serving it."""

    id: str
    title: str
    points: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowStage:
    """One row of the flow: its steps run side by side, an arrow leads on to the next stage."""

    id: str
    steps: tuple[FlowStep, ...]


@dataclass(frozen=True)
class FlowPhase:
    """平時 or 有事: a shaded band holding its stages in order; ``label`` heads the band's first row."""

    id: str
    title: str
    stages: tuple[FlowStage, ...]
    label: str = ""


@dataclass(frozen=True)
class FlowDiagram:
    """緊急時サポート総合サービスの仕組み: a title, a caption, the phases in order, the notes printed beneath it."""

    id: str
    title: str
    caption: str
    phases: tuple[FlowPhase, ...]
    notes: tuple[Text, ...] = ()


@dataclass(frozen=True)
class EmergencySupport:
    id: str
    number: int
    title: str
    summary: tuple[Text, ...]
    condition: str
    functions: tuple[SupportFunction, ...]
    partners: tuple[Partner, ...]
    diagram: FlowDiagram
    features: tuple[Topic, ...]
    notes: tuple[Text, ...] = ()


@dataclass(frozen=True)
class SubItem:
    label: str
    text: str


@dataclass(frozen=True)
class Exclusion:
    id: str
    text: str
    note: str = ""
    subitems: tuple[SubItem, ...] = ()


@dataclass(frozen=True)
class ExclusionGroup:
    id: str
    title: str
    items: tuple[Exclusion, ...]


@dataclass(frozen=True)
class Exclusions:
    id: str
    number: int
    title: str
    intro: str
    groups: tuple[ExclusionGroup, ...]


@dataclass(frozen=True)
class RiskService:
    id: str
    name: str
    description: str
    fee: Literal["free", "paid"]
    menu: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskServices:
    id: str
    number: int
    title: str
    provider: str
    intro: str
    services: tuple[RiskService, ...]


# --- disclosures.yaml: the 重要事項説明書's required items ------------------------------------


@dataclass(frozen=True)
class DisclosureItem:
    """One item the 重要事項説明書 must carry (監督指針 II-4-2-2(2), the association's guideline).

    ``topic`` names the guideline's item (see generator/content/disclosures.py REQUIRED). The item is
    printed from other content (``source``: a section the 重要事項説明書 already prints, e.g. ``exclusions``)
    or from its own approved ``paragraphs``. Neither means the insurer has not supplied the wording yet:
    ``pending`` says what is needed, the item counts as missing, and a draft prints a placeholder.
    """

    id: str
    part: Literal["契約概要", "注意喚起情報"]
    topic: str
    title: str
    source: str = ""
    paragraphs: tuple[str, ...] = ()
    pending: str = ""


@dataclass(frozen=True)
class Disclosures:
    id: str
    items: tuple[DisclosureItem, ...]


# --- the whole product ------------------------------------------------------------------------

# file name in content/<product>/ -> Product field it fills
CONTENT_FILES: dict[str, str] = {
    "product.yaml": "meta",
    "letter.yaml": "letter",
    "background.yaml": "background",
    "examples.yaml": "examples",
    "features.yaml": "features",
    "coverage.yaml": "coverage",
    "rates.yaml": "rates",
    "emergency_support.yaml": "emergency_support",
    "exclusions.yaml": "exclusions",
    "risk_services.yaml": "risk_services",
    "disclosures.yaml": "disclosures",  # optional: versions from before it count every required item as missing
}


@dataclass(frozen=True)
class Source:
    """Where a value was read: file (relative to the repo) and 1-based line."""

    file: str
    line: int


@dataclass(frozen=True)
class Product:
    key: str  # folder name under content/
    meta: ProductMeta
    letter: Letter
    background: Background
    examples: Examples
    features: Features
    coverage: Coverage
    rates: Rates
    emergency_support: EmergencySupport
    exclusions: Exclusions
    risk_services: RiskServices
    disclosures: Disclosures | None = None
    # "rates.classes[0].premiums[2][3]" -> Source; used by errors and the drift check
    sources: dict[str, Source] = field(default_factory=dict, compare=False, repr=False)
    # file name -> sha256 of its bytes
    file_hashes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def digest(self) -> str:
        """Short hash of every content file's bytes: printed on documents so a copy can be traced."""
        joined = "".join(f"{name}:{digest}\n" for name, digest in sorted(self.file_hashes.items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:12]

    def source(self, path: str) -> Source:
        """Best-known location of ``path``, falling back to its nearest located parent."""
        while path:
            if path in self.sources:
                return self.sources[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return Source("content/" + self.key, 0)
