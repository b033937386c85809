"""A client list mixing start dates on both sides of a rate change: each pack priced and documented by its own revision."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from generator import api
from generator.batch.distributed import cluster, run_list
from generator.cli import main
from tests.revisions_kit import NEW_PREMIUM, SECOND, SEED_PREMIUM, add_second_revision, copy_site

pytestmark = pytest.mark.libreoffice
TODAY = dt.date(2026, 12, 6)
# (client, start, renewal) → the revision and premium each pack must carry; one 更新 row takes --renewal's path
ROWS = [("有限会社 伸和企画", "2027-03-31", "", "2026-12", SEED_PREMIUM),
        ("東都印刷株式会社", "2027-04-01", "", SECOND, NEW_PREMIUM),
        ("株式会社 みなと工業", "令和9年4月2日", "更新", SECOND, NEW_PREMIUM),
        ("株式会社 北斗製作所", "2027-01-15", "", "2026-12", SEED_PREMIUM)]


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> api.Site:
    site = copy_site(tmp_path_factory.mktemp("site"))
    add_second_revision(site)
    return site


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lists") / "clients.csv"
    lines = ["会社名,業種,売上高,賠償保険金額,日付,保険始期日,更新"]
    lines += [f"{client},製造業,4.5億,1億,2026-12-06,{start},{renewal}" for client, start, renewal, *_ in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_pack(site: api.Site, folder: Path, revision: str, premium: int, start: str) -> None:
    """The pack's own record, its PDF's provenance and its printed お見積書 all name the right revision and premium."""
    sched = api.schedule(site, lint=False, today=TODAY)
    rev = sched.by_name(revision)
    record = json.loads((folder / "pack.json").read_text(encoding="utf-8"))
    assert (record["premium"], record["revision"], record["revision_effective"]) == (premium, revision, rev.effective.isoformat())
    pdf = next(folder.glob("*.pdf"))
    reader = PdfReader(pdf)
    meta = reader.metadata or {}
    assert meta["/DocgenContentHash"] == rev.product.digest() and meta["/DocgenRatesVersion"] == rev.product.rates.rates_version
    assert meta["/DocgenPremium"] == str(premium)
    text = "".join(page.extract_text() or "" for page in reader.pages).replace(" ", "").replace("\n", "")
    printed = f"{premium // 1000},{premium % 1000:03d}円"
    assert printed in text
    assert f"保険始期日：{start}（改定{revision}、承認番号未取得）" in text
    other = SEED_PREMIUM if premium == NEW_PREMIUM else NEW_PREMIUM
    assert f"{other // 1000},{other % 1000:03d}円" not in text  # the brochure's table is the revision's own too


STARTS = {"2027-03-31": "令和9年3月31日", "2027-04-01": "令和9年4月1日", "令和9年4月2日": "令和9年4月2日", "2027-01-15": "令和9年1月15日"}


def test_cli_builds_each_pack_from_its_revision(two: api.Site, listing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "packs"
    code = main(["--content", str(two.content), "--templates", str(two.templates), "--cache", str(tmp_path / "cache"),
                 "proposals", str(listing), "--out", str(out), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(r["client"], r["revision"], r["premium"], r["status"]) for r in records] == [(c, rev, p, "built") for c, _, _, rev, p in ROWS]
    assert [r["renewal"] for r in records] == [False, False, True, False]
    for (client, start, _renewal, revision, premium), record in zip(ROWS, records, strict=True):
        check_pack(two, Path(record["folder"]), revision, premium, STARTS[start])
        assert client in record["folder"]


def test_dask_local_cluster_builds_each_pack_from_its_revision(two: api.Site, listing: Path, tmp_path: Path) -> None:
    sched = api.schedule(two, lint=False, today=TODAY)
    product = api.revision_for(sched, today=TODAY).product
    out = tmp_path / "dest"
    lines: list[dict] = []
    with cluster(workers=1) as client:
        summary = run_list(client, two, product, listing, out, today=TODAY, chunk=2, schedule=sched, on_record=lines.append)
    assert (summary.built, summary.errors) == (len(ROWS), [])
    assert [(r["row"], r["revision"], r["premium"]) for r in lines] == [(i, rev, p) for i, (_, _, _, rev, p) in enumerate(ROWS, 2)]
    for (_client, start, _renewal, revision, premium), line in zip(ROWS, lines, strict=True):
        check_pack(two, Path(line["folder"]), revision, premium, STARTS[start])


def test_each_pack_verifies_against_its_revision_also_after_the_next_took_effect(
        two: api.Site, listing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "packs"
    argv = ["--content", str(two.content), "--templates", str(two.templates), "--cache", str(tmp_path / "cache")]
    assert main([*argv, "proposals", str(listing), "--out", str(out), "-q"]) == 0
    capsys.readouterr()

    class Later(dt.date):  # 2027-05-01: the second revision is in force for new business and renewals
        @classmethod
        def today(cls) -> dt.date:
            return dt.date(2027, 5, 1)

    import generator.api

    monkeypatch.setattr(generator.api.dt, "date", Later)
    pdfs = [str(next((out / folder).glob("*.pdf"))) for folder in sorted(p.name for p in out.iterdir() if p.is_dir())]
    assert main([*argv, "verify", "--json", *pdfs]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    sched = api.schedule(two, lint=False, today=TODAY)
    assert sorted(r["current"] for r in results) == sorted(sched.by_name(rev).product.digest() for *_, rev, _ in ROWS)
    assert all(r["status"] == "matches" and r["built_from"] == r["current"] and not r["premiums"] for r in results), results
