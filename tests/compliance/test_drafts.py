"""Drafts as git branches: saves are commits by their author that never touch the working tree; two people saving the
same field: the second is told which field and by whom, and nothing either of them wrote is lost."""

from __future__ import annotations

import dataclasses
import fcntl
import shutil
import subprocess
import threading
import types
from pathlib import Path

import pytest

from generator.api import drafts as draft_api
from generator.compliance import drafts
from generator.errors import DraftError, EditConflict
from tests.web.conftest import portal_site

REPO = Path(__file__).resolve().parents[2]
FIELD = "exclusions.groups[0].items[3].text"
OTHER = "exclusions.groups[0].items[4].text"
HANAKO, TARO = ("山田 花子", "hanako@example.jp"), ("鈴木 太郎", "taro@example.jp")


@pytest.fixture
def site(tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "content", tmp_path / "content")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.jp"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    subprocess.run([*git, "add", "content"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "content"], check=True)
    return dataclasses.replace(portal_site(tmp_path), content=tmp_path / "content")


def git(site, *args: str) -> str:  # type: ignore[no-untyped-def]
    return subprocess.run(["git", "-C", str(site.content), *args], capture_output=True, text=True, check=True).stdout


def test_a_save_is_the_authors_commit_on_the_draft_branch_and_the_working_tree_stays(site) -> None:  # type: ignore[no-untyped-def]
    draft = draft_api.start_draft(site, "2026-12", "除外条項の見直し", HANAKO)
    before = (site.content / "cyber_lite" / "exclusions.yaml").read_bytes()
    saved = drafts.save(draft_api.content_repo(site), draft, "exclusions.yaml", {FIELD: "新しい文言"}, draft.head, HANAKO)
    assert saved.commit and saved.changed == {FIELD: "新しい文言"}
    assert git(site, "log", "-1", "--format=%an <%ae>", draft.branch).strip() == "山田 花子 <hanako@example.jp>"
    assert "新しい文言" in git(site, "show", f"{draft.branch}:content/cyber_lite/exclusions.yaml")
    assert (site.content / "cyber_lite" / "exclusions.yaml").read_bytes() == before  # what builds is untouched
    assert git(site, "status", "--porcelain") == ""
    assert git(site, "rev-parse", "HEAD") != git(site, "rev-parse", draft.branch)


def test_two_people_saving_the_same_field_the_second_is_told_and_nothing_is_lost(site) -> None:  # type: ignore[no-untyped-def]
    repo = draft_api.content_repo(site)
    draft = draft_api.start_draft(site, "2026-12", "同時編集", HANAKO)
    opened = draft.head  # both open the form at this commit
    drafts.save(repo, draft, "exclusions.yaml", {FIELD: "花子の文言"}, opened, HANAKO)
    draft = repo.draft(draft.number)
    with pytest.raises(EditConflict) as caught:
        drafts.save(repo, draft, "exclusions.yaml", {FIELD: "太郎の文言", OTHER: "太郎の別の文言"}, opened, TARO)
    assert [(c["path"], c["theirs"], c["mine"], c["who"]) for c in caught.value.conflicts] == [(FIELD, "花子の文言", "太郎の文言", "山田 花子")]
    # refused as a whole: Hanako's wording stands, Taro's input comes back to him with the conflict (the page keeps it)
    text = repo.read(repo.draft(draft.number).head, f"{draft.folder}/exclusions.yaml")
    assert "花子の文言" in text and "太郎の" not in text
    # Taro saves his other field from the form opened again (at Hanako's commit): both changes are in the draft
    draft = repo.draft(draft.number)
    drafts.save(repo, draft, "exclusions.yaml", {FIELD: "花子の文言", OTHER: "太郎の別の文言"}, draft.head, TARO)
    text = repo.read(repo.draft(draft.number).head, f"{draft.folder}/exclusions.yaml")
    assert "花子の文言" in text and "太郎の別の文言" in text


def test_different_fields_from_the_same_form_version_are_both_kept(site) -> None:  # type: ignore[no-untyped-def]
    repo = draft_api.content_repo(site)
    draft = draft_api.start_draft(site, "2026-12", "別々の項目", HANAKO)
    opened = draft.head
    drafts.save(repo, draft, "exclusions.yaml", {FIELD: "花子の文言"}, opened, HANAKO)
    drafts.save(repo, repo.draft(draft.number), "exclusions.yaml", {FIELD: repo.read(opened, f"{draft.folder}/exclusions.yaml") and
                                                                      "販売分析、販売予測または財務分析の過誤に起因する損害賠償請求",
                                                                      OTHER: "太郎の文言"}, opened, TARO)
    text = repo.read(repo.draft(draft.number).head, f"{draft.folder}/exclusions.yaml")
    assert "花子の文言" in text and "太郎の文言" in text  # Taro's form still showed the old FIELD: not his change, kept as Hanako's
    authors = git(site, "log", "--format=%an", f"HEAD..{draft.branch}").split("\n")
    assert authors[:2] == ["鈴木 太郎", "山田 花子"]


def test_a_save_racing_another_at_the_same_moment_is_refused_not_lost(site) -> None:  # type: ignore[no-untyped-def]
    repo = draft_api.content_repo(site)
    draft = draft_api.start_draft(site, "2026-12", "競合", HANAKO)
    stale = draft
    drafts.save(repo, draft, "exclusions.yaml", {FIELD: "先の保存"}, draft.head, HANAKO)
    with pytest.raises(DraftError):  # its head moved between reading it and moving the branch: update-ref's old value check
        repo.commit_files(stale, {f"{draft.folder}/exclusions.yaml": "x: 1\n"}, "stale", TARO, stale.head)
    assert "先の保存" in repo.read(repo.draft(draft.number).head, f"{draft.folder}/exclusions.yaml")


def test_a_new_clause_gets_the_next_id_never_reusing_a_retired_one(site) -> None:  # type: ignore[no-untyped-def]
    repo = draft_api.content_repo(site)
    draft = draft_api.start_draft(site, "2026-12", "条項追加", HANAKO)
    text = repo.read(draft.head, f"{draft.folder}/exclusions.yaml")
    highest = max(int(i.rsplit("-", 1)[1]) for i in drafts.edit.ids_in(text) if i.startswith("EXC-LIA-"))
    _, new_id = drafts.add_clause(repo, draft, "exclusions.yaml", "exclusions.groups[0].items", HANAKO)
    assert new_id == f"EXC-LIA-{highest + 1:02d}"
    other = draft_api.start_draft(site, "2026-12", "もう一つ", TARO)  # the first draft's ID is taken in history: never given twice
    _, second = drafts.add_clause(repo, other, "exclusions.yaml", "exclusions.groups[0].items", TARO)
    assert second == f"EXC-LIA-{highest + 2:02d}"


def _merge_lock_free(site) -> bool:  # type: ignore[no-untyped-def]
    """Whether another open of the merge lock (another portal process) could take it now."""
    common = Path(git(site, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    with (common / "docgen-merge.lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_approving_holds_the_merge_lock_from_the_check_to_the_merge(site, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Two compliance officers approving two drafts at once: the second must see the first's merge before it approves,
    or an approval is recorded for content that then cannot merge."""
    draft = draft_api.start_draft(site, "2026-12", "同時承認", HANAKO)
    pending = types.SimpleNamespace(state="pending", revision=f"{draft.branch}@{draft.head}")
    monkeypatch.setattr(drafts, "submission_of", lambda session, d: pending)
    seen = []

    class Stop(Exception):
        pass

    def approving(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(_merge_lock_free(site))
        raise Stop

    monkeypatch.setattr(draft_api, "approve", approving)
    monkeypatch.setattr(draft_api, "draft_diff", lambda site, d: types.SimpleNamespace(new=None))
    with pytest.raises(Stop):
        draft_api.approve_draft(site, None, draft, None)  # type: ignore[arg-type]
    assert seen == [False]
    assert _merge_lock_free(site)  # and released when it fails


def test_the_merge_lock_admits_one_holder_at_a_time(site) -> None:  # type: ignore[no-untyped-def]
    repo = draft_api.content_repo(site)
    order: list[str] = []
    held, tried = threading.Event(), threading.Event()

    def second() -> None:
        held.wait()
        tried.set()
        with repo.exclusive():
            order.append("second in")

    thread = threading.Thread(target=second)
    thread.start()
    with repo.exclusive():
        held.set()
        tried.wait()
        assert not _merge_lock_free(site)
        order.append("first out")
    thread.join(timeout=10)
    assert order == ["first out", "second in"]
