"""Compliance commands: ``docgen submit``, ``docgen approve``, ``docgen approvals``, ``docgen audit verify``.

Added to the CLI's parser by :func:`add_commands`; errors are docgen exceptions that ``generator.cli.commands`` turns
into messages and exit codes. The portal user named by ``--user`` acts (the CLI runs where the database is).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from generator import api
from generator.cli.output import EXIT_CODES, Output
from generator.errors import ApprovalError, InputError

if TYPE_CHECKING:
    from generator.content.model import Product

EXAMPLES = {
    "submit": "docgen submit --user marketing@example.jp",
    "approve": "docgen approve --user compliance@example.jp --valid-from 2026-12-01 [--valid-until 2027-11-30] [--number CL-2026-001]\n"
               "  docgen approve --user compliance@example.jp --reject '免責③の文言を確認してください'",
    "approvals": "docgen approvals            # every approval in force and every pending submission",
    "audit": "docgen audit verify         # exit 1 names each altered or deleted entry",
}


def _site(args: argparse.Namespace) -> api.Site:
    return api.Site.from_env(**{k: getattr(args, k, None) for k in ("content", "templates", "outputs", "cache")})


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-01") from None


def _revision(site: api.Site, args: argparse.Namespace) -> Product:
    """The product revision to submit or decide: --product-revision NAME (docgen revisions), else the one in force today."""
    if args.product_revision:
        return api.schedule(site, args.product).by_name(args.product_revision).product
    return api.load(site, args.product)


def cmd_submit(args: argparse.Namespace, out: Output) -> int:
    from generator.content.disclosures import missing_disclosures

    site = _site(args)
    product = _revision(site, args)
    with api.review_database(site) as session:
        user = api.reviewer(session, args.user)
        done = api.submit(site, session, product, user, revision=args.revision)
        sub, base = done.submission, done.base
        out.line(f"submitted: {product.key} content {product.meta.content_version} ({product.digest()}) as submission {sub.id} by {user.email}")
        out.line(f"  compared with: {f'approved {base.approval_number} ({base.content_hash})' if base else 'no approved version yet'}"
                 + (f"; redline {done.redline}" if done.redline else ""))
        for problem in missing_disclosures(product):
            out.error(f"warning: {problem}")
        out.json({"status": "ok", "submission": sub.id, "content_hash": product.digest(), "redline": sub.redline_key})
    return 0


def cmd_approve(args: argparse.Namespace, out: Output) -> int:
    site = _site(args)
    product = _revision(site, args)
    with api.review_database(site) as session:
        user = api.reviewer(session, args.user)
        if args.reject is not None:
            sub = api.reject(session, product, user, args.reject)
            out.line(f"rejected: submission {sub.id} ({product.key} {product.digest()}) by {user.email}: {sub.reason}")
            out.json({"status": "ok", "submission": sub.id, "state": "rejected"})
            return 0
        a = api.approve(session, product, user, number=args.number, valid_from=args.valid_from, valid_until=args.valid_until, note=args.note)
        until = a.valid_until.isoformat() if a.valid_until else "open"
        out.line(f"approved: {product.key} content {a.content_version} ({a.content_hash}) as {a.approval_number} by {user.email}, "
                 f"valid {a.valid_from} – {until}")
        out.line("documents built from this exact content now print the number; run docgen build to republish")
        out.json({"status": "ok", "approval": a.approval_number, "content_hash": a.content_hash, "valid_from": a.valid_from,
                  "valid_until": a.valid_until})
    return 0


def cmd_approvals(args: argparse.Namespace, out: Output) -> int:
    from sqlalchemy import select

    from generator.compliance import approval as ap
    from generator.store.approvals import Approval, Submission

    site = _site(args)
    product = api.load(site, args.product, lint=False)
    today = dt.date.today()
    with api.review_database(site) as session:
        state = ap.version_state(session, product.key, product.digest(), today)
        out.line(f"current content {product.meta.content_version} ({product.digest()}): {state.label}")
        gone = ap.superseded_ids(session)
        rows = []
        for a in session.scalars(select(Approval).where(Approval.product == product.key).order_by(Approval.id)):
            status = "superseded" if a.id in gone else ("valid" if ap.is_valid_on(a, today) else "expired" if a.valid_until and a.valid_until < today
                                                        else "not yet valid")
            rows.append({"approval": a.approval_number, "content_hash": a.content_hash, "version": a.content_version, "approver": a.approver.email,
                         "approved_at": a.approved_at.isoformat(timespec="seconds"), "valid_from": a.valid_from.isoformat(),
                         "valid_until": a.valid_until.isoformat() if a.valid_until else "", "status": status})
            out.line(f"  {a.approval_number:<24} {a.content_hash}  v{a.content_version}  {status:<13} {a.valid_from} – "
                     f"{a.valid_until or ''}  by {a.approver.email} at {a.approved_at:%Y-%m-%d %H:%M}Z")
        for s in session.scalars(select(Submission).where(Submission.product == product.key, Submission.state == "pending").order_by(Submission.id)):
            out.line(f"  pending submission {s.id}: {s.content_hash} v{s.content_version} by {s.submitted_by.email} at {s.submitted_at:%Y-%m-%d %H:%M}Z")
        out.json({"status": "ok", "current": {"content_hash": product.digest(), "state": state.status}, "approvals": rows})
    return 0


def cmd_audit(args: argparse.Namespace, out: Output) -> int:
    from generator.store.audit import CHECKPOINT_NAME, head, verify

    site = _site(args)
    with api.review_database(site) as session:
        if args.action == "verify":
            breaks = verify(session)
            seq, digest = head(session)
            for b in breaks:
                out.error(str(b))
            if breaks:
                out.error(f"docgen audit: the audit log is NOT intact: {len(breaks)} break(s)")
                out.json({"status": "tampered", "breaks": [{"seq": b.seq, "reason": b.text} for b in breaks]})
                return 1
            out.line(f"audit log intact: {seq} entries, head {digest} (matches the checkpoint {CHECKPOINT_NAME} in DOCGEN_STORAGE)")
            out.json({"status": "ok", "entries": seq, "head": digest})
            return 0
        raise InputError("audit", args.action, "unknown action", allowed="verify")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the compliance commands to the CLI's subparsers (each gets --product, --json, -q/-v like the others)."""
    def add(name: str, func: Callable[[argparse.Namespace, Output], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"example:\n  {EXAMPLES[name]}\n\n{EXIT_CODES}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        p.add_argument("--product", help="product folder under the content root (default: the only one)")
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        talk = p.add_mutually_exclusive_group()
        talk.add_argument("-q", "--quiet", action="store_true", help="only errors")
        talk.add_argument("-v", "--verbose", action="store_true", help="say what is being done, step by step")
        return p

    s = add("submit", cmd_submit, "submit the current content version for compliance review (with a redline against the last approval)")
    s.add_argument("--user", required=True, help="e-mail of the portal user submitting")
    s.add_argument("--revision", default="working tree", help="what people call this version (a git revision, a ticket)")
    s.add_argument("--product-revision", metavar="NAME", help="the product revision to submit (docgen revisions; default: the one in force today)")
    a = add("approve", cmd_approve, "approve (or --reject) the pending submission of the current content version (compliance)")
    a.add_argument("--user", required=True, help="e-mail of the compliance user deciding (not the submitter)")
    a.add_argument("--number", help="approval number (default: <SLUG>-<YYYYMM>-<n>)")
    a.add_argument("--valid-from", type=_date, help="first day of use (default: the product's effective date)")
    a.add_argument("--valid-until", type=_date, help="last day of use (default: open)")
    a.add_argument("--note", default="", help="a note kept with the approval")
    a.add_argument("--reject", metavar="REASON", help="reject instead, saying why")
    a.add_argument("--product-revision", metavar="NAME", help="the product revision to decide on (docgen revisions; default: the one in force today)")
    add("approvals", cmd_approvals, "approvals of the product and where the current content stands")
    au = add("audit", cmd_audit, "check the audit log's hash chain")
    au.add_argument("action", choices=["verify"], help="verify: find altered or deleted entries")


__all__ = ["add_commands", "ApprovalError"]


def draft_notice(out: Output, products: Iterable[Product]) -> None:
    """Say on stderr, on every build, which products' documents are drafts (no valid approval: watermarked)."""
    from generator.compliance.in_force import is_draft
    from generator.documents.watermark import DRAFT_TEXT

    for p in products:
        name = f"{p.key} revision {p.revision}" if p.revision_path else p.key  # the first revision is named as before revisions
        if is_draft(p):
            out.error(f"docgen: DRAFT: {name} content {p.meta.content_version} ({p.digest()}) has no valid approval; every page carries "
                      f"「{DRAFT_TEXT}」 (docgen submit, then docgen approve)")
        else:
            out.error(f"docgen: approved: {name} content {p.digest()} prints approval number {p.meta.approval_number}")


def disclosure_warnings(out: Output, products: Iterable[Product]) -> None:
    """`docgen validate`: every required 重要事項説明書 item still missing, as a warning (an approval refuses them)."""
    from generator.content.disclosures import missing_disclosures

    for p in products:
        missing = missing_disclosures(p)
        for problem in missing:
            out.error(f"warning: {problem}")
        if missing:
            out.error(f"docgen: {p.key}: {len(missing)} required disclosure item(s) missing: fine for a draft, but this version cannot be approved")
