"""A site copy with a second revision of サイバーLite effective 2027-04-01 whose D01 / 5億円以下 / 1億円 premium differs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from generator.site import Site
from tests.seed import seed_tables

REPO = Path(__file__).resolve().parents[1]
SECOND = "2027-04"
SECOND_EFFECTIVE = dt.date(2027, 4, 1)
# the seed's printed D01 / 5億円以下 / 1億円 cell (149,000円) and the made-up premium of the test's own second revision
SEED_PREMIUM = seed_tables()["D01"][0][2][3]
NEW_PREMIUM = SEED_PREMIUM + 12_000
RATES_LINE = "      - [55000, 80000, 102000, 149000, 208000]\n"  # content/cyber_lite/rates.yaml's D01 first band, as committed


def copy_site(root: Path) -> Site:
    """content/ and templates/ copied under ``root`` (the repository's content is never touched)."""
    shutil.copytree(REPO / "content", root / "content")
    shutil.copytree(REPO / "templates", root / "templates", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return Site.at(root)


def add_second_revision(site: Site, *, premium: int = NEW_PREMIUM, effective: dt.date = SECOND_EFFECTIVE) -> Path:
    """What `docgen revision new --effective 2027-04-01` makes, then the rate change an actuary would type."""
    from generator import api

    folder = api.start_revision(site, effective, today=dt.date(2026, 12, 6))
    rates = folder / "rates.yaml"
    text = rates.read_text(encoding="utf-8")
    assert text.count(RATES_LINE) == 1, "the test's rate edit no longer matches content/cyber_lite/rates.yaml"
    text = text.replace(RATES_LINE, RATES_LINE.replace(f"{SEED_PREMIUM}", f"{premium}"))
    rates.write_text(text.replace('rates_version: "2026-12"', f'rates_version: "{effective:%Y-%m}"'), encoding="utf-8")
    return folder
