"""Impact on issued proposals: which packs in the ledger carry wording or premiums a change replaces, and re-issue.

A pack record keeps ``{clause ID: hash}`` of everything it printed (its PDF's /DocgenClauses), so a changed clause is
found in every pack that printed its old wording, whatever version the pack was built from. Premium cells are not
in the ledger: a pack built from the old version prints the whole premium table (its brochure), so a changed cell
reaches every pack of that version; the client's own quoted cell is named when it is one of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from generator.compliance.diff import ContentDiff
from generator.errors import DocgenError
from generator.site import Site
from generator.store.accounts import Agency, User
from generator.store.audit import record
from generator.store.ledger import Job, PackRecord


def clause_stamp(text: str) -> str:
    """The per-clause hash packs carry (generator.documents.provenance /DocgenClauses).

    >>> clause_stamp("x") == hashlib.sha256(b"x").hexdigest()[:10]
    True
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class AffectedPack:
    """One issued pack a change reaches, and why."""

    record_id: int
    client: str
    contact: str
    agency: str
    quote_number: str
    created_at: dt.datetime
    content_hash: str
    approval_number: str | None
    draft: bool
    clauses: tuple[str, ...] = ()  # changed or removed clause IDs it printed in their old wording
    cells: tuple[str, ...] = ()  # premium changes it printed (the brochure's table)
    own_premium: str = ""  # the client's quoted cell, when it changed

    def line(self) -> str:
        who = f"{self.client} {self.contact}".strip()
        why = [f"clauses {', '.join(self.clauses)}"] if self.clauses else []
        if self.own_premium:
            why.append(f"quoted premium {self.own_premium}")
        elif self.cells:
            why.append(f"{len(self.cells)} premium cell(s) of its table")
        state = "draft" if self.draft else f"approval {self.approval_number}"
        return (f"  pack {self.record_id}: {who} — {self.agency} — {self.quote_number} — {self.created_at:%Y-%m-%d} — {state}: "
                f"{'; '.join(why)}")

    def as_dict(self) -> dict[str, Any]:
        return {"record": self.record_id, "client": self.client, "contact": self.contact, "agency": self.agency, "quote_number": self.quote_number,
                "date": self.created_at.date().isoformat(), "content_hash": self.content_hash, "approval_number": self.approval_number,
                "draft": self.draft, "clauses": list(self.clauses), "cells": list(self.cells), "own_premium": self.own_premium}


def _own_cell(d: ContentDiff, rec: PackRecord) -> str:
    """The client's quoted cell key in the old version (class/band/limit), or "" when it cannot be priced there."""
    from generator.rating.rate import quote

    try:
        q = quote(d.old, rec.industry, rec.revenue, rec.limit)
    except DocgenError:
        return ""
    return f"{q.class_code}/{q.band_id}/{q.limit}"


def affected_packs(session: Session, d: ContentDiff, others: frozenset[str] = frozenset()) -> list[AffectedPack]:
    """Ledger packs of ``d``'s product that printed a changed clause's old wording or (old version) a changed premium.

    ``others``: content hashes of the product's other revisions. A revision starts as a copy of the one before, so its
    packs print the same clause stamps; a change to one revision reaches only the packs built from it.
    """
    old_stamps = {c.id: clause_stamp(c.old.text) for c in d.clauses if c.old is not None}
    changed_cells = {c.key: c for c in d.cells if c.old is not None}
    agencies = {a.id: a.name for a in session.scalars(select(Agency))}
    out: list[AffectedPack] = []
    query = select(PackRecord).where(PackRecord.product == d.old.key).order_by(PackRecord.created_at, PackRecord.id)
    for rec in session.scalars(query):
        if rec.content_hash in others:
            continue
        printed = rec.clauses or {}
        hit = tuple(cid for cid, stamp in old_stamps.items() if printed.get(cid) == stamp)
        cells: tuple[str, ...] = ()
        own = ""
        if changed_cells and rec.content_hash == d.old.digest():
            cells = tuple(c.describe() for c in changed_cells.values())
            key = _own_cell(d, rec)
            own = changed_cells[key].describe() if key in changed_cells else ""
        if hit or cells:
            out.append(AffectedPack(rec.id, rec.client, rec.contact, agencies.get(rec.agency_id, "?"), rec.quote_number, rec.created_at,
                                    rec.content_hash, rec.approval_number, rec.draft, hit, cells, own))
    return out


@dataclass
class Reissue:
    """The jobs a re-issue queued: one pack job per affected pack, in the pack's own agency and agent's name."""

    jobs: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a pack could not be re-issued


def reissue(session: Session, records: list[int], actor: User, today: dt.date) -> Reissue:
    """Queue a pack job per ledger record, rebuilding it for the same client from the content in force now.

    The job runs as the record's agent (so the new pack lands in that agency's ledger for them to send), with the
    request the original job had when it is known. The caller commits and hands the job ids to the portal's worker.
    """
    done = Reissue()
    for rec in session.scalars(select(PackRecord).where(PackRecord.id.in_(records)).order_by(PackRecord.id)):
        original = session.get(Job, rec.job_id) if rec.job_id else None
        raw = dict(original.params.get("request", {})) if original and original.params else {}
        if not raw:
            raw = {"client": rec.client, "contact": rec.contact, "industry": rec.industry, "revenue": str(rec.revenue), "limit": str(rec.limit)}
        job = Job(kind="pack", state="queued", agency_id=rec.agency_id, user_id=rec.agent_id, total=1, result={},
                  params={"request": raw, "today": today.isoformat(), "reissue_of": rec.id})
        session.add(job)
        session.flush()
        done.jobs.append(job.id)
        record(session, actor, "reissue", f"pack {rec.id}", {"job": job.id, "client": rec.client, "quote_number": rec.quote_number,
                                                             "old_content": rec.content_hash})
    return done


def ledger_impact(site: Site, d: ContentDiff, others: frozenset[str] = frozenset()) -> list[AffectedPack] | None:
    """:func:`affected_packs` from the site's database; None when there is no portal database (no ledger) yet."""
    from generator.store.existing import existing_session

    with existing_session(site, "pack_records") as session:
        return None if session is None else affected_packs(session, d, others)


def impact_lines(found: list[AffectedPack] | None) -> list[str]:
    """`docgen diff`'s section on issued packs."""
    if found is None:
        return ["issued packs: no portal database here, so no ledger to search"]
    if not found:
        return ["issued packs affected: none in the ledger"]
    return [f"issued packs affected (ledger): {len(found)}", *(p.line() for p in found)]
