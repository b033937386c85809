"""Submit, approve and reject a content version: one implementation under ``docgen submit``/``approve`` and the portal.

Every face gets the same effects: a submission snapshots the exact content files under the site's storage and, when an
approved version has a snapshot, writes its Markdown summary and tracked-changes redline against it; each decision is
one audit entry (generator.compliance.approval records them). Each function commits on success; a refused one raises
before anything is added (the caller's session is left as it was).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.content.model import Product
from generator.site import Site

if TYPE_CHECKING:  # SQLAlchemy and the models come with the portal extra: imported by the functions that need them
    import datetime as dt

    from sqlalchemy.orm import Session

    from generator.compliance.diff import ContentDiff
    from generator.store.accounts import User
    from generator.store.approvals import Approval, Submission

SUBMISSIONS = "submissions"  # under the site's storage: one folder per submission id, the content as submitted


@dataclass(frozen=True)
class Submitted:
    """A submission and what it left on disk: the snapshot folder, and the summary and redline when there was a base."""

    submission: Submission
    snapshot: Path
    base: Approval | None  # the approved version it was compared with (None: nothing approved yet)
    summary: Path | None
    redline: Path | None


@contextmanager
def review_database(site: Site) -> Iterator[Session]:
    """A session on the site's database, migrated to the newest revision first (idempotent)."""
    from generator.store import db

    url = db.database_url(site)
    db.check_database(url, db.setting_name(None))  # a bad DOCGEN_DATABASE_URL is a bad setting (2), a server that is down 5
    db.upgrade(url)
    eng = db.engine(url, audit_checkpoint=db.checkpoint_for(site.storage))
    try:
        with db.session_factory(eng)() as session:
            yield session
    finally:
        eng.dispose()


def reviewer(session: Session, email: str) -> User:
    """The active portal user with this e-mail (the CLI names people by e-mail); ApprovalOptionError otherwise."""
    from generator.compliance.approval import user_by_email

    return user_by_email(session, email)


def snapshot_folder(site: Site, submission_id: int) -> Path:
    """Where submission ``submission_id``'s content files are kept."""
    return Path(site.storage) / SUBMISSIONS / str(submission_id)


def snapshot(site: Site, product: Product, submission_id: int) -> Path:
    """Copy the submitted content files under the site's storage: the exact version a later redline compares with."""
    root = snapshot_folder(site, submission_id)
    folder = root / product.key
    folder.mkdir(parents=True, exist_ok=True)
    for name in product.file_hashes:
        shutil.copyfile(Path(site.content) / product.key / product.revision_path / name, folder / name)
    return root


def submit(site: Site, session: Session, product: Product, user: User, *, revision: str = "working tree",
           changes: ContentDiff | None = None) -> Submitted:
    """Put ``product``'s exact content (read from ``site.content``) up for review: the submission, its snapshot, and its
    redline against the snapshot of the last approved version (when that one was submitted with a snapshot), or the
    redline of ``changes`` when given (a draft's, against the content it was started from: generator.api.drafts).
    ApprovalError when the version is already approved or pending."""
    from generator.compliance import approval as ap
    from generator.compliance.diff import compare, load_pair
    from generator.compliance.redline import write_report
    from generator.store.approvals import Submission

    sub = ap.submit(session, product, user, revision=revision)
    root = snapshot(site, product, sub.id)
    base = ap.last_approved(session, product.key)
    base_sub = session.get(Submission, base.submission_id) if base is not None and base.submission_id else None
    summary = redline = None
    if changes is None and base is not None and base_sub is not None and snapshot_folder(site, base_sub.id).is_dir():
        old, new = load_pair(site, str(snapshot_folder(site, base_sub.id)), str(root), product.key)
        changes = compare(old, new, f"approved {base.approval_number}", f"submission {sub.id}")
    if changes is not None:
        summary, redline = write_report(changes, root, templates=site.templates, author=user.email)
        sub.summary, sub.redline_key = summary.read_text(encoding="utf-8"), redline.relative_to(site.storage).as_posix()
    session.commit()
    return Submitted(sub, root, base, summary, redline)


def approve(session: Session, product: Product, user: User, *, number: str | None = None, valid_from: dt.date | None = None,
            valid_until: dt.date | None = None, note: str = "") -> Approval:
    """Approve the pending submission of ``product``'s exact content (the rules: generator.compliance.approval.approve)."""
    from generator.compliance import approval as ap

    approval = ap.approve(session, product, user, number=number, valid_from=valid_from, valid_until=valid_until, note=note)
    session.commit()
    return approval


def reject(session: Session, product: Product, user: User, reason: str) -> Submission:
    """Reject the pending submission of ``product``'s exact content, saying why."""
    from generator.compliance import approval as ap

    sub = ap.reject(session, product.key, product.digest(), user, reason)
    session.commit()
    return sub
