"""Client lists on a Dask cluster: the same packs, errors and resume as a local run, through lost workers and clients.

One LocalCluster of two worker processes (processes=True, dashboard off, 127.0.0.1) serves the module. Content and
templates are a copy in a temp folder, so the workers can only have them from the bundle the client uploads.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import uuid
from pathlib import Path

import fsspec
import pytest
from pypdf import PdfReader

from generator import api
from generator.batch import assemble, runner
from generator.batch.clients import read_client_rows
from generator.batch.distributed import ClusterSummary, _checked_rows, cluster, run_list
from generator.batch.manifest import BATCH_DIR, STAGING
from generator.batch.storage import Destination
from generator.batch.worker import ChunkSpec, build_chunk, make_bundle
from generator.documents.pdfa_check import check as pdfa_check
from generator.documents.provenance import PAGE_HASHES
from generator.errors import ClusterError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "clients"
TODAY = dt.date(2026, 12, 1)
HEADER = ["会社名", "担当者", "業種", "売上高", "賠償保険金額", "代理店名", "代理店連絡先", "日付"]
WORD_FILES = ["01_ご案内状.docx", "02_お見積書.docx", "03_重要事項説明書.docx"]
FORMS = ["株式会社 {}", "有限会社 {}", "{}株式会社", "学校法人 {}", "合同会社 {}"]
NAMES = ["東都", "伸和", "髙﨑", "桜ヶ丘", "ミナト", "北斗", "青葉", "&アンド<株>"]
CONTACTS = ["", "山田", "佐藤 花子", "髙橋 一郎"]
INDUSTRIES = ["製造業", "小売業", "建設業", "物流業", "印刷", "学校", "通信", "その他"]
REVENUES = ["4.5億", "9,000万", "12億", "450000000", "80億", "5億"]
LIMITS = ["1000万", "3000万", "5000万", "1億", "3億"]
# 17 good rows and 3 bad in chunks of 5: four tasks, two rounds on two workers, none left alone in a third round
GOOD, ROWS, CHUNK = 17, 20, 5
# the kill tests need only chunks in flight on both workers and one more after: four chunks of two clients
KILL_ROWS, KILL_CHUNK = 8, 2


def good_rows(n: int, start: int = 0) -> list[list[str]]:
    """``n`` distinct insurable clients (every limit, several classes and bands, 旧字体, & and <, with and without contact)."""
    rows = []
    for i in range(start, start + n):
        name = FORMS[i % len(FORMS)].format(f"{NAMES[i % len(NAMES)]}{i + 1:03d}")
        agent = ("さくら保険サービス株式会社", "担当：山本") if i % 3 else ("", "")
        rows.append([name, CONTACTS[i % len(CONTACTS)], INDUSTRIES[i % len(INDUSTRIES)], REVENUES[i % len(REVENUES)],
                     LIMITS[i % len(LIMITS)], *agent, "2026-11-26"])
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def _text(page) -> str:  # noqa: ANN001 - a pypdf page
    """A page's text, NFKC, whitespace folded away (pypdf spaces glyphs a hair apart differently)."""
    return "".join(unicodedata.normalize("NFKC", page.extract_text() or "").split())


def same_text(ours: bytes, theirs: bytes) -> None:
    """The same pages with the same text. A page whose stamped hash (/DocgenPageHashes: what it draws) is the same in
    both is the same page (the brochure's, as a rule); only the others are read, text extraction being the slow part."""
    a, b = PdfReader(io.BytesIO(ours)), PdfReader(io.BytesIO(theirs))
    ha, hb = str(a.metadata[PAGE_HASHES]).split(), str(b.metadata[PAGE_HASHES]).split()
    assert len(ha) == len(a.pages) and len(hb) == len(b.pages) and len(ha) == len(hb)
    differ = [i for i, (x, y) in enumerate(zip(ha, hb, strict=True)) if x != y]
    assert [_text(a.pages[i]) for i in differ] == [_text(b.pages[i]) for i in differ], differ


def pack_files(root: Path) -> dict[str, dict[str, bytes]]:
    """Every pack folder under ``root`` (one with pack.json): file name -> bytes."""
    return {p.parent.name: {f.name: f.read_bytes() for f in p.parent.iterdir()} for p in root.glob(f"*/{assemble.MANIFEST}")}


def same_pack(ours: dict[str, bytes], local: dict[str, bytes], pdf_name: str) -> None:
    assert sorted(ours) == sorted(local)
    for name in WORD_FILES:  # rendered from the same template and context: the same bytes
        assert ours[name] == local[name], name
    assert json.loads(ours[assemble.MANIFEST]) == json.loads(local[assemble.MANIFEST])
    if ours[pdf_name] != local[pdf_name]:  # the same bytes (as a rule here) is the same text; otherwise compare the text
        same_text(ours[pdf_name], local[pdf_name])


def install_counts(dest: Path) -> dict[str, int]:
    """How often each pack folder was installed, from every worker's install log of every batch in ``dest``."""
    counts: dict[str, int] = {}
    for log in dest.glob(f"{BATCH_DIR}/*/installs/*.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            counts[line.split("\t")[0]] = counts.get(line.split("\t")[0], 0) + 1
    return counts


def leftovers(root: Path) -> list[str]:
    staging = root / STAGING
    found = [str(p) for p in staging.iterdir()] if staging.is_dir() else []
    return found + [str(p) for p in root.rglob("*") if p.name.endswith((".part", ".tmp")) or p.name.startswith((".staging-", ".bundle-"))]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> api.Site:
    """The repository's content and templates copied away: workers can only get them from the client's bundle."""
    repo = api.Site.from_env()
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(repo.content, root / "content")
    shutil.copytree(repo.templates, root / "templates")
    return api.Site.at(root)


@pytest.fixture(scope="module")
def product(site: api.Site):
    return api.load(site, lint=False)  # the templates are linted by the compliance tests


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 rows: 17 good clients, a bad amount, a refused industry and a repeated client (row 12 again)."""
    rows = good_rows(GOOD)
    rows.insert(5, ["株式会社 サンプル", "山田", "小売業", "たくさん", "1億", "", "", "2026-11-26"])
    rows.insert(12, ["株式会社 みなと信用", "佐藤", "金融", "10億", "1億", "", "", "2026-11-26"])
    rows.insert(16, list(rows[10]))
    assert len(rows) == ROWS
    return write_csv(tmp_path_factory.mktemp("lists") / "clients.csv", rows)


@pytest.fixture(scope="module")
def local(site: api.Site, product, listing: Path, tmp_path_factory: pytest.TempPathFactory):
    """The same list built locally, as `docgen proposals` does without a cluster."""
    out = tmp_path_factory.mktemp("local")
    summary = runner.run_client_list(site, product, listing, out=out, today=TODAY, jobs=2)
    assert len(summary.built) == GOOD and len(summary.errors) == 3, summary.line()
    return out, summary


@pytest.fixture(scope="module")
def client():
    with cluster(workers=2, lease_timeout="3s") as c:
        yield c


# --- without a cluster: the client's checks and the worker's refusals ----------------------------


@pytest.mark.parametrize("fixture", ["bad.middle-rows-revenue-industry-limit.csv", "names.edge-cases.csv"])
def test_client_checks_rows_like_a_local_run(site: api.Site, product, fixture: str) -> None:
    """Bad values, refusals, referrals and repeated clients: the same error rows as a local run's planning."""
    local = runner.Summary(Path("unused"))
    planned = runner.plan_rows(site, product, read_client_rows(FIXTURES / fixture), TODAY, local)
    ours = ClusterSummary("unused")
    accepted = list(_checked_rows(site, product, FIXTURES / fixture, ours.errors.extend))
    assert [r for r, *_ in accepted] == [p.request.row for p in planned]
    assert [p for _, _, p, *_ in accepted] == [p.quote.premium for p in planned]
    assert [(e.row, e.column, e.value, e.reason) for e in ours.errors] == [(e.row, e.column, e.value, e.reason) for e in local.errors]
    assert local.errors, "the fixture has bad rows"


def _spec(site: api.Site, product, tmp: Path, **changes) -> tuple[ChunkSpec, bytes]:
    brochure = tmp / "brochure.pdf"
    brochure.write_bytes(b"%PDF-1.4 not read before the checks")
    bundle_hash, data = make_bundle(site.content / product.key, site.templates, brochure)
    from generator import __version__

    spec = ChunkSpec("c1", "b1", "r1", str(tmp / "out"), ((2, {"client": "x"}),), TODAY, bundle_hash, product.digest(), __version__,
                     time.time(), lock=False)
    return dataclasses.replace(spec, **changes), data


def test_worker_refuses_a_bundle_that_is_not_the_clients(site: api.Site, product, tmp_path: Path) -> None:
    spec, data = _spec(site, product, tmp_path)
    with pytest.raises(ClusterError, match=r"hash is not the client's .*refused: nothing was built"):
        build_chunk(spec, data[:-1] + bytes([data[-1] ^ 1]))
    assert not (tmp_path / "out").exists()


def test_worker_refuses_other_docgen_or_content(site: api.Site, product, tmp_path: Path) -> None:
    spec, data = _spec(site, product, tmp_path, version="0.0.0-other")
    with pytest.raises(ClusterError, match=r"runs docgen .* but the client runs 0\.0\.0-other"):
        build_chunk(spec, data)
    spec, data = _spec(site, product, tmp_path, product_digest="0123456789ab")
    with pytest.raises(ClusterError, match=r"loads content .* but the client sent 0123456789ab; refused"):
        build_chunk(spec, data)
    assert not (tmp_path / "out").exists()


def test_worker_prints_the_clients_approval_not_its_own(site: api.Site, product, tmp_path: Path) -> None:
    """The approval in force comes from the client's database; a worker has none and must not build drafts of it."""
    from generator.batch.worker import DocgenPlugin

    for number in ("SJ-2026-0042", ""):
        spec, data = _spec(site, product, tmp_path, approval=number)
        assert DocgenPlugin().context(spec, data).product.meta.approval_number == number


def test_bundle_is_the_same_bytes_every_time(site: api.Site, product, tmp_path: Path) -> None:
    brochure = tmp_path / "b.pdf"
    brochure.write_bytes(b"x")
    first = make_bundle(site.content / product.key, site.templates, brochure)
    os.utime(site.templates / "letter.docx", (1, 1))  # times are not part of it
    assert make_bundle(site.content / product.key, site.templates, brochure) == first
    brochure.write_bytes(b"y")
    assert make_bundle(site.content / product.key, site.templates, brochure)[0] != first[0]


def test_store_counts_a_pack_only_when_complete(tmp_path: Path) -> None:
    dest = Destination(f"memory://docgen-test-{uuid.uuid4().hex}/out")
    built = tmp_path / "pack"
    built.mkdir()
    (built / "a.pdf").write_bytes(b"pdf")
    (built / assemble.MANIFEST).write_text(json.dumps({"digest": "d1", "files": ["a.pdf"], "client": "c"}))
    assert dest.pack_state("p") is None
    dest.upload_pack(built, "p")
    assert dest.pack_state("p")["digest"] == "d1"
    dest.fs.rm_file(dest.path("p/a.pdf"))
    assert dest.pack_state("p") is None  # pack.json alone is no pack


# --- on the cluster -------------------------------------------------------------------------------


@pytest.mark.libreoffice
def test_folder_gets_the_packs_and_errors_of_a_local_run(client, site: api.Site, product, listing: Path, local, tmp_path: Path) -> None:
    local_out, local_summary = local
    out = tmp_path / "dest"
    lines: list[dict] = []
    seen: list[tuple[int, int]] = []
    summary = run_list(client, site, product, listing, out, today=TODAY, chunk=CHUNK, on_pack=lines.append, progress=lambda d, t: seen.append((d, t)))
    assert summary.line() == local_summary.line().replace(str(local_out), str(out))
    assert (out / runner.ERRORS_FILE).read_bytes() == (local_out / runner.ERRORS_FILE).read_bytes()
    ours, theirs = pack_files(out), pack_files(local_out)
    assert sorted(ours) == sorted(theirs) and len(ours) == GOOD
    pdf_name = local_summary.built[0].plan.pdf_name
    for folder in theirs:
        same_pack(ours[folder], theirs[folder], pdf_name)
    # PDF/A-2b, tagged, in Japanese from both paths: a worker's pack and the local batch path's (issue 26)
    assert {folder: pdfa_check(out / folder / pdf_name) for folder in ours} == dict.fromkeys(ours, [])
    assert {folder: pdfa_check(local_out / folder / pdf_name) for folder in theirs} == dict.fromkeys(theirs, [])
    # --json lines: one per pack, the local run's fields, this destination's paths
    local_lines = {p.folder.name: p.as_dict() for p in local_summary.built}
    assert sorted(Path(line["folder"]).name for line in lines) == sorted(local_lines)
    for line in lines:
        expected = local_lines[Path(line["folder"]).name]
        assert line == expected | {k: expected[k].replace(str(local_out), str(out)) for k in ("folder", "pdf")} | {
            "docx": [d.replace(str(local_out), str(out)) for d in expected["docx"]]}
    assert seen[-1] == (ROWS, ROWS) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert max(install_counts(out).values()) == 1
    assert leftovers(out) == []

    # the same command again: every pack up to date and not rewritten (errors.csv is written afresh, as locally)
    packs = [p for p in out.glob("*/*") if BATCH_DIR not in p.parts]
    before = {p: p.stat().st_mtime_ns for p in packs}
    again = run_list(client, site, product, listing, out, today=TODAY, chunk=CHUNK)
    assert (again.built, again.skipped, len(again.errors), again.resumed) == (0, GOOD, 3, again.chunks)
    assert {p: p.stat().st_mtime_ns for p in packs} == before and len(packs) == GOOD * 5
    assert (out / runner.ERRORS_FILE).read_bytes() == (local_out / runner.ERRORS_FILE).read_bytes()


def _worker_packs(root: str, pdf_name: str) -> dict:
    """Run on each worker: the packs its own memory:// holds (memory file systems are per process)."""
    fs = fsspec.filesystem("memory")
    found = {}
    for marker in fs.glob(f"{root}/*/pack.json"):
        folder = marker.rsplit("/", 2)[-2]
        found[folder] = {name.rsplit("/", 1)[-1]: fs.cat_file(name) for name in fs.ls(marker.rsplit("/", 1)[0], detail=False)}
    return found


@pytest.mark.libreoffice
def test_memory_url_packs_are_written_by_the_workers(client, site: api.Site, product, listing: Path, local) -> None:
    local_out, local_summary = local
    url = f"memory://docgen-test-{uuid.uuid4().hex}/packs"
    summary = run_list(client, site, product, listing, url, today=TODAY, chunk=CHUNK)
    assert (summary.built, summary.skipped, len(summary.errors)) == (GOOD, 0, 3)
    dest = Destination(url)
    # this process (the client) holds errors.csv and no pack: the packs never came through it
    assert dest.read_bytes(runner.ERRORS_FILE) == (local_out / runner.ERRORS_FILE).read_bytes()
    assert dest.fs.glob(f"{dest.root}/*/pack.json") == []
    pdf_name = local_summary.built[0].plan.pdf_name
    per_worker = client.run(_worker_packs, dest.root, pdf_name)
    assert len(per_worker) == 2
    folders = [f for packs in per_worker.values() for f in packs]
    assert sorted(folders) == sorted(pack_files(local_out)) and len(folders) == len(set(folders)) == GOOD  # each pack once
    theirs = pack_files(local_out)
    for packs in per_worker.values():
        for folder, files in packs.items():
            same_pack(files, theirs[folder], pdf_name)


def _kill_busy_worker(client) -> int:
    """SIGKILL a worker process that is running a chunk now; its nanny starts a new one."""
    for _ in range(400):
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            return pid
        time.sleep(0.05)
    raise AssertionError("no worker was busy")


@pytest.mark.libreoffice
def test_a_worker_killed_mid_batch_loses_no_pack_and_builds_none_twice(client, site: api.Site, product, local, tmp_path: Path) -> None:
    local_out, local_summary = local
    listing = write_csv(tmp_path / "kill.csv", good_rows(KILL_ROWS))
    out = tmp_path / "dest"
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if done and not killed:  # the first chunk is back: the other worker is inside its chunk
            killed.append(_kill_busy_worker(client))

    summary = run_list(client, site, product, listing, out, today=TODAY, chunk=KILL_CHUNK, progress=progress)
    assert killed
    assert (summary.built, summary.skipped, summary.errors) == (KILL_ROWS, 0, [])
    ours = pack_files(out)
    assert len(ours) == KILL_ROWS
    theirs = pack_files(local_out)
    pdf_name = local_summary.built[0].plan.pdf_name
    for folder, files in ours.items():
        same_pack(files, theirs[folder], pdf_name)
    assert set(install_counts(out).values()) == {1}  # every pack installed once, the lost worker's included
    assert leftovers(out) == []  # the dead worker's staging was removed by a worker on its host


@pytest.mark.libreoffice
def test_a_chunk_this_run_finished_before_its_worker_died_counts_as_built(site: api.Site, product, tmp_path: Path) -> None:
    """A worker killed after its chunk was done, before the client fetched the result: the scheduler runs the chunk
    again, which finds it done in the manifest. Those packs are this run's: built, not "up to date" (the killed-worker
    test above lands here or in the rebuild, as the kill's timing falls). The same command run later finds them up to date."""
    from generator import __version__
    from generator.batch.manifest import chunk_id

    bundle_hash, data = make_bundle(site.content / product.key, site.templates, runner.cached_brochure(product, site))
    rows = tuple(read_client_rows(write_csv(tmp_path / "one.csv", good_rows(1))))
    spec = ChunkSpec(chunk_id(rows), "b1", "run-1", str(tmp_path / "out"), rows, TODAY, bundle_hash, product.digest(), __version__,
                     time.time(), lock=False)
    first = build_chunk(spec, data)
    again = build_chunk(spec, data)  # the same task once more: the worker holding its result was killed
    later = build_chunk(dataclasses.replace(spec, run="run-2"), data)  # the same command run again another time
    assert [line["status"] for line in first.packs] == ["built"] and not first.resumed
    assert again.packs == first.packs and not again.resumed
    assert [line["status"] for line in later.packs] == ["up to date"] and later.resumed
    assert set(install_counts(tmp_path / "out").values()) == {1}  # built once, whatever was reported


def _cli(listing: Path, out: Path, site: api.Site, scheduler: str) -> list[str]:
    return [sys.executable, "-m", "generator", "proposals", str(listing), "--out", str(out), "--scheduler", scheduler, "--chunk", str(KILL_CHUNK)]


@pytest.mark.libreoffice
def test_killed_client_then_same_command_finishes_the_batch(client, site: api.Site, product, local, tmp_path: Path) -> None:
    local_out, local_summary = local
    listing = write_csv(tmp_path / "kill.csv", good_rows(KILL_ROWS, start=KILL_ROWS))
    out = tmp_path / "dest"
    env = {**os.environ, "DOCGEN_CONTENT": str(site.content), "DOCGEN_TEMPLATES": str(site.templates), "DOCGEN_CACHE": str(site.cache),
           "PYTHONPATH": str(REPO)}
    cmd = _cli(listing, out, site, client.scheduler.address)
    first = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 150
    while len(list(out.glob(f"*/{assemble.MANIFEST}"))) < KILL_CHUNK and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, first.communicate()
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    assert len(list(out.glob(f"*/{assemble.MANIFEST}"))) < KILL_ROWS, "the client was killed before the end"

    second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    built, skipped = (int(n) for n in re.search(r"packs: (\d+) built, (\d+) up to date, 0 failed", second.stdout).groups())
    assert built + skipped == KILL_ROWS and skipped >= KILL_CHUNK
    ours = pack_files(out)
    assert len(ours) == KILL_ROWS
    theirs = pack_files(local_out)
    pdf_name = local_summary.built[0].plan.pdf_name
    for folder, files in ours.items():
        same_pack(files, theirs[folder], pdf_name)
    assert set(install_counts(out).values()) == {1}  # the killed run's packs were not built again
    assert leftovers(out) == []
