"""The content editor through HTTP: sections as forms with clause IDs, live checks in Japanese beside the field, saves as
the person's commits, a conflict naming the field, agents told nothing exists, every action audited."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from generator.store.audit import AuditEntry
from tests.web.conftest import NullWorker, fresh_portal, post
from tests.web.editor_kit import REVISION, editable_site, git_log

EXC = "exclusions.groups[0].items[3].text"
CELL = "rates.classes[0].premiums[0][0]"
OTHER = "exclusions.groups[0].items[4].text"


@pytest.fixture(scope="module")
def portal(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    folder = tmp_path_factory.mktemp(f"editor-{db_kind}")
    with fresh_portal(db_kind, folder, editable_site(folder), recover=False) as made:
        made.app.state.worker = NullWorker()  # type: ignore[attr-defined]
        yield made


@pytest.fixture(scope="module")
def draft(portal) -> int:  # type: ignore[no-untyped-def]
    client = portal.client("marketing")
    r = post(client, "/editor/drafts", revision=REVISION, title="除外条項の見直し")
    assert r.status_code == 303, r.text[:500]
    return int(r.headers["location"].rsplit("/", 1)[1])


def form_values(html: str) -> dict[str, str]:
    values = dict(re.findall(r'name="([^"]+)" id="[^"]*" value="([^"]*)"', html))
    values |= {k: v for k, v in re.findall(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', html)}
    return values


def test_every_section_is_a_form_with_its_clause_ids(portal, draft) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("marketing")
    for stem in ("product", "letter", "background", "examples", "features", "coverage", "rates", "emergency_support", "exclusions",
                 "risk_services", "disclosures"):
        r = client.get(f"/editor/drafts/{draft}/sections/{stem}")
        assert r.status_code == 200, (stem, r.text[:300])
        assert "csrf_token" in r.text and "yaml" not in r.text.lower().replace(".yaml", "")
    page = client.get(f"/editor/drafts/{draft}/sections/exclusions").text
    assert '<span class="clause-id">EXC-LIA-04</span>' in page
    assert f'name="{EXC}"' in page and "販売分析、販売予測または財務分析の過誤に起因する損害賠償請求" in page
    rates = client.get(f"/editor/drafts/{draft}/sections/rates").text
    assert f'name="{CELL}"' in rates and 'value="55000"' in rates and "5億円以下" in rates  # the grid's row head: the band


def test_the_live_check_puts_a_japanese_problem_beside_the_field_and_saves_nothing(portal, draft) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("marketing")
    before = git_log(portal.site, "--all", "--format=%H")
    r = post(client, f"/editor/drafts/{draft}/sections/rates/check", **{CELL: "5.5万"})
    assert r.status_code == 200
    slot = re.search(r'id="p-rates-classes-0-premiums-0-0"[^>]*>(.*?)</span></span>', r.text)
    assert slot and "円" in slot.group(1) and "55000" in slot.group(1), r.text[:800]
    # a premium lower than the smaller limit's in its band: the cross-check of docgen validate, beside the cell
    r = post(client, f"/editor/drafts/{draft}/sections/rates/check", **{"rates.classes[0].premiums[0][1]": "50000"})
    slot = re.search(r'id="p-rates-classes-0-premiums-0-1"[^>]*>(.*?)</span></span>', r.text)
    assert slot and "50000" in slot.group(1) and "低" in slot.group(1), r.text[:800]
    # a character the documents' fonts lack (LibreOffice would print another font)
    r = post(client, f"/editor/drafts/{draft}/sections/exclusions/check", **{EXC: "販売分析😀の過誤に起因する損害賠償請求"})
    slot = re.search(r'id="p-exclusions-groups-0-items-3-text"[^>]*>(.*?)</span></span>', r.text)
    assert slot and "フォント" in slot.group(1) and "😀" in slot.group(1), r.text[:800]
    # a changed premium table of a revision needs its own rates version (content/README.md, Revisions)
    r = post(client, f"/editor/drafts/{draft}/sections/rates/check", **{CELL: "56000"})
    slot = re.search(r'id="p-rates-rates-version"[^>]*>(.*?)</span></span>', r.text)
    assert slot and "料率バージョン" in slot.group(1) and "2027-04" in slot.group(1), r.text[:800]
    r = post(client, f"/editor/drafts/{draft}/sections/rates/check", **{CELL: "56000", "rates.rates_version": "2027-04"})
    assert "問題は見つかりませんでした" in r.text
    assert git_log(portal.site, "--all", "--format=%H") == before
    r = post(client, f"/editor/drafts/{draft}/sections/rates", opened_at=portal.app.state.site and _head(portal, draft), **{CELL: "5.5万"})
    assert r.status_code == 422 and "保存していません" in r.text and git_log(portal.site, "--all", "--format=%H") == before


def _head(portal, draft: int) -> str:  # type: ignore[no-untyped-def]
    from generator.api import drafts

    return drafts.content_repo(portal.site).draft(draft).head


def test_saving_is_the_persons_commit_and_a_second_save_of_the_same_field_is_told(portal, draft) -> None:  # type: ignore[no-untyped-def]
    hanako, taro = portal.client("marketing"), portal.client("admin")
    opened = _head(portal, draft)
    r = post(hanako, f"/editor/drafts/{draft}/sections/exclusions", opened_at=opened, **{EXC: "販売分析または販売予測の過誤に起因する損害賠償請求"})
    assert r.status_code == 303, r.text[:600]
    assert git_log(portal.site, "-1", "--format=%ae", f"draft/cyber_lite/{REVISION}/{draft}").strip() == portal.emails["marketing"]
    r = post(taro, f"/editor/drafts/{draft}/sections/exclusions", opened_at=opened, **{EXC: "財務分析の過誤に起因する損害賠償請求"})
    assert r.status_code == 409
    assert "先に同じ項目を保存しました" in r.text and "EXC-LIA-04 グループ1 › 項目4 › 文言" in r.text and "販売分析または販売予測の過誤" in r.text
    assert "財務分析の過誤に起因する損害賠償請求</textarea>" in r.text  # his input is still in the form
    r = hanako.get(f"/editor/drafts/{draft}/sections/exclusions")
    assert "販売分析または販売予測の過誤に起因する損害賠償請求</textarea>" in r.text  # hers stands


def test_a_rejected_draft_returns_to_its_author_with_the_reason(portal, draft) -> None:  # type: ignore[no-untyped-def]
    marketing, officer = portal.client("marketing"), portal.client("compliance")
    r = post(marketing, f"/editor/drafts/{draft}/submit")
    assert r.status_code == 303, r.text[r.text.find("<main>"):][:600]
    review = officer.get(f"/editor/drafts/{draft}/review").text
    assert 'id="clause-EXC-LIA-04"' in review and 'id="approve"' in review
    redline = officer.get(f"/editor/drafts/{draft}/redline.docx")
    assert redline.status_code == 200 and redline.content[:2] == b"PK"  # the submission's tracked-changes .docx
    # submitted through api.review.submit, as `docgen submit` does: a snapshot of the draft's files (not the working tree's)
    from generator.api import drafts
    from generator.store.approvals import Submission

    with portal.sessions() as s:
        sub = s.scalars(select(Submission).where(Submission.revision.like(f"draft/cyber_lite/{REVISION}/{draft}@%"))).one()
    d = drafts.content_repo(portal.site).draft(draft)
    snapshot = portal.site.storage / "submissions" / str(sub.id) / "cyber_lite" / "exclusions.yaml"
    worktree = drafts.content_repo(portal.site).root / d.folder / "exclusions.yaml"
    assert "販売分析または販売予測の過誤に起因する損害賠償請求" in snapshot.read_text(encoding="utf-8")
    assert "販売分析または販売予測" not in worktree.read_text(encoding="utf-8")
    assert sub.redline_key and (portal.site.storage / sub.redline_key).parent == snapshot.parent.parent
    # under review it takes no edits
    r = post(marketing, f"/editor/drafts/{draft}/sections/exclusions", opened_at=_head(portal, draft), **{EXC: "審査中の変更"})
    assert r.status_code == 400 and "審査中" in r.text
    assert post(officer, f"/editor/drafts/{draft}/reject", reason="").status_code == 400  # a rejection says why
    r = post(officer, f"/editor/drafts/{draft}/reject", reason="「需要予測」の追加は約款の改定と同時に行ってください。")
    assert r.status_code == 303
    listing = marketing.get("/editor").text
    assert "差戻し" in listing and "約款の改定と同時に" in listing
    page = marketing.get(f"/editor/drafts/{draft}").text
    assert 'id="rejected-reason"' in page and "約款の改定と同時に" in page
    # the author reworks it: editable again
    r = post(marketing, f"/editor/drafts/{draft}/sections/exclusions", opened_at=_head(portal, draft), **{EXC: "販売分析の過誤に起因する損害賠償請求"})
    assert r.status_code == 303
    assert "編集中" in marketing.get(f"/editor/drafts/{draft}").text


def test_agents_never_see_drafts_compliance_reads_only(portal, draft) -> None:  # type: ignore[no-untyped-def]
    agent = portal.client("agent")
    for url in ("/editor", f"/editor/drafts/{draft}", f"/editor/drafts/{draft}/sections/exclusions", f"/editor/drafts/{draft}/review"):
        r = agent.get(url)
        assert r.status_code == 404 and "除外条項" not in r.text, url
    assert post(agent, f"/editor/drafts/{draft}/sections/exclusions", opened_at="0", **{EXC: "x"}).status_code == 404
    officer = portal.client("compliance")
    page = officer.get(f"/editor/drafts/{draft}/sections/exclusions")
    assert page.status_code == 200 and "閲覧のみ" in page.text and "<fieldset class=\"form-body\" disabled>" in page.text
    assert post(officer, f"/editor/drafts/{draft}/sections/exclusions", opened_at="0", **{EXC: "x"}).status_code == 403


def test_every_action_is_audited(portal, draft) -> None:  # type: ignore[no-untyped-def]
    with portal.sessions() as s:
        actions = {e.action for e in s.scalars(select(AuditEntry))}
    assert {"draft.start", "draft.check", "draft.save", "draft.conflict", "draft.submit", "submit", "reject", "draft.reject"} <= actions, actions


def test_a_draft_that_fails_the_checks_cannot_be_submitted(portal) -> None:  # type: ignore[no-untyped-def]
    from generator.api import drafts

    client = portal.client("marketing")
    r = post(client, "/editor/drafts", revision=REVISION, title="検査に通らない下書き")
    number = int(r.headers["location"].rsplit("/", 1)[1])
    d = drafts.content_repo(portal.site).draft(number)
    # saved through the API as a form cannot (the page refuses it before saving): the table changed, its rates version kept
    drafts.save_draft(portal.site, d, "rates.yaml", {CELL: "56000"}, d.head, ("marketing", portal.emails["marketing"]))
    r = post(client, f"/editor/drafts/{number}/submit")
    assert r.status_code == 400 and "提出できません" in r.text and "料率バージョン" in r.text, r.text[r.text.find("<main>"):][:800]
    assert "docgen-rev-" not in r.text and "/tmp/" not in r.text  # no server path


def test_a_clause_added_gets_the_next_id(portal, draft) -> None:  # type: ignore[no-untyped-def]
    client = portal.client("marketing")
    # pressed with a field typed and not saved yet: that input is saved first, then the clause added
    r = post(client, f"/editor/drafts/{draft}/sections/exclusions/add", list_path="exclusions.groups[0].items", opened_at=_head(portal, draft),
             **{OTHER: "追加の前に入力した文言"})
    assert r.status_code == 303 and r.headers["location"].endswith("#EXC-LIA-17"), r.headers.get("location")
    page = client.get(f"/editor/drafts/{draft}/sections/exclusions").text
    assert '<span class="clause-id">EXC-LIA-17</span>' in page and "追加の前に入力した文言</textarea>" in page


