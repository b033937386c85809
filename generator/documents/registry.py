"""The registry of documents: one declaration per document drives rendering, packs, metadata, provenance and impact.

>>> [d.id for d in PACK]
['letter', 'quote', 'disclosure', 'brochure']
>>> QUOTE.kind(in_pack=True), BROCHURE.kind(in_pack=False), BROCHURE.kind(in_pack=True)
('proposal: お見積書', 'brochure', 'proposal: パンフレット')
>>> [d.id for d in DOCUMENTS if d.prints_premiums]
['brochure', 'quote']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Document:
    """One document docgen makes.

    ``uses`` lists the content sections it prints (top-level Product fields or dotted sub-paths): a change there
    reaches this document. ``part_title`` is its bookmark in a proposal pack, ``word_name`` the Word file a pack
    folder holds for an agent to tweak (personalised parts only), ``stem`` the published file name (``{slug}`` is
    the product's slug).
    """

    id: str
    template: str
    title: str
    uses: tuple[str, ...]
    part_title: str = ""
    word_name: str = ""
    stem: str = ""

    def template_path(self, templates: Path) -> Path:
        return Path(templates) / self.template

    def kind(self, *, in_pack: bool) -> str:
        """The name impact lists and the manifest use: ``brochure``, or ``proposal: パンフレット`` inside a pack."""
        return f"proposal: {self.part_title}" if in_pack else self.id

    @property
    def personalised(self) -> bool:
        """Rendered per client (a Word file in every pack), not laid out once per content version."""
        return bool(self.word_name)

    @property
    def prints_premiums(self) -> bool:
        return any(u in ("rates", "rates.classes") or u.startswith("rates.classes") for u in self.uses)


_WHOLE_PRODUCT = ("meta", "background", "examples", "features", "coverage", "rates", "emergency_support", "exclusions", "risk_services")

BROCHURE = Document("brochure", "brochure.docx", "パンフレット", _WHOLE_PRODUCT, part_title="パンフレット", stem="{slug}_brochure")
WORDING = Document("wording", "wording.docx", "補償内容・保険金をお支払いできない場合",
                   ("meta", "coverage", "rates.expense_ratio_percent", "rates.limits", "exclusions"), stem="{slug}_wording")
LETTER = Document("letter", "letter.docx", "ご案内状", ("meta", "letter"), part_title="ご案内状", word_name="01_ご案内状.docx")
QUOTE = Document("quote", "quote.docx", "お見積書", ("meta", "rates", "coverage.period"), part_title="お見積書", word_name="02_お見積書.docx")
DISCLOSURE = Document("disclosure", "disclosure.docx", "重要事項説明書", ("meta", "coverage", "exclusions", "rates.premises"),
                      part_title="重要事項説明書", word_name="03_重要事項説明書.docx")

DOCUMENTS: tuple[Document, ...] = (BROCHURE, WORDING, LETTER, QUOTE, DISCLOSURE)
PUBLISHED: tuple[Document, ...] = (BROCHURE, WORDING)  # published on their own under outputs/
PERSONALISED: tuple[Document, ...] = (LETTER, QUOTE, DISCLOSURE)  # rendered per client, in this order in a pack
PACK: tuple[Document, ...] = (*PERSONALISED, BROCHURE)  # the pack PDF's parts, one bookmark each
PACK_KINDS: tuple[str, ...] = tuple(d.kind(in_pack=True) for d in PACK)


_BY_ID = {d.id: d for d in DOCUMENTS}


def by_id(doc_id: str) -> Document:
    """The document declared with ``doc_id``; KeyError for an unknown one."""
    return _BY_ID[doc_id]


def uses_by_kind() -> dict[str, tuple[str, ...]]:
    """Content sections per document kind, standalone and inside a pack (the impact list's table)."""
    return {d.kind(in_pack=False): d.uses for d in PUBLISHED} | {d.kind(in_pack=True): d.uses for d in PACK}
