"""The printed seed brochure, parsed independently of generator/ so tests can check against it."""

from __future__ import annotations

import re
from pathlib import Path

SEED = Path(__file__).parent / "fixtures" / "seed_brochure.txt"
CLASS_ORDER = ("D01", "D02", "D03")  # the seed prints D01, then D02 (119,000円…), then D03 (82,000円…)
_ROW = re.compile(r"^(?:(\d+)億円超 )?(\d+)億円以下((?: [\d,]+円){5})$")
_HEADER = re.compile(r"^((?:[\d,]+(?:万|億)円 ?){5})$")
OKU, MAN = 100_000_000, 10_000


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def seed_limits() -> list[int]:
    """The five liability limits of the premium tables' header row."""
    header = next(m.group(1) for line in seed_text().splitlines() if (m := _HEADER.match(line)))
    out = []
    for part in header.split():
        number, unit = int(part[:-2].replace(",", "")), part[-2]
        out.append(number * (OKU if unit == "億" else MAN))
    return out


def seed_tables() -> dict[str, list[tuple[int, int, list[int]]]]:
    """class code -> rows of (over, up_to, [premium per limit]) straight from the seed text."""
    rows = []
    for line in seed_text().splitlines():
        m = _ROW.match(line.strip())
        if m:
            over = int(m.group(1) or 0) * OKU
            premiums = [int(cell.rstrip("円").replace(",", "")) for cell in m.group(3).split()]
            rows.append((over, int(m.group(2)) * OKU, premiums))
    assert len(rows) == 15, f"seed should hold 3 tables x 5 bands, found {len(rows)} rows"
    return {code: rows[i * 5 : i * 5 + 5] for i, code in enumerate(CLASS_ORDER)}


def seed_class_industries() -> dict[str, list[str]]:
    """class code -> industries, from the seed's `D01：製造業、小売業、建設業` lines."""
    out = {}
    for line in seed_text().splitlines():
        m = re.match(r"^(D0\d)：(.+)$", line.strip())
        if m:
            out[m.group(1)] = [s.rstrip("※") for s in m.group(2).split("、")]
    return out


# --- the seed's printed text, for checks that must not format numbers with generator.jpformat ---------------


def seed_limit_labels() -> list[str]:
    """The five limits exactly as the seed's header row prints them: 1,000万円 … 3億円."""
    header = next(m.group(1) for line in seed_text().splitlines() if (m := _HEADER.match(line)))
    return header.split()


def seed_printed_tables() -> dict[str, list[tuple[str, list[str]]]]:
    """class code -> rows of (band label, [premium cell]) as printed; the label without the seed's line-break space."""
    rows = []
    for line in seed_text().splitlines():
        m = _ROW.match(line.strip())
        if m:
            label = line.strip()[: line.strip().index("以下") + 2].replace(" ", "")
            rows.append((label, m.group(3).split()))
    return {code: rows[i * 5 : i * 5 + 5] for i, code in enumerate(CLASS_ORDER)}


def seed_damages() -> list[tuple[str, str]]:
    """(item, amount as printed) of every 想定被害額 line, e.g. ('原因調査費用', '約1,000万円'), in seed order."""
    found = []
    for line in seed_text().splitlines():
        m = re.fullmatch(r"(\S+?) ?：(約[\d,]+万円)", line.strip())
        if m:
            found.append((m.group(1), m.group(2)))
    return found
