"""The ledger entry of a built pack: its archive staged before the transaction, then its row and audit entry in it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from generator import api
from generator.compliance.clients import find_client
from generator.content.model import Product
from generator.content.request import ClientRequest
from generator.errors import DocgenError
from generator.store.accounts import User
from generator.store.audit import record as audit
from generator.store.base import utcnow
from generator.store.clients import Client
from generator.store.ledger import Job, PackRecord
from generator.web import storage


def clauses(provenance: dict[str, str]) -> dict[str, str]:
    """``/DocgenClauses`` ("ID=hash ID=hash") as a mapping.

    >>> clauses({"/DocgenClauses": "EX-01=ab12 EX-02=cd34"})
    {'EX-01': 'ab12', 'EX-02': 'cd34'}
    """
    pairs = (item.partition("=") for item in str(provenance.get("/DocgenClauses", "")).split())
    return {k: v for k, _, v in pairs if k}


def provenance(pack: api.Pack) -> dict[str, str]:
    """The document info the pack's PDF carries (a mapping, or a method reading it from the PDF)."""
    found = pack.provenance
    return dict(found() if callable(found) else found)


def approval(prov: dict[str, str]) -> str | None:
    """The approval number stamped in the PDF, None while the content is unapproved (未取得).

    >>> approval({"/DocgenApprovalNumber": "未取得"}), approval({"/DocgenApprovalNumber": "SJ26-01234"})
    (None, 'SJ26-01234')
    """
    number = str(prov.get("/DocgenApprovalNumber", "")).strip()
    return None if number in ("", "未取得") else number


@dataclass
class Ready:
    """A built pack made ready for the ledger before its transaction: what its PDF says, its hash, its archive staged.

    The slow part of entering a pack (reading and hashing the PDF, writing the archive's zip) is done before the
    transaction, which then holds SQLite's one write lock for the rows and a rename alone, while new jobs and downloads'
    audit entries wait for it: a coalesced run of 8-12 packs held it 50-125 ms, and holds it 20-33 ms (service bench,
    2026-12-07).
    """

    pack: api.Pack
    prov: dict[str, str]
    sha256: str
    staging: Path


def ready(root: Path, pack: api.Pack) -> Ready:
    """``pack`` made ready for the ledger: its provenance read, its PDF hashed, its archive staged in ``root``'s storage."""
    return Ready(pack, provenance(pack), storage.sha256(pack.pdf), storage.stage_pack(root, pack.pdf, pack.docx))


def enter(db: Session, root: Path, job_id: int, product: Product, request: ClientRequest, made: Ready) -> PackRecord:
    """Install a pack's staged archive and add its ledger row and audit entry to ``db``'s transaction (the caller
    commits, or removes the archived files when it cannot)."""
    job = db.get(Job, job_id)
    agent = db.get(User, job.user_id) if job else None
    if job is None or agent is None:
        raise DocgenError("the job or its agent was deleted while it ran")
    pack, prov = made.pack, made.prov
    number = approval(prov)
    record = PackRecord(
        agency_id=job.agency_id, agent_id=agent.id, job_id=job.id, client=request.client, contact=request.contact,
        industry=request.industry, revenue=request.revenue, limit=request.limit, product=product.key,
        content_version=prov.get("/DocgenContentVersion") or product.meta.content_version,
        content_hash=prov.get("/DocgenContentHash") or product.digest(), approval_number=number,
        draft=number is None or prov.get("/DocgenDraft") == "true", quote_number=pack.quote_number,
        premium=int(pack.premium), pdf_sha256=made.sha256, clauses=clauses(prov), created_at=utcnow(),
    )
    # the client on file: the one picked on the form, else the agency's record with this name and contact person
    picked = (job.params or {}).get("client_id")
    found = db.get(Client, picked) if picked else find_client(db, job.agency_id, request.client, request.contact)
    record.client_id = found.id if found is not None and found.agency_id == job.agency_id else None
    db.add(record)
    db.flush()
    record.storage_key = storage.install_pack(root, made.staging, record.id)
    try:
        audit(db, agent, "pack.built", f"pack {record.id}", {"client": request.client, "quote_number": pack.quote_number,
                                                             "content_hash": record.content_hash, "draft": record.draft, "job": job.id})
    except BaseException:
        storage.remove(root, record.storage_key)
        raise
    return record


