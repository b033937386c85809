"""The whole product as loaded from content/<product>/: its files, product.yaml, disclosures.yaml, where each value was read."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Literal

from generator.content.coverage import Coverage
from generator.content.narrative import Background, Examples, Features, Letter
from generator.content.rates import Rates
from generator.content.services import EmergencySupport, Exclusions, RiskServices

# Every dataclass of the model is built from YAML by generator.content.load: a field without a default is
# required, a field's type is checked, and unknown keys are errors (with did-you-mean). The sections live in
# generator/content/{text,narrative,coverage,rates,services}.py, one module per group of content files.
# Any field named ``id`` is a stable identifier, unique within the product, that compliance
# cites and diffs by.


# --- length limits ----------------------------------------------------------------------

# Characters a text field may hold, by what it is. The longest fields of the product's content today: a title or name
# 39 (emergency_support.features[0].title), a sentence 106 (a flow step's point), a paragraph 163 (a payment clause);
# the printed brochure's longest line is 232. Each limit leaves a wide margin above those, and still stops a field that
# could never print on a page (a 3.5-million-character paragraph) before any check or template reads it.
NAME_LIMIT = 200  # titles, names, labels, IDs, versions, amounts as printed, list entries naming a thing
SENTENCE_LIMIT = 1_000  # one sentence or note: a condition, an exclusion note, a list item, a greeting line
PARAGRAPH_LIMIT = 5_000  # a narrative paragraph or clause text
_PARAGRAPHS = frozenset({"text", "description", "intro", "paragraphs"})
_SENTENCES = frozenset({"condition", "excluded_note", "exclusion_text", "note", "pending", "items", "points", "greeting", "closing_lines"})


def text_limit(key: str) -> tuple[str, int]:
    """What a text field named ``key`` is and the most characters it may hold; a field not listed is held as a sentence.

    >>> text_limit("title"), text_limit("paragraphs"), text_limit("note")
    (('a title or name', 200), ('a paragraph', 5000), ('a sentence', 1000))
    """
    if key in _PARAGRAPHS:
        return "a paragraph", PARAGRAPH_LIMIT
    if key in _SENTENCES:
        return "a sentence", SENTENCE_LIMIT
    if key in _NAMES:
        return "a title or name", NAME_LIMIT
    return "a sentence", SENTENCE_LIMIT


_NAMES = frozenset({"id", "title", "name", "short_name", "display_name", "brochure_title", "premises_title", "label", "caption", "code", "slug",
                    "content_version", "rates_version", "approval_number", "department", "address", "phone", "alias", "attack", "industry",
                    "industries", "excluded_industries", "item", "limit", "deductibles", "mark", "menu", "partners", "functions", "services",
                    "payment_method", "provider", "section", "source", "topic", "opening", "closing"})


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
    # a revision (content/README.md): effective_date is for new business; renewals may take it from another date;
    # end_date is the last start date it quotes (else the day before the next revision's)
    renewal_effective_date: dt.date | None = None
    end_date: dt.date | None = None


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
    # the revision this is (content/<product>/revisions/<name>/, or the product folder's own name for the first)
    revision: str = field(default="", compare=False)
    # where it lives under content/<product>/ and publishes under outputs/: "" for the first, "revisions/<name>" after
    revision_path: str = field(default="", compare=False)

    @property
    def manifest_key(self) -> str:
        """How outputs/manifest.json names this revision's facts: the product key for the first, ``key@name`` after."""
        return f"{self.key}@{self.revision}" if self.revision_path else self.key

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
