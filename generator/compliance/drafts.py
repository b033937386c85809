"""Drafts of a product revision as git branches of the content repository: start, read, save field by field, merge.

A draft is the branch ``draft/<product>/<revision>/<n>``, started at the content repository's HEAD (the content that
builds). Every save is one commit on it, authored by the person who saved, written with git's own commands into a
throwaway index (the working tree the portal builds from is never touched) and moved with ``git update-ref <new> <old>``,
so two saves racing cannot both win. A save names the commit its form was opened at: the fields someone else changed
since are kept, and a field both changed is refused with its name (nothing is lost). An approved draft is merged
fast-forward into HEAD, so the approved content hash is exactly what then builds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from generator.compliance.diff import _git_location
from generator.content import edit
from generator.errors import DraftError, EditConflict
from generator.i18n import N_
from generator.store.approvals import Submission

BRANCHES = "refs/heads/draft/"
_BRANCH = re.compile(r"^draft/([a-z0-9_]+)/([A-Za-z0-9_-]+)/([0-9]{1,9})$")
PORTAL = ("docgen portal", "portal@docgen.invalid")  # the committer; the author is the person


@dataclass(frozen=True)
class Draft:
    """One draft: its number, product, revision and branch, where its revision's files live in the repository."""

    number: int
    product: str
    revision: str
    branch: str
    head: str
    folder: str  # the revision's folder inside the repository (content/cyber_lite, content/cyber_lite/revisions/2027-04)
    title: str
    author: str
    author_email: str
    base: str = ""  # the commit the draft was started at: what its changes are shown against


@dataclass(frozen=True)
class Saved:
    """What a save did: the new commit (None: nothing changed) and the fields it changed."""

    commit: str | None
    changed: dict[str, object]


class ContentRepo:
    """The git repository holding the site's content folder, driven through the ``git`` command."""

    def __init__(self, content: Path):
        self.content = Path(content)
        self.root, self.inside = _git_location(self.content)

    def git(self, *args: str, env: dict[str, str] | None = None, data: bytes | None = None, check: bool = True) -> str:
        done = self._run(args, env, data)
        if check and done.returncode:
            raise DraftError("draft", args[0], N_("git refused: {detail}"), params={"detail": done.stderr.decode(errors="replace").strip()[:300]})
        return done.stdout.decode("utf-8", "replace")

    def succeeds(self, *args: str) -> bool:
        """True when ``git args`` exits 0 (a yes/no question to git: an object exists, one commit precedes another)."""
        return self._run(args).returncode == 0

    def _run(self, args: tuple[str, ...], env: dict[str, str] | None = None, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(self.root), *args], input=data, capture_output=True, timeout=60,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})})

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def read(self, rev: str, path: str) -> str:
        return self.git("cat-file", "blob", f"{rev}:{path}")

    def drafts(self) -> list[Draft]:
        out = self.git("for-each-ref", "--format=%(refname:short)%09%(objectname)", BRANCHES)
        found = []
        for line in out.splitlines():
            branch, _, head = line.partition("\t")
            m = _BRANCH.match(branch)
            if m:
                found.append(self._draft(m, branch, head))
        return sorted(found, key=lambda d: -d.number)

    def _draft(self, m: re.Match[str], branch: str, head: str) -> Draft:
        # the draft's own first commit: the latest start reachable from its head (a merged draft's start is older)
        first = self.git("log", "-1", "--grep=^下書き開始：", "--format=%an%x09%ae%x09%P%x09%s", head)
        name, email, base, subject = (first.strip().split("\t", 3) + ["", "", "", ""])[:4]
        product, revision = m.group(1), m.group(2)
        later = f"{self.inside}/{product}/revisions/{revision}"
        own = self._exists(head, f"{later}/product.yaml")
        folder = later if own else f"{self.inside}/{product}"
        return Draft(int(m.group(3)), product, revision, branch, head, folder, subject.removeprefix("下書き開始：").strip(), name, email,
                     base.split(" ")[0])

    def _exists(self, rev: str, path: str) -> bool:
        return self.succeeds("cat-file", "-e", f"{rev}:{path}")

    def draft(self, number: int) -> Draft:
        """The draft numbered ``number``; DraftError when there is none (the portal answers 404)."""
        for d in self.drafts():
            if d.number == number:
                return d
        raise DraftError("draft", number, N_("no such draft"))

    def start(self, product: str, revision: str, folder: str, title: str, author: tuple[str, str]) -> Draft:
        """A new draft of one revision, at HEAD; its first commit (empty) carries the title and who started it."""
        head = self.head()
        if not self._exists(head, f"{folder}/product.yaml") or not _BRANCH.match(f"draft/{product}/{revision}/1"):
            raise DraftError("revision", revision, N_("no such revision"))
        number = max((d.number for d in self.drafts()), default=0) + 1
        branch = f"draft/{product}/{revision}/{number}"
        tree = self.git("rev-parse", f"{head}^{{tree}}").strip()
        commit = self.git("commit-tree", tree, "-p", head, "-m", f"下書き開始：{title}", env=_people(author)).strip()
        self.git("update-ref", f"refs/heads/{branch}", commit, "0" * 40)  # create only: never reuses a draft's branch
        return self.draft(number)

    def commit_files(self, draft: Draft, files: dict[str, str], message: str, author: tuple[str, str], expect: str) -> str:
        """Commit ``files`` (repository path -> text) on the draft if its head is still ``expect``; the new head."""
        with tempfile.TemporaryDirectory(prefix="docgen-draft-") as tmp:
            env = {**_people(author), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", expect, env=env)
            for path, text in files.items():
                blob = self.git("hash-object", "-w", "--stdin", data=text.encode("utf-8")).strip()
                self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = self.git("write-tree", env=env).strip()
            commit = self.git("commit-tree", tree, "-p", expect, "-m", message, env=env).strip()
        self.git("update-ref", f"refs/heads/{draft.branch}", commit, expect, check=False)  # only if still at expect
        if self.git("rev-parse", f"refs/heads/{draft.branch}").strip() != commit:
            raise DraftError("draft", draft.number, N_("was saved by someone else at the same moment; save again"))
        return commit

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held from checking that a draft can merge until it has merged: of two approvals at once (threads or processes
        of the portal), the second sees the first's merge, so no approval is ever recorded for content that did not merge."""
        common = Path(self.git("rev-parse", "--path-format=absolute", "--git-common-dir").strip())
        with (common / "docgen-merge.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
            yield

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.succeeds("merge-base", "--is-ancestor", older, newer)

    def merge(self, draft: Draft) -> None:
        """Fast-forward HEAD (and the working tree the portal builds from) to the draft."""
        if not self.is_ancestor("HEAD", draft.head):
            raise DraftError("draft", draft.number, N_("the content changed since this draft was started; start a new draft from today's content"))
        self.git("merge", "--ff-only", "--quiet", draft.head)

    def changed_by(self, since: str, until: str, path: str) -> str:
        """Who made the last commit changing ``path`` between two commits (for a conflict's message)."""
        return self.git("log", "-1", "--format=%an", f"{since}..{until}", "--", path).strip()

    def retired_ids(self, path: str) -> set[str]:
        """Every ID the file at ``path`` ever held on any branch (a deleted ID stays retired)."""
        patches = self.git("log", "--all", "-p", "--format=", "--", path, check=False)
        return edit.ids_in(re.sub(r"^[-+ ]", "", patches, flags=re.M))  # the diff lines' own text, added or removed


def _people(author: tuple[str, str]) -> dict[str, str]:
    name, email = author
    return {"GIT_AUTHOR_NAME": name or email, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": PORTAL[0], "GIT_COMMITTER_EMAIL": PORTAL[1]}


def submission_of(session: Session, draft: Draft) -> Submission | None:
    """The draft's latest submission (the portal's review of it), if it was submitted."""
    return session.scalar(select(Submission).where(Submission.revision.like(f"{draft.branch}@%"))
                          .order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(1))


def state(session: Session, draft: Draft) -> tuple[str, Submission | None]:
    """open (being edited, or edited after a rejection), pending, approved or rejected; and the submission behind it."""
    sub = submission_of(session, draft)
    if sub is None:
        return "open", None
    if sub.state == "rejected" and not sub.revision.endswith("@" + draft.head):
        return "open", sub  # changed since it was rejected: being reworked
    return sub.state, sub


def save(repo: ContentRepo, draft: Draft, file_name: str, changes: dict[str, str], opened_at: str, author: tuple[str, str]) -> Saved:
    """Save a section's form: the fields the person changed from the version the form was opened at (``opened_at``),
    applied onto the draft as it is now. A field someone else changed since, to another value, is an EditConflict
    naming it (and who changed it); their other changes are kept."""
    path = f"{draft.folder}/{file_name}"
    if not repo.is_ancestor(opened_at, draft.head):
        raise DraftError("draft", draft.number, N_("the form belongs to another draft; open it again"))
    base_text = repo.read(opened_at, path)
    _, mine, problems = edit.apply(file_name, base_text, changes)
    if problems:
        raise DraftError("draft", problems[0].path, problems[0].msgid, params=problems[0].params)
    if not mine:
        return Saved(None, {})
    head_text = repo.read(draft.head, path) if draft.head != opened_at else base_text
    if draft.head != opened_at:
        attr = edit.root_type(file_name)[0]
        before, now = edit.flatten(edit.load_text(base_text), attr), edit.flatten(edit.load_text(head_text), attr)
        theirs = {p for p in set(before) | set(now) if before.get(p) != now.get(p)}
        clashes = [p for p in mine if p in theirs and now.get(p) != mine[p]]
        if clashes:
            who = repo.changed_by(opened_at, draft.head, path)
            raise EditConflict([{"path": p, "theirs": now.get(p), "mine": mine[p], "who": who} for p in clashes],
                               N_("changed by someone else since you opened the form: {fields}"))
    new_text, changed, problems = edit.apply(file_name, head_text, {p: changes[p] for p in mine})
    if problems:  # a field the other person removed
        raise DraftError("draft", problems[0].path, problems[0].msgid, params=problems[0].params)
    if not changed:
        return Saved(None, {})
    message = f"{file_name}: " + ", ".join(sorted(changed))[:200]
    return Saved(repo.commit_files(draft, {path: new_text}, message, author, draft.head), changed)


def add_clause(repo: ContentRepo, draft: Draft, file_name: str, list_path: str, author: tuple[str, str]) -> tuple[str, str]:
    """Append a clause with the next never-used ID to a list of the draft (its wording to be written); commit, new ID."""
    path = f"{draft.folder}/{file_name}"
    text = repo.read(draft.head, path)
    try:
        new_text, new_id = edit.add_item(file_name, text, list_path, repo.retired_ids(f"{repo.inside}/{draft.product}"))
    except (KeyError, ValueError, IndexError):
        raise DraftError("draft", list_path, N_("clauses cannot be added to this list")) from None
    return repo.commit_files(draft, {path: new_text}, f"{file_name}: {new_id} を追加", author, draft.head), new_id
