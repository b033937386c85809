"""Published outputs are the same bytes whatever the cache holds: a fresh clone (empty outputs/.cache) must
rebuild exactly what compliance committed from a machine whose cache other runs had already filled."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from generator.content.model import Product

pytestmark = pytest.mark.libreoffice


def tree(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every published file under ``root`` (the staging and cache folders excluded)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.relative_to(root).as_posix().startswith(".")}


def test_published_bytes_do_not_depend_on_the_cache(site, product: Product, tmp_path: Path) -> None:
    from generator import api

    cold = replace(site, outputs=tmp_path / "cold", cache=tmp_path / "cold-cache")
    api.build(cold, [product])

    # the committing machine: an agent's run for another client filled its cache before the published build
    warm = replace(site, outputs=tmp_path / "warm", cache=tmp_path / "warm-cache")
    other = api.client_request(client="株式会社 髙﨑ロジスティクス", contact="佐藤 花子", industry="物流業", revenue="12億", limit="3億",
                               agent_name="さくら保険サービス株式会社", agent_contact="担当：山本")
    api.build_pack(warm, product, other, out=tmp_path / "agent", today=dt.date(2026, 11, 3))
    assert any((tmp_path / "warm-cache").iterdir())
    api.build(warm, [product])

    cold_files, warm_files = tree(tmp_path / "cold"), tree(tmp_path / "warm")
    assert any(name.endswith("ご提案書.pdf") for name in cold_files)
    assert {"brochure", "wording", "sample-pack", "manifest.json"} <= {name.split("/")[0] for name in cold_files}
    assert cold_files == warm_files, [name for name in cold_files if cold_files[name] != warm_files.get(name)]
