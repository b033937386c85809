"""Which approvals a build prints (generator.content.approvals): those in force in a database, those a committed manifest records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from generator.content.approvals import Approvals, printed
from generator.content.model import Product
from generator.content.revisions import Schedule
from generator.errors import ApprovalError
from generator.i18n import N_
from generator.site import Site
from generator.store.existing import existing_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from generator.store.approvals import Approval


def apply(product: Product, approval: Approval | None) -> Product:
    """``product`` printing ``approval``'s number (the content hash is unchanged: it hashes files, not meta).

    None gives the product with no approval number: every document built from it is a draft.
    """
    if approval is not None and approval.content_hash != product.digest():
        raise ApprovalError("approval", approval.approval_number, N_("is for content {approved}, not {current}"),
                            {"approved": approval.content_hash, "current": product.digest()})
    return printed(product, approval.approval_number if approval is not None else "")


def is_draft(product: Product) -> bool:
    """True when documents of ``product`` are drafts (no valid approval applied)."""
    return not product.meta.approval_number


def dated(sched: Schedule, today: dt.date) -> list[tuple[Product, dt.date]]:
    """Each revision with the day its documents are used: today, or the day a later revision takes effect."""
    return [(r.product, max(today, r.effective)) for r in sched.revisions]


def in_session(session: Session, products: Iterable[tuple[Product, dt.date]]) -> Approvals:
    """The approval valid on its day for each (product, day) in ``session``'s database."""
    from generator.compliance.approval import current_approval

    numbers: dict[tuple[str, str], str] = {}
    for product, on in products:
        found = current_approval(session, product.key, product.digest(), on)
        if found is not None:
            numbers[(product.key, product.digest())] = found.approval_number
    return Approvals(numbers)


def in_site(site: Site, products: Iterable[tuple[Product, dt.date]]) -> Approvals:
    """:func:`in_session` on the site's database; none (every document a draft) when it has none.

    No database yet (a fresh clone, CI) means no approvals. The database is only read here, never created or migrated:
    building documents must not need the portal set up.
    """
    # SQLAlchemy and the models are imported only once a database exists (existing_session)
    with existing_session(site, "approvals") as session:
        return Approvals() if session is None else in_session(session, products)


def from_manifest(products: Iterable[Product], manifest: dict[str, Any]) -> Approvals:
    """The approval numbers a committed manifest records for these products' exact content hashes.

    This is what lets a fresh clone (CI, no database) rebuild approved published outputs byte for byte: the manifest is
    committed with them, and a number recorded for another content hash never applies. A database approval wins
    (:meth:`Approvals.merged`).
    """
    numbers: dict[tuple[str, str], str] = {}
    for p in products:
        facts = manifest.get("facts", {}).get(p.manifest_key, {})
        if facts.get("approval") and facts.get("content_hash") == p.digest():
            numbers[(p.key, p.digest())] = facts["approval"]
    return Approvals(numbers)


def recorded(products: list[Product], manifest: dict[str, Any]) -> list[Product]:
    """``products``, each draft printing the approval the committed manifest records for its exact content (if any)."""
    found = from_manifest(products, manifest)
    return [found.printed(p) if is_draft(p) else p for p in products]


def approval_lines(products: list[Product], manifest: dict[str, Any]) -> list[str]:
    """Whether the published outputs match an approved version, per product (for `docgen check`)."""
    lines = []
    for p in products:
        facts = manifest.get("facts", {}).get(p.manifest_key, {})
        number, built_hash = facts.get("approval", ""), facts.get("content_hash", "")
        if number and built_hash != p.digest():
            lines.append(f"{p.manifest_key}: published outputs were approved as {number} (content {built_hash}); content is now {p.digest()}, "
                         f"which {'is approved as ' + p.meta.approval_number if not is_draft(p) else 'has no valid approval (drafts)'}")
        elif number:
            lines.append(f"{p.manifest_key}: published outputs match approval {number} (content {built_hash})")
        else:
            state = f"approved as {p.meta.approval_number}" if not is_draft(p) else "has no valid approval"
            lines.append(f"{p.manifest_key}: published outputs are drafts (no approval recorded); content {p.digest()} {state}")
    return lines


def in_sessions(sessions: Callable[[], AbstractContextManager[Session]], products: Iterable[tuple[Product, dt.date]]) -> Approvals:
    """:func:`in_session` on a new session from ``sessions`` (the portal's own database, wherever it is)."""
    with sessions() as session:
        return in_session(session, products)
