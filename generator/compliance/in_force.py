"""Which approval a build prints: the one in force in the site's database, one a committed manifest records, or none (a draft)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from generator.content.model import Product
from generator.errors import ApprovalError
from generator.i18n import N_
from generator.site import Site
from generator.store.existing import existing_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from generator.store.approvals import Approval


def apply(product: Product, approval: Approval | None) -> Product:
    """``product`` printing ``approval``'s number (the content hash is unchanged: it hashes files, not meta).

    None gives the product with no approval number: every document built from it is a draft.
    """
    if approval is not None and approval.content_hash != product.digest():
        raise ApprovalError("approval", approval.approval_number, N_("is for content {approved}, not {current}"),
                            {"approved": approval.content_hash, "current": product.digest()})
    number = approval.approval_number if approval is not None else ""
    return dataclasses.replace(product, meta=dataclasses.replace(product.meta, approval_number=number))


def is_draft(product: Product) -> bool:
    """True when documents of ``product`` are drafts (no valid approval applied)."""
    return not product.meta.approval_number


def for_build(site: Site, product: Product, on: dt.date | None = None) -> Product:
    """``product`` printing its approval valid ``on`` (default today) from the site's database, else as a draft.

    No database yet (a fresh clone, CI) means no approvals: every document is a draft. The database is only read
    here, never created or migrated: building documents must not need the portal set up.
    """
    # every CLI command loads its product through here: SQLAlchemy and the models are imported only once a database exists
    with existing_session(site, "approvals") as session:
        if session is None:
            return apply(product, None)
        from generator.compliance.approval import current_approval

        return apply(product, current_approval(session, product.key, product.digest(), on or dt.date.today()))


def from_manifest(product: Product, manifest: dict[str, Any]) -> Product:
    """A draft ``product`` printing the approval number a committed manifest records for this exact content hash.

    This is what lets a fresh clone (CI, no database) rebuild approved published outputs byte for byte: the manifest is
    committed with them, and a number recorded for another content hash never applies. A database approval wins.
    """
    if not is_draft(product):
        return product
    facts = manifest.get("facts", {}).get(product.manifest_key, {})
    number = facts.get("approval", "")
    if number and facts.get("content_hash") == product.digest():
        return dataclasses.replace(product, meta=dataclasses.replace(product.meta, approval_number=number))
    return product


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


def for_session(sessions: sessionmaker[Session], product: Product, on: dt.date | None = None) -> Product:
    """:func:`for_build` on a given session factory (the portal's own database, wherever it is)."""
    from generator.compliance.approval import current_approval

    with sessions() as session:
        return apply(product, current_approval(session, product.key, product.digest(), on or dt.date.today()))
