"""Publishing per revision: a second revision approved for next April is published beside the first, whose bytes stay."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from generator import api
from generator.cli import main
from generator.store import db
from generator.store.accounts import Agency, User
from generator.store.approvals import Approval
from tests.revisions_kit import REPO, SECOND, SECOND_EFFECTIVE, add_second_revision, copy_site

pytestmark = pytest.mark.libreoffice


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _approve(site: api.Site, content_hash: str, number: str, valid_from: dt.date) -> None:
    """An approval row as `docgen approve` writes it (the workflow's own rules are tested in test_workflow.py; the
    seed's content cannot pass them: required disclosure wording is missing)."""
    url = f"sqlite:///{site.storage / 'docgen.sqlite3'}"
    site.storage.mkdir(parents=True, exist_ok=True)
    db.upgrade(url)
    engine = db.engine(url)
    with db.session_factory(engine)() as session:
        user = User(email="compliance@example.jp", name="compliance", password_hash="!unusable", role="compliance",
                    agency=Agency(name="損保ジャパン 本社"))
        session.add(user)
        session.flush()
        session.add(Approval(product="cyber_lite", content_hash=content_hash, content_version="1.0.0", approval_number=number,
                             approver_id=user.id, valid_from=valid_from))
        session.commit()
    engine.dispose()


def test_an_approved_second_revision_publishes_beside_the_first_and_changes_none_of_its_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DOCGEN_DATABASE_URL", raising=False)
    site = copy_site(tmp_path)
    monkeypatch.setenv("DOCGEN_STORAGE", str(site.storage))  # the approvals database docgen reads is this site's
    shutil.copytree(REPO / "outputs", site.outputs, ignore=shutil.ignore_patterns(".cache", "proposals", "diff"))
    committed = json.loads((site.outputs / "manifest.json").read_text(encoding="utf-8"))
    first = {rel: _sha(site.outputs / rel) for rel in committed["outputs"]}
    argv = ["--content", str(site.content), "--templates", str(site.templates), "--outputs", str(site.outputs)]

    folder = add_second_revision(site)
    assert main([*argv, "check"]) == 0, capsys.readouterr().err  # a draft for next April is not published: nothing drifted
    capsys.readouterr()

    second = api.schedule(site, lint=False).by_name(SECOND).product
    _approve(site, second.digest(), "CL-2027-001", SECOND_EFFECTIVE)
    assert main([*argv, "build", "--json"]) == 0, capsys.readouterr().err
    built = json.loads(capsys.readouterr().out)
    paths = {Path(o["path"]).relative_to(site.outputs).as_posix(): o["product"] for o in built["outputs"]}
    assert {rel for rel, key in paths.items() if key == f"cyber_lite@{SECOND}"} == {
        f"revisions/{SECOND}/brochure/cyber-lite_brochure.docx", f"revisions/{SECOND}/brochure/cyber-lite_brochure.pdf",
        f"revisions/{SECOND}/wording/cyber-lite_wording.docx", f"revisions/{SECOND}/wording/cyber-lite_wording.pdf",
        f"revisions/{SECOND}/sample-pack/cyber-lite/有限会社 伸和企画 上/サイバーLite_ご提案書.pdf",
        *(f"revisions/{SECOND}/sample-pack/cyber-lite/有限会社 伸和企画 上/{n}" for n in ("01_ご案内状.docx", "02_お見積書.docx", "03_重要事項説明書.docx")),
    }
    # the first revision's published files: the same paths, every byte as committed
    assert {rel: _sha(site.outputs / rel) for rel in first} == first
    manifest = json.loads((site.outputs / "manifest.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in manifest["outputs"].items() if k in first} == committed["outputs"]
    assert manifest["facts"]["cyber_lite"] == committed["facts"]["cyber_lite"]
    assert (manifest["facts"][f"cyber_lite@{SECOND}"]["approval"], manifest["facts"][f"cyber_lite@{SECOND}"]["content_hash"]) == \
        ("CL-2027-001", second.digest())
    # the brochure of next April's revision is printed in advance with its approval number and its own premium
    from pypdf import PdfReader

    meta = PdfReader(site.outputs / "revisions" / SECOND / "brochure" / "cyber-lite_brochure.pdf").metadata or {}
    assert (meta["/DocgenApprovalNumber"], meta["/DocgenDraft"], meta["/DocgenContentHash"]) == ("CL-2027-001", "false", second.digest())

    # a fresh clone has no database: the manifest's record of the approval keeps the second revision published and checked
    (site.storage / "docgen.sqlite3").unlink()
    assert main([*argv, "check"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"cyber_lite@{SECOND}: published outputs match approval CL-2027-001" in out
    # a wording change in the second revision is drift of the second revision's outputs only, named with its file:line
    rates = folder / "rates.yaml"
    rates.write_text(rates.read_text(encoding="utf-8").replace("[89000, ", "[90000, "), encoding="utf-8")
    assert main([*argv, "check"]) == 1
    err = capsys.readouterr().err
    assert f"revisions/{SECOND}/rates.yaml" in err
    stale = [line for line in err.splitlines() if " is stale: " in line]
    assert stale and all(f"revisions/{SECOND}/" in line.split(" is stale: ")[0] for line in stale), stale
