"""Tests for generator.batch.building: which LibreOffice lays out a run built in one go."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.batch import building


@pytest.mark.parametrize(("packs", "warm"), [(1, True), (12, True), (building.ONE_SHOT_FROM - 1, True), (building.ONE_SHOT_FROM, False), (100, False)])
def test_a_long_run_is_laid_out_one_shot_a_short_one_on_the_warm_instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, packs: int, warm: bool) -> None:
    """A Dask chunk of 100 goes one-shot like a local batch (cheaper per pack); a portal's coalesced dozen stays warm."""
    used = []
    monkeypatch.setattr(building, "typeset_and_merge", lambda jobs, folder, layout, timeout, specs, converter: used.append(converter) or [])
    pool = object()
    run = building.in_one_run(None, pool)  # type: ignore[arg-type]
    list(run([object()] * packs, tmp_path, object(), {}))  # type: ignore[list-item, arg-type]
    assert used == [pool if warm else None]
