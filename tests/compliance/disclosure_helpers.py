"""Test-only completion of the required disclosures: placeholder wording marked as test text, never published."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

from generator.content.disclosures import is_missing
from generator.content.model import Product

TEST_WORDING = "（試験用文言：保険会社が記載する正式な文言の代わり）"


def complete_disclosures(product: Product, wording: str = TEST_WORDING) -> Product:
    """``product`` with every pending item given ``wording``; its file hash changes as a real edit's would."""
    items = tuple(dataclasses.replace(x, paragraphs=(wording,), pending="") if is_missing(x) else x for x in product.disclosures.items)
    hashes = dict(product.file_hashes)
    hashes["disclosures.yaml"] = hashlib.sha256((hashes["disclosures.yaml"] + wording).encode()).hexdigest()
    return dataclasses.replace(product, disclosures=dataclasses.replace(product.disclosures, items=items), file_hashes=hashes)


def fill_pending(disclosures: Path) -> None:
    """Give every pending item test wording, as the insurer will give the real one (an edit of the YAML file)."""
    text = re.sub(r"^    pending: .*$", f'    paragraphs:\n      - "{TEST_WORDING}"', disclosures.read_text(encoding="utf-8"), flags=re.M)
    disclosures.write_text(text, encoding="utf-8")
