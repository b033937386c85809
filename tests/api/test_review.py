"""Submit and approve are one API under both faces: `docgen submit`/`approve` and the portal's forms leave the same
snapshot, the same redline and the same audit entries.

One review runs on each face, each on its own copy of the same content and its own database: marketing submits the
content, compliance approves it, one exclusion is reworded, marketing submits again (now with a redline against the
approved snapshot).
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from generator.cli import main
from generator.site import Site
from generator.store import db
from generator.store.approvals import Submission
from generator.store.audit import AuditEntry
from tests.compliance.conftest import reviewers_database
from tests.compliance.test_workflow import reword_first_exclusion
from tests.web.conftest import CSRF, NullWorker, approvable_site, fresh_portal

NUMBER, VALID_FROM = "CL-PARITY-001", "2026-01-01"
REVIEW_ACTIONS = ("submit", "approve", "reject")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _review(database: str, site: Site) -> dict:
    """What a review left: each submission (state, summary, redline key) and the review's audit entries, in order."""
    eng = db.engine(database)
    try:
        with db.session_factory(eng)() as s:
            subs = [{"id": x.id, "state": x.state, "hash": x.content_hash, "base": x.base_hash, "summary": x.summary, "redline": x.redline_key,
                     "by": x.submitted_by.email} for x in s.scalars(select(Submission).order_by(Submission.id))]
            audit = [(e.actor, e.action, e.target, e.detail) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))
                     if e.action in REVIEW_ACTIONS]
    finally:
        eng.dispose()
    return {"submissions": subs, "audit": audit, "snapshots": _files(site.storage / "submissions")}


@pytest.fixture(scope="module")
def cli_review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("review-cli")
    site = approvable_site(folder)
    first = _files(site.content / "cyber_lite")  # the content as first submitted
    url = f"sqlite:///{folder / 'review.sqlite3'}"
    reviewers_database(url)
    mp = pytest.MonkeyPatch()
    for var, value in (("DOCGEN_CONTENT", site.content), ("DOCGEN_TEMPLATES", site.templates), ("DOCGEN_STORAGE", site.storage),
                       ("DOCGEN_CACHE", site.cache), ("DOCGEN_DATABASE_URL", url)):
        mp.setenv(var, str(value))

    def run(*argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        assert code == 0, err.getvalue()
        return out.getvalue()

    try:
        run("submit", "--user", "marketing@example.jp")
        run("approve", "--user", "compliance@example.jp", "--number", NUMBER, "--valid-from", VALID_FROM)
        changed = reword_first_exclusion(site.content / "cyber_lite" / "exclusions.yaml")
        said = run("submit", "--user", "marketing@example.jp")
    finally:
        mp.undo()
    yield {**_review(url, site), "site": site, "first": first, "changed": changed, "said": said}


@pytest.fixture(scope="module")
def portal_review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("review-portal")
    site = approvable_site(folder)
    with fresh_portal("sqlite", folder, site, recover=False) as portal:
        portal.app.state.worker = NullWorker()  # type: ignore[attr-defined]
        marketing, compliance = portal.client("marketing"), portal.client("compliance")

        def post(client, url: str, **data: str) -> None:  # type: ignore[no-untyped-def]
            r = client.post(url, data={"csrf_token": client.csrf, **data})
            assert r.status_code == 303, r.text
            client.csrf = CSRF.search(client.get("/marketing" if client is marketing else "/compliance").text).group(1)

        post(marketing, "/compliance/submit")
        post(compliance, "/compliance/approve", number=NUMBER, valid_from=VALID_FROM)
        reword_first_exclusion(site.content / "cyber_lite" / "exclusions.yaml")  # the page's product reloads on a changed file
        post(marketing, "/compliance/submit")
        yield {**_review(portal.url, site), "site": site}


def _inserted(docx: bytes) -> list[str]:
    """The text of each tracked insertion (w:ins) in a redline's document."""
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode("utf-8")
    return ["".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", ins)) for ins in re.findall(r"<w:ins\b.*?</w:ins>", xml, re.S)]


def test_the_cli_snapshots_each_submission_and_redlines_the_second_against_the_approval(cli_review: dict) -> None:
    subs = cli_review["submissions"]
    assert [(s["state"], s["by"]) for s in subs] == [("approved", "marketing@example.jp"), ("pending", "marketing@example.jp")]
    snaps = cli_review["snapshots"]
    # the first snapshot is the content exactly as it was submitted (before the exclusion was reworded)
    first = {k.removeprefix("1/cyber_lite/"): v for k, v in snaps.items() if k.startswith("1/")}
    assert {"product.yaml", "exclusions.yaml", "disclosures.yaml"} <= set(first)
    assert all(data == cli_review["first"][name] for name, data in first.items())
    assert snaps["2/cyber_lite/exclusions.yaml"] != snaps["1/cyber_lite/exclusions.yaml"]
    # nothing to compare the first with; the second is compared with the approved first
    assert subs[0]["redline"] == "" and subs[1]["base"] == subs[0]["hash"]
    assert subs[1]["redline"].startswith("submissions/2/") and subs[1]["redline"].endswith("_redline.docx")
    assert cli_review["changed"] in subs[1]["summary"] and "（改定）" in subs[1]["summary"]
    assert any("（改定）" in text for text in _inserted(snaps[subs[1]["redline"].removeprefix("submissions/")]))
    assert f"redline {cli_review['site'].storage / subs[1]['redline']}" in cli_review["said"]
    actions = [(actor, action) for actor, action, _target, _detail in cli_review["audit"]]
    assert actions == [("marketing@example.jp", "submit"), ("compliance@example.jp", "approve"), ("marketing@example.jp", "submit")]


def test_the_portal_leaves_the_same_snapshot_redline_and_audit_as_the_cli(cli_review: dict, portal_review: dict) -> None:
    assert portal_review["submissions"] == cli_review["submissions"]  # states, hashes, base, summary text, redline key
    cli_snaps, portal_snaps = cli_review["snapshots"], portal_review["snapshots"]
    assert sorted(portal_snaps) == sorted(cli_snaps)
    for name, data in cli_snaps.items():
        if name.endswith(".docx"):  # the tracked changes carry the time they were made: compare what they change
            assert _inserted(portal_snaps[name]) == _inserted(data)
        else:
            assert portal_snaps[name] == data, name
    assert portal_review["audit"] == cli_review["audit"]  # who, what, on which version, with the same details
