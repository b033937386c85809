"""Impact on issued packs: the ledger's packs that printed a changed clause or premium, and their re-issue."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from generator.cli import main
from generator.compliance.diff import compare
from generator.compliance.impact import affected_packs, clause_stamp, reissue
from generator.content.load import load_product
from generator.content.model import Product
from generator.documents.facts import clauses
from generator.store.audit import AuditEntry, verify
from generator.store.base import utcnow
from generator.store.ledger import Job, PackRecord

REPO = Path(__file__).resolve().parents[2]
CHANGED = "EXC-LIA-04"


def _variant(tmp: Path, name: str, edit) -> Path:  # type: ignore[no-untyped-def]
    root = tmp / name
    shutil.copytree(REPO / "content", root)
    edit(root / "cyber_lite")
    return root


def reword(folder: Path) -> None:
    path = folder / "exclusions.yaml"
    text = path.read_text(encoding="utf-8")
    new = re.sub(rf"(- id: {CHANGED}\n\s+text: )(.*)", r"\1\2（改定）", text, count=1)
    assert new != text
    path.write_text(new, encoding="utf-8")


def reprice(folder: Path) -> None:
    """D01, first band, 1億円 (the seed's 149,000円) becomes 150,000円."""
    path = folder / "rates.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("149000") == 1
    path.write_text(text.replace("149000", "150000"), encoding="utf-8")


def _stamps(p: Product) -> dict[str, str]:
    return {cid: clause_stamp(c.text) for cid, c in clauses(p).items()}


def _pack(session, people, product: Product, client: str, *, stamps: dict[str, str] | None = None, when: dt.datetime | None = None,
          revenue: int = 450_000_000, limit: int = 100_000_000) -> PackRecord:
    agent = people["agent"]
    rec = PackRecord(agency_id=agent.agency_id, agent_id=agent.id, client=client, contact="上", industry="製造業", revenue=revenue, limit=limit,
                     product=product.key, content_version=product.meta.content_version, content_hash=product.digest(), approval_number=None,
                     draft=True, quote_number=f"Q-{client}", premium=149000, pdf_sha256="0" * 64,
                     clauses=_stamps(product) if stamps is None else stamps, created_at=when or utcnow())
    session.add(rec)
    session.flush()
    return rec


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The content roots: as committed, and copies with one clause reworded and one premium changed (made once per module;
    no test writes to them)."""
    tmp = tmp_path_factory.mktemp("impact-content")
    return {"old": REPO / "content", "reworded": _variant(tmp, "reworded", reword), "repriced": _variant(tmp, "repriced", reprice)}


@pytest.fixture(scope="module")
def versions(variants: dict[str, Path]) -> dict[str, Product]:
    """Each root's product, loaded once per module: Products are frozen and the tests only read them."""
    return {name: load_product(root / "cyber_lite") for name, root in variants.items()}


def test_packs_with_the_old_wording_are_listed(session, people, versions) -> None:
    old, new = versions["old"], versions["reworded"]
    hit = _pack(session, people, old, "有限会社 伸和企画", when=dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC))
    _pack(session, people, new, "株式会社 新版")  # already has the new wording
    without = {k: v for k, v in _stamps(old).items() if k != CHANGED}
    _pack(session, people, old, "株式会社 別書類", stamps=without)  # never printed that clause
    found = affected_packs(session, compare(old, new))
    assert [p.client for p in found] == ["有限会社 伸和企画"]
    only = found[0]
    assert only.record_id == hit.id and only.clauses == (CHANGED,) and only.cells == ()
    line = only.line()
    for part in ("有限会社 伸和企画 上", "さくら保険サービス株式会社", "Q-有限会社 伸和企画", "2026-12-02", CHANGED):
        assert part in line


def test_a_changed_premium_reaches_every_pack_of_the_old_version_and_names_the_quoted_cell(session, people, versions) -> None:
    old, new = versions["old"], versions["repriced"]
    _pack(session, people, old, "有限会社 伸和企画")  # D01, 5億円以下, 1億円: the repriced cell
    _pack(session, people, old, "株式会社 小口", limit=10_000_000)  # another cell; its brochure still prints the table
    _pack(session, people, new, "株式会社 新版")
    found = {p.client: p for p in affected_packs(session, compare(old, new))}
    assert sorted(found) == ["有限会社 伸和企画", "株式会社 小口"]
    assert "149,000円 → 150,000円" in found["有限会社 伸和企画"].own_premium
    assert found["株式会社 小口"].own_premium == "" and found["株式会社 小口"].cells


def test_reissue_queues_a_job_per_pack_in_its_agency_and_audits_it(session, people, versions) -> None:
    rec = _pack(session, people, versions["old"], "有限会社 伸和企画")
    session.commit()
    done = reissue(session, [rec.id], people["compliance"], dt.date(2026, 12, 3))
    session.commit()
    (job,) = session.scalars(select(Job).where(Job.id.in_(done.jobs)))
    assert job.kind == "pack" and job.state == "queued" and job.agency_id == rec.agency_id and job.user_id == rec.agent_id
    assert job.params["request"]["client"] == "有限会社 伸和企画" and job.params["reissue_of"] == rec.id
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "reissue")).one()
    assert entry.actor == "compliance@example.jp" and entry.target == f"pack {rec.id}"
    assert verify(session) == []


def test_docgen_diff_lists_the_affected_issued_packs(session, people, versions, variants, database: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _pack(session, people, versions["old"], "有限会社 伸和企画")
    session.commit()
    monkeypatch.setenv("DOCGEN_DATABASE_URL", database)
    err, out = io.StringIO(), io.StringIO()
    new_root = variants["reworded"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["diff", str(REPO / "content"), str(new_root), "--out", str(tmp_path / "diff")])
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "issued packs affected (ledger): 1" in text
    assert "有限会社 伸和企画 上 — さくら保険サービス株式会社 — Q-有限会社 伸和企画" in text and CHANGED in text


@pytest.mark.libreoffice
def test_reissue_job_builds_the_new_pack_from_the_new_version(session, people, versions, database: str, tmp_path: Path) -> None:
    import dataclasses

    from generator.site import Site
    from generator.store import db
    from generator.web.jobs import Worker

    old, new = versions["old"], versions["reworded"]
    rec = _pack(session, people, old, "有限会社 伸和企画")
    session.commit()
    (job_id,) = reissue(session, [rec.id], people["compliance"], dt.date(2026, 12, 3)).jobs
    session.commit()
    site = dataclasses.replace(Site.at(REPO), storage=tmp_path / "storage", cache=tmp_path / "cache")
    eng = db.engine(database)
    worker = Worker(site, db.session_factory(eng), lambda: new, threads=1)
    try:
        worker._run(job_id)  # what the portal's worker thread does with a queued job: a pack job is queued for a run
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the coalescer's lane builds it; shutdown would leave it queued for recover()
            session.expire_all()
            if session.get(Job, job_id).state != "running":
                break
            time.sleep(0.1)
    finally:
        worker.shutdown(wait=True)
        eng.dispose()
    session.expire_all()
    job = session.get(Job, job_id)
    assert job.state == "done", job.reason
    (new_id,) = job.result["packs"]
    built = session.get(PackRecord, new_id)
    assert built.client == "有限会社 伸和企画" and built.agency_id == rec.agency_id and built.content_hash == new.digest()
    assert built.clauses[CHANGED] == clause_stamp(clauses(new)[CHANGED].text) != rec.clauses[CHANGED]
    assert (site.storage / built.storage_key).is_dir()
    assert affected_packs(session, compare(old, new)) and all(p.record_id != new_id for p in affected_packs(session, compare(old, new)))
