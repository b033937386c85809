"""Content drafts (the portal's editor): git branches of the content read, checked, previewed, submitted and decided.

A draft is a git branch of the content repository (generator.compliance.drafts); these functions read it, check it
with the same rules as ``docgen validate``, and take it through submit / approve / reject by the functions every face
uses (generator.api.review): the same snapshot, redline and audit entries as ``docgen submit``/``approve``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from generator.api import _folder, schedule
from generator.api.review import Submitted, approve, reject, submit
from generator.content.revisions import Revision, load_revisions
from generator.content.validate import validate
from generator.errors import ContentError, DraftError, InputError, Problem
from generator.i18n import N_
from generator.site import Site

if TYPE_CHECKING:  # SQLAlchemy, git and ruamel.yaml come with the portal extra: imported by the functions that use them
    from sqlalchemy.orm import Session

    from generator.compliance.diff import ContentDiff
    from generator.compliance.drafts import ContentRepo, Draft, Saved
    from generator.content.edit import FieldProblem
    from generator.documents.preview import Converter
    from generator.store.accounts import User
    from generator.store.approvals import Approval, Submission

MOVED = N_("the content changed since this draft was started; start a new draft from today's content")
NOT_PENDING = N_("has no pending submission of its current content; submit it again")


def content_repo(site: Site) -> ContentRepo:
    """The git repository holding the site's content (its drafts are branches of it)."""
    from generator.compliance.drafts import ContentRepo

    return ContentRepo(site.content)


def start_draft(site: Site, revision: str, title: str, author: tuple[str, str], product: str | None = None) -> Draft:
    """A new draft of the revision named ``revision`` (as `docgen revisions` lists them), at the content's HEAD."""
    folder = _folder(site, product)
    revs = {r.name: r for r in load_revisions(folder)}
    if revision not in revs:
        raise InputError("revision", revision, "no such revision", allowed=", ".join(revs))
    repo = content_repo(site)
    inside = f"{repo.inside}/{folder.name}" + (f"/{revs[revision].product.revision_path}" if revs[revision].product.revision_path else "")
    return repo.start(folder.name, revision, inside, title, author)


def draft_state(session: Session, draft: Draft) -> tuple[str, Submission | None]:
    """open, pending, approved or rejected, and the draft's latest submission (generator.compliance.drafts.state)."""
    from generator.compliance.drafts import state

    return state(session, draft)


def save_draft(site: Site, draft: Draft, file_name: str, changes: dict[str, str], opened_at: str, author: tuple[str, str]) -> Saved:
    """Save a section's form as the person's commit on the draft; EditConflict names a field someone else saved since."""
    from generator.compliance.drafts import save

    return save(content_repo(site), draft, file_name, changes, opened_at, author)


def add_draft_clause(site: Site, draft: Draft, file_name: str, list_path: str, author: tuple[str, str]) -> tuple[str, str]:
    """A new clause with the next never-used ID at the end of a list of the draft; the commit and the ID."""
    from generator.compliance.drafts import add_clause

    return add_clause(content_repo(site), draft, file_name, list_path, author)


def _draft_site(site: Site, root: Path) -> Site:
    return dataclasses.replace(site, content=root)


def _draft_revision(root: Path, draft: Draft) -> Revision:
    for rev in load_revisions(root / draft.product):
        if rev.name == draft.revision:
            return rev
    raise InputError("revision", draft.revision, "the draft's revision is no longer in its content")


def check_draft(site: Site, draft: Draft, file_name: str, changes: dict[str, str]) -> tuple[list[FieldProblem], list[Problem]]:
    """What saving ``changes`` to the draft's ``file_name`` would meet: the inputs that cannot be taken (by field), and
    every problem `docgen validate` finds in the draft with them (types, cross-references, templates, glyphs, lengths)."""
    from generator.compliance.diff import content_root
    from generator.content import edit
    from generator.documents.fonts import missing_glyphs

    repo = content_repo(site)
    path = f"{draft.folder}/{file_name}"
    new_text, changed, field_problems = edit.apply(file_name, repo.read(draft.head, path), changes)
    for where, value in changed.items():  # what the documents' fonts cannot print (LibreOffice would swap in another font)
        missing = missing_glyphs(value) if isinstance(value, str) else []
        if missing:
            field_problems.append(edit.FieldProblem(where, N_("holds characters the documents' fonts cannot print: {chars}"),
                                                    {"chars": " ".join(missing[:10])}))
    problems: list[Problem] = []
    with content_root(draft.head, site.content) as root:
        (root / path.removeprefix(repo.inside + "/")).write_text(new_text, encoding="utf-8")
        try:
            schedule(_draft_site(site, root), draft.product)
        except ContentError as exc:
            problems = exc.problems
    return field_problems, problems


def draft_diff(site: Site, draft: Draft) -> ContentDiff:
    """The draft's revision as it was when the draft started against the draft: clauses and premium cells changed (while
    the draft can be merged, the content's HEAD is that start: submit and approve refuse otherwise)."""
    from generator.compliance.diff import compare, content_root

    with content_root(draft.base or "HEAD", site.content) as old_root, content_root(draft.head, site.content) as new_root:
        old, new = _draft_revision(old_root, draft).product, _draft_revision(new_root, draft).product
    return compare(validate(old), validate(new), "下書き作成時の内容", f"下書き {draft.number}")


def preview_draft(site: Site, draft: Draft, d: ContentDiff, out: Path, converter: Converter | None = None) -> dict[str, list[int]]:
    """The draft's brochure (``out``/brochure.pdf, laid out once per draft head) and the pages each change of ``d`` is on."""
    from generator.compliance.diff import content_root
    from generator.documents.preview import brochure_pdf, pages_with
    from generator.jpformat import format_yen

    pdf = out / "brochure.pdf"
    if not pdf.is_file():
        with content_root(draft.head, site.content) as root:
            rev = _draft_revision(root, draft)
            brochure_pdf(validate(rev.product), (rev.templates or site.templates), pdf, converter)
    needles = {c.id: c.new.text for c in d.clauses if c.new is not None}
    needles |= {c.key: format_yen(c.new.premium).removesuffix("円") for c in d.cells if c.new is not None}
    return pages_with(pdf, needles)


def submit_draft(site: Site, session: Session, draft: Draft, user: User) -> Submitted:
    """Put the draft up for review as it is now (generator.api.review.submit): the submission of its exact content, its
    snapshot, and the redline of its changes against the content it was started from. Every check of `docgen validate`
    first (ContentError), templates and glyphs included."""
    from generator.compliance.diff import content_root
    from generator.store.audit import record

    if not content_repo(site).is_ancestor("HEAD", draft.head):
        raise DraftError("draft", draft.number, MOVED)
    d = draft_diff(site, draft)
    if d.empty:
        raise DraftError("draft", draft.number, N_("changes nothing yet; edit it before submitting"))
    with content_root(draft.head, site.content) as root:  # the draft's files: what is checked and what the snapshot keeps
        own = _draft_site(site, root)
        schedule(own, draft.product)
        submitted = submit(own, session, d.new, user, revision=f"{draft.branch}@{draft.head}", changes=d)
    record(session, user, "draft.submit", draft.branch, {"submission": submitted.submission.id, "commit": draft.head,
                                                         "content_hash": d.new.digest()})
    session.commit()
    return submitted


def approve_draft(site: Site, session: Session, draft: Draft, user: User, *, number: str | None = None, note: str = "") -> Approval:
    """Approve the draft's pending submission (generator.api.review.approve) and merge it into the content
    (fast-forward): what builds is what was approved."""
    from generator.compliance.drafts import submission_of
    from generator.store.audit import record

    sub = submission_of(session, draft)
    if sub is None or sub.state != "pending" or not sub.revision.endswith("@" + draft.head):
        raise DraftError("draft", draft.number, NOT_PENDING)
    repo = content_repo(site)
    with repo.exclusive():  # nobody merges between the check and the merge
        if not repo.is_ancestor("HEAD", draft.head):  # checked before approving: the merge below cannot then be refused
            raise DraftError("draft", draft.number, MOVED)
        approval = approve(session, draft_diff(site, draft).new, user, number=number, note=note)
        repo.merge(draft)
        record(session, user, "draft.merge", draft.branch, {"commit": draft.head, "approval": approval.approval_number})
        session.commit()
    return approval


def reject_draft(site: Site, session: Session, draft: Draft, user: User, reason: str) -> Submission:
    """Send the draft back to its author with ``reason`` (generator.api.review.reject: the submission is rejected; the
    draft stays editable)."""
    from generator.compliance.diff import content_root
    from generator.compliance.drafts import submission_of

    sub = submission_of(session, draft)
    if sub is None or sub.state != "pending":
        raise DraftError("draft", draft.number, NOT_PENDING)
    with content_root(draft.head, site.content) as root:
        product = _draft_revision(root, draft).product
    if product.key != sub.product or product.digest() != sub.content_hash:  # edited since it was submitted
        raise DraftError("draft", draft.number, NOT_PENDING)
    return reject(session, product, user, reason)
