"""Warm lanes: a coalesced run is laid out and merged in a lane's own process, and a lane that dies is replaced."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator import api
from generator.batch import lanes as lanes_module
from generator.batch.lanes import WarmLanes
from generator.content.model import Product
from generator.site import Site

pytestmark = pytest.mark.libreoffice
TODAY = dt.date(2026, 11, 26)
CLIENTS = ["株式会社 車線一", "株式会社 車線二"]


def pdf_text(path: Path) -> str:
    return "".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60).stdout.split())


@pytest.fixture(scope="module")
def lanes() -> Iterator[WarmLanes]:
    made = WarmLanes(1)
    try:
        yield made
    finally:
        made.close()


def build(site: Site, product: Product, lanes: WarmLanes, out: Path, clients: list[str]) -> tuple[list, list]:
    requests = [(None, api.client_request(client=c, industry="製造業", revenue="4.5億", limit="1億")) for c in clients]
    plans, refused = api.planner(site, product, today=TODAY).plan_rows(requests)
    assert not refused
    outs = [out / str(i) for i in range(len(plans))]  # each pack its own folder, as the portal's jobs have
    for folder in outs:
        folder.mkdir(parents=True)
    return api.build_planned(site, product, plans, outs=outs, work=out, typesetter=lanes.typesetter(None))


def lane_pids(lanes: WarmLanes) -> set[int]:
    return {pid for lane in lanes._all for pid in lane._processes}  # type: ignore[attr-defined]


def test_a_run_is_laid_out_and_merged_in_the_lane_process(site: Site, product: Product, lanes: WarmLanes, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    own = dataclasses.replace(site, cache=tmp_path / "cache")
    # this process may not typeset: only the lane's (spawned, its own modules) can
    monkeypatch.setattr(lanes_module, "typeset_and_merge", lambda *a, **k: pytest.fail("typeset in the caller's process"))
    built, failed = build(own, product, lanes, tmp_path / "out", CLIENTS)
    assert not failed and len(built) == 2
    for pack, client in zip(built, CLIENTS, strict=True):
        text = pdf_text(pack.pdf)
        assert "".join(f"{client} 御中".split()) in text  # each pack is its own client's
        assert "".join(next(c for c in CLIENTS if c != client).split()) not in text
        assert pack.provenance()["/DocgenInputsHash"] == pack.plan.digest


def test_a_lane_whose_process_died_is_replaced_and_its_run_still_built(site: Site, product: Product, lanes: WarmLanes,
                                                                        tmp_path: Path) -> None:
    own = dataclasses.replace(site, cache=tmp_path / "cache")
    assert not build(own, product, lanes, tmp_path / "warm", CLIENTS[:1])[1]  # the lane is up
    before = lane_pids(lanes)
    assert before
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    built, failed = build(own, product, lanes, tmp_path / "out", ["株式会社 車線三"])
    assert not failed and len(built) == 1 and built[0].pdf.is_file()  # built here, with the fallback (cold) converter
    built, failed = build(own, product, lanes, tmp_path / "again", ["株式会社 車線四"])
    assert not failed and len(built) == 1
    after = lane_pids(lanes)
    assert after and not after & before  # a new lane process took the next run


def test_a_lane_outlives_the_servers_sigterm_and_its_libreoffice_stops_when_the_lanes_close() -> None:
    import psutil

    # docgen serve's process group gets SIGTERM when it is stopped, its lanes with it: a lane that ended at once left its
    # LibreOffice (a session of its own) running; the server closes its lanes as it stops, and their LibreOffice goes then
    made = WarmLanes(1)
    try:
        assert made._all[0].submit(lanes_module._ready).result(timeout=120)  # type: ignore[attr-defined]  # started
        pids = lane_pids(made)
        below = [c for pid in pids for c in psutil.Process(pid).children(recursive=True)]
        assert any("soffice" in " ".join(p.cmdline()) for p in below), "the lane started no LibreOffice"
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        time.sleep(1)
        assert all(psutil.pid_exists(pid) for pid in pids)  # ignored: the server decides when its lanes stop
    finally:
        made.close()
    gone, alive = psutil.wait_procs(below, timeout=60)
    assert not alive, [p.cmdline()[:2] for p in alive]


def test_wait_ready_returns_once_every_lane_has_its_libreoffice() -> None:
    made = WarmLanes(1)
    try:
        made.wait_ready(timeout=120)
        started = made._all[0].submit(lanes_module._ready)  # type: ignore[attr-defined]
        assert started.result(timeout=5)  # already up: answered at once, no LibreOffice start left to wait for
    finally:
        made.close()
