"""Approval of exact content versions: submit, approve or reject, correct (which one a build prints: in_force).

Pure functions over a SQLAlchemy session (no printing, no commits: the caller owns the transaction). A content
version is ``Product.digest()``. Rules: only a compliance user decides, never on their own submission; a version
with a missing required disclosure cannot be approved; approvals are never edited, a correction supersedes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from generator.content.disclosures import missing_disclosures
from generator.content.model import Product
from generator.errors import ApprovalError, ApprovalOptionError
from generator.i18n import N_
from generator.store.accounts import User
from generator.store.approvals import Approval, Submission
from generator.store.audit import record
from generator.store.base import utcnow

DECIDERS = ("compliance",)
Status = Literal["approved", "expired", "not yet valid", "pending", "rejected", "draft"]


def user_by_email(session: Session, email: str) -> User:
    """The active portal user with this e-mail; a bad option (exit 2) naming ``--user`` otherwise."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        raise ApprovalOptionError("--user", email, N_("no active portal user has this e-mail"),
                                  allowed=N_("the e-mail of an account made with docgen users add"))
    return user


def superseded_ids(session: Session) -> set[int]:
    return {i for i in session.scalars(select(Approval.supersedes_id).where(Approval.supersedes_id.is_not(None))) if i is not None}


def approvals_of(session: Session, product: str, content_hash: str | None = None) -> list[Approval]:
    """Approvals in force (not superseded) of ``product`` (and ``content_hash``), newest first."""
    gone = superseded_ids(session)
    q = select(Approval).where(Approval.product == product)
    if content_hash is not None:
        q = q.where(Approval.content_hash == content_hash)
    return [a for a in session.scalars(q.order_by(Approval.approved_at.desc(), Approval.id.desc())) if a.id not in gone]


def is_valid_on(approval: Approval, on: dt.date) -> bool:
    """Whether ``on`` lies within [valid_from, valid_until] (valid_until inclusive, open when empty)."""
    return approval.valid_from <= on and (approval.valid_until is None or on <= approval.valid_until)


def current_approval(session: Session, product: str, content_hash: str, on: dt.date) -> Approval | None:
    """The approval a document built on ``on`` from this exact version prints, or None (it is a draft)."""
    return next((a for a in approvals_of(session, product, content_hash) if is_valid_on(a, on)), None)


def last_approved(session: Session, product: str) -> Approval | None:
    """The most recently approved version in force of ``product`` (what a new submission is compared with)."""
    found = approvals_of(session, product)
    return found[0] if found else None


@dataclass(frozen=True)
class VersionState:
    """Where one content version stands: its status and the approval or submission behind it."""

    status: Status
    approval: Approval | None = None
    submission: Submission | None = None

    @property
    def label(self) -> str:
        if self.approval is not None:
            until = f"〜{self.approval.valid_until}" if self.approval.valid_until else "〜"
            return f"{self.status} {self.approval.approval_number} ({self.approval.valid_from}{until})"
        return self.status


def version_state(session: Session, product: str, content_hash: str, on: dt.date) -> VersionState:
    """approved / expired / not yet valid (an approval exists) · pending / rejected (a submission) · draft."""
    found = approvals_of(session, product, content_hash)
    for a in found:
        if is_valid_on(a, on):
            return VersionState("approved", a)
    if found:
        a = found[0]
        return VersionState("not yet valid" if on < a.valid_from else "expired", a)
    sub = session.scalar(select(Submission).where(Submission.product == product, Submission.content_hash == content_hash)
                         .order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(1))
    if sub is not None and sub.state in ("pending", "rejected"):
        return VersionState("pending" if sub.state == "pending" else "rejected", submission=sub)
    return VersionState("draft")


def submit(session: Session, product: Product, user: User, *, revision: str = "working tree", summary: str = "",
           redline_key: str = "") -> Submission:
    """Put ``product`` as it is now up for review; ``summary``/``redline_key`` are its diff against the last approval."""
    digest = product.digest()
    if current_approval(session, product.key, digest, dt.date.today()) is not None:
        raise ApprovalError("version", f"{product.key} {digest}", N_("this version is already approved"))
    pending = session.scalar(select(Submission).where(Submission.product == product.key, Submission.content_hash == digest,
                                                      Submission.state == "pending"))
    if pending is not None:
        raise ApprovalError("version", f"{product.key} {digest}", N_("already submitted (submission {submission}, pending review)"),
                            {"submission": pending.id})
    base = last_approved(session, product.key)
    sub = Submission(product=product.key, content_hash=digest, content_version=product.meta.content_version, revision=revision,
                     base_hash=base.content_hash if base else "", summary=summary, redline_key=redline_key, submitted_by_id=user.id,
                     submitted_by=user, submitted_at=utcnow(), state="pending", reason="")
    session.add(sub)
    session.flush()
    record(session, user, "submit", f"{product.key}@{digest}", {"submission": sub.id, "revision": revision, "base": sub.base_hash})
    return sub


def pending_submission(session: Session, product: str, content_hash: str) -> Submission:
    sub = session.scalar(select(Submission).where(Submission.product == product, Submission.content_hash == content_hash,
                                                  Submission.state == "pending"))
    if sub is None:
        raise ApprovalError("version", f"{product} {content_hash}", N_("no pending submission for this version; submit it first (docgen submit)"))
    return sub


def _check_decider(sub: Submission, user: User) -> None:
    if user.role not in DECIDERS:
        raise ApprovalOptionError("--user", user.email, N_("role {role!r} cannot approve or reject"), {"role": user.role, "allowed": ", ".join(DECIDERS)},
                                  allowed=N_("a user of role {allowed}"))
    if user.id == sub.submitted_by_id:
        raise ApprovalError("--user", user.email, N_("submitted this version (submission {submission}); another compliance user must decide"),
                            {"submission": sub.id})


def next_number(session: Session, product: Product, on: dt.date) -> str:
    """A new approval number: ``<SLUG>-<YYYYMM>-<n>`` (the insurer may pass its own; the format is internal).

    Numbers never repeat: n counts every approval row of the product.
    """
    count = len(list(session.scalars(select(Approval.id).where(Approval.product == product.key))))
    return f"{product.meta.slug.upper()}-{on:%Y%m}-{count + 1:03d}"


def approve(session: Session, product: Product, user: User, *, number: str | None = None, valid_from: dt.date | None = None,
            valid_until: dt.date | None = None, note: str = "") -> Approval:
    """Approve the pending submission of ``product``'s exact version (its content as loaded now)."""
    digest = product.digest()
    start = valid_from or product.meta.effective_date
    if valid_until is not None and valid_until < start:  # the options first: they are wrong whatever the review state
        raise ApprovalOptionError("--valid-until", valid_until, N_("is before the first day of use {start} (--valid-from, else the effective date)"),
                                  {"start": start}, allowed=N_("{start} or later"))
    sub = pending_submission(session, product.key, digest)
    _check_decider(sub, user)
    missing = missing_disclosures(product)
    if missing:
        raise ApprovalError("version", f"{product.key} {digest}", N_("cannot be approved: {count} required disclosure item(s) missing:"),
                            {"count": len(missing)}, lines=tuple(str(p) for p in missing))
    number = (number or next_number(session, product, start)).strip()
    if not number:
        raise ApprovalOptionError("--number", "''", N_("the approval number is empty"), allowed=N_("a number such as CL-2026-001"))
    taken = session.scalar(select(Approval).where(Approval.approval_number == number))
    if taken is not None:
        raise ApprovalOptionError("--number", repr(number), N_("already used by approval {approval} ({product} {content_hash})"),
                                  {"approval": taken.id, "product": taken.product, "content_hash": taken.content_hash},
                                  allowed=N_("a number not used before"))
    now = utcnow()
    approval = Approval(product=product.key, content_hash=digest, content_version=product.meta.content_version, approval_number=number,
                        approver_id=user.id, approver=user, approved_at=now, valid_from=start, valid_until=valid_until,
                        submission_id=sub.id, note=note)
    session.add(approval)
    sub.state, sub.decided_by_id, sub.decided_at = "approved", user.id, now
    session.flush()
    record(session, user, "approve", f"{product.key}@{digest}",
           {"approval": number, "submission": sub.id, "valid_from": start.isoformat(), "valid_until": valid_until.isoformat() if valid_until else None})
    return approval


def reject(session: Session, product: str, content_hash: str, user: User, reason: str) -> Submission:
    """Reject the pending submission of this version, saying why."""
    sub = pending_submission(session, product, content_hash)
    _check_decider(sub, user)
    if not reason.strip():
        raise ApprovalOptionError("--reject", "''", N_("a rejection needs a reason the submitter can act on"))
    sub.state, sub.decided_by_id, sub.decided_at, sub.reason = "rejected", user.id, utcnow(), reason.strip()
    session.flush()
    record(session, user, "reject", f"{product}@{content_hash}", {"submission": sub.id, "reason": sub.reason})
    return sub


def correct(session: Session, old: Approval, user: User, *, number: str | None = None, valid_from: dt.date | None = None,
            valid_until: dt.date | None = None, note: str) -> Approval:
    """A correction of ``old`` (another number, dates, e.g. ending it early): a new row superseding it."""
    if user.role not in DECIDERS:
        raise ApprovalOptionError("--user", user.email, N_("role {role!r} cannot correct approvals"), {"role": user.role, "allowed": ", ".join(DECIDERS)},
                                  allowed=N_("a user of role {allowed}"))
    if old.id in superseded_ids(session):
        raise ApprovalError("approval", old.approval_number, N_("is already superseded; correct the approval in force"))
    new = Approval(product=old.product, content_hash=old.content_hash, content_version=old.content_version,
                   approval_number=(number or old.approval_number), approver_id=user.id, approver=user, approved_at=utcnow(),
                   valid_from=valid_from or old.valid_from, valid_until=valid_until, submission_id=old.submission_id, supersedes_id=old.id,
                   note=note)
    session.add(new)
    session.flush()
    record(session, user, "approve", f"{old.product}@{old.content_hash}",
           {"approval": new.approval_number, "supersedes": old.approval_number, "note": note})
    return new
