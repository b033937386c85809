"""Client records and 意向把握: checked values, find-or-create from a pack or a list, each client's history."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from generator.content.request import ClientRequest, check_name
from generator.errors import InputError
from generator.i18n import N_
from generator.jpformat import parse_yen
from generator.store.accounts import User
from generator.store.audit import record as audit
from generator.store.clients import CLIENT_SOURCES, Client, ClientQuote, Intent
from generator.store.delivery import Delivery, DeliveryDownload
from generator.store.ledger import PackRecord

MAX_TEXT = 4000  # a free-text field (needs, reasons, notes, a postal address): a page of text, not a document
# a deliverable address: ASCII local part and domain (what relays accept without SMTPUTF8), at least one dot in the domain
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def check_email(field: str, value: str, *, required: bool) -> str:
    """An e-mail address as typed (trimmed), or InputError naming ``field``.

    >>> check_email("メールアドレス", " tanaka@example.co.jp ", required=True)
    'tanaka@example.co.jp'
    >>> check_email("メールアドレス", "tanaka@example", required=True)
    Traceback (most recent call last):
    ...
    generator.errors.InputError: メールアドレス: 'tanaka@example': is not an e-mail address; allowed: e.g. tanaka@example.co.jp
    """
    value = value.strip()
    if not value:
        if required:
            raise InputError(field, value, N_("is empty"))
        return ""
    if len(value) > 254 or not EMAIL.match(value):
        raise InputError(field, value, N_("is not an e-mail address"), allowed=N_("e.g. tanaka@example.co.jp"))
    return value


def check_text(field: str, value: str, *, required: bool, limit: int = MAX_TEXT, one_line: bool = False) -> str:
    """Free text (line breaks and tabs allowed unless ``one_line``, other control characters never), trimmed; InputError
    naming ``field``.

    >>> check_text("ご意向", "  情報漏えいに備えたい\\n", required=True)
    '情報漏えいに備えたい'
    >>> check_text("宛名", "上 様\\nBcc: x@example.jp", required=False, one_line=True)
    Traceback (most recent call last):
    ...
    generator.errors.InputError: 宛名: '上 様\\nBcc: x@example.jp': has a line break; write it on one line
    """
    value = value.replace("\r\n", "\n").strip()
    if one_line and ("\n" in value or "\r" in value):
        raise InputError(field, value[:40], N_("has a line break; write it on one line"))
    if required and not value:
        raise InputError(field, value, N_("is empty"))
    if len(value) > limit:
        raise InputError(field, f"{value[:20]}…", N_("is {length} characters long; at most {limit} are allowed"), params={"length": len(value), "limit": limit})
    for i, ch in enumerate(value):
        if ch not in "\n\t" and (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0):
            raise InputError(field, value[:20], N_("contains the control character U+{code} at position {position}"),
                             params={"code": f"{ord(ch):04X}", "position": i + 1})
    return value


@dataclasses.dataclass(frozen=True)
class ClientValues:
    """A client's fields, checked: as stored."""

    name: str
    contact: str = ""
    industry: str = ""
    revenue: int | None = None
    email: str = ""
    postal_address: str = ""


def check_client(industries: Collection[str], *, name: str, contact: str = "", industry: str = "", revenue: str = "", email: str = "",
                 postal_address: str = "") -> ClientValues:
    """The form's values checked as a pack would check them (names printable in the documents' fonts); InputError else."""
    from generator.documents.fonts import missing_glyphs

    industry = industry.strip()
    if industry and industry not in industries:
        raise InputError("業種", industry, N_("is not an industry of the rate table"), allowed="、".join(sorted(industries)))
    return ClientValues(
        name=check_name("お客様名", name, required=True, missing_glyphs=missing_glyphs),
        contact=check_name("ご担当者", contact, required=False, missing_glyphs=missing_glyphs),
        industry=industry,
        revenue=parse_yen(revenue, field="売上高") if revenue.strip() else None,
        email=check_email("メールアドレス", email, required=False),
        postal_address=check_text("郵送先住所", postal_address, required=False, limit=400),
    )


def create_client(db: Session, user: User, values: ClientValues, source: str = "manual") -> Client:
    assert source in CLIENT_SOURCES
    client = Client(agency_id=user.agency_id, created_by_id=user.id, source=source, **dataclasses.asdict(values))
    db.add(client)
    db.flush()
    audit(db, user, "client.created", f"client {client.id}", {"name": client.name, "contact": client.contact, "source": source})
    return client


def update_client(db: Session, user: User, client: Client, values: ClientValues) -> Client:
    changed = {k: v for k, v in dataclasses.asdict(values).items() if getattr(client, k) != v}
    for key, value in changed.items():
        setattr(client, key, value)
    if changed:
        audit(db, user, "client.updated", f"client {client.id}", {"fields": sorted(changed)})
    return client


def find_client(db: Session, agency_id: int, name: str, contact: str) -> Client | None:
    """The agency's client with exactly this name and contact person (the oldest, if the agency keeps two)."""
    stmt = select(Client).where(Client.agency_id == agency_id, Client.name == name, Client.contact == contact).order_by(Client.id).limit(1)
    return db.scalar(stmt)


def client_from_pack(db: Session, user: User, pack: PackRecord) -> tuple[Client, bool]:
    """The pack's client record (found by name and contact, else made from the pack), linked to the pack; (client, created)."""
    client = db.get(Client, pack.client_id) if pack.client_id else None
    created = False
    if client is None:
        client = find_client(db, pack.agency_id, pack.client, pack.contact)
    if client is None:
        values = ClientValues(name=pack.client, contact=pack.contact, industry=pack.industry, revenue=pack.revenue or None)
        client, created = create_client(db, user, values, "pack"), True
    pack.client_id = client.id
    return client, created


def clients_from_requests(db: Session, user: User, requests: Iterable[ClientRequest]) -> tuple[int, int]:
    """A client record for each row of a checked list not already on file (same name and contact); (created, already there)."""
    created = existing = 0
    seen: set[tuple[str, str]] = set()
    for r in requests:
        key = (r.client, r.contact)
        if key in seen or find_client(db, user.agency_id, *key) is not None:
            existing += 1
            continue
        seen.add(key)
        create_client(db, user, ClientValues(name=r.client, contact=r.contact, industry=r.industry, revenue=r.revenue), "list")
        created += 1
    return created, existing


def record_intent(db: Session, user: User, pack: PackRecord, *, needs: str, reason: str, chosen_limit: str, limits: Collection[int]) -> Intent:
    """意向把握 for ``pack``: the client's stated needs, why this plan was recommended and the limit chosen (a published one)."""
    needs = check_text("お客さまのご意向", needs, required=True)
    reason = check_text("このプランをお勧めした理由", reason, required=True)
    limit = parse_yen(chosen_limit, field="選択された賠償保険金額") if chosen_limit.strip() else 0
    if limit not in limits:
        raise InputError("選択された賠償保険金額", chosen_limit, N_("is not a published limit"),
                         allowed="、".join(f"{v:,}円" for v in sorted(limits)))
    intent = Intent(agency_id=pack.agency_id, pack_id=pack.id, client_id=pack.client_id, needs=needs, reason=reason, chosen_limit=limit,
                    user_id=user.id)
    db.add(intent)
    db.flush()
    audit(db, user, "intent.recorded", f"pack {pack.id}", {"intent": intent.id, "client": pack.client, "chosen_limit": limit,
                                                          "needs": needs, "reason": reason})
    return intent


def save_quote(db: Session, user: User, client: Client, quote: Any) -> ClientQuote:
    """Keep a priced quote (generator.rating.rate.Quote) in the client's history."""
    saved = ClientQuote(agency_id=client.agency_id, client_id=client.id, user_id=user.id, industry=quote.industry, class_code=quote.class_code,
                        revenue=quote.revenue, limit=quote.limit, premium=int(quote.premium), rates_version=quote.rates_version)
    db.add(saved)
    db.flush()
    audit(db, user, "quote.saved", f"client {client.id}", {"quote": saved.id, "premium": saved.premium, "limit": saved.limit})
    return saved


@dataclasses.dataclass
class History:
    """Everything on file for one client, newest first."""

    quotes: list[ClientQuote]
    packs: list[PackRecord]
    intents: list[Intent]
    deliveries: list[Delivery]
    receipts: dict[int, DeliveryDownload]  # delivery id -> its first download

    def pack(self, pack_id: int) -> PackRecord:
        """The pack an intent or a delivery of this history belongs to (they are found through the client's packs)."""
        return next(p for p in self.packs if p.id == pack_id)


def first_downloads(db: Session, delivery_ids: list[int]) -> dict[int, DeliveryDownload]:
    """The first download of each delivery that has one: the client's receipt."""
    if not delivery_ids:
        return {}
    found: dict[int, DeliveryDownload] = {}
    stmt = select(DeliveryDownload).where(DeliveryDownload.delivery_id.in_(delivery_ids)).order_by(DeliveryDownload.at, DeliveryDownload.id)
    for d in db.scalars(stmt):
        found.setdefault(d.delivery_id, d)
    return found


def history(db: Session, client: Client) -> History:
    quotes = list(db.scalars(select(ClientQuote).where(ClientQuote.client_id == client.id).order_by(ClientQuote.id.desc())))
    packs = list(db.scalars(select(PackRecord).where(PackRecord.client_id == client.id).order_by(PackRecord.id.desc())))
    pack_ids = [p.id for p in packs]
    intents = list(db.scalars(select(Intent).where(Intent.pack_id.in_(pack_ids)).order_by(Intent.id.desc()))) if pack_ids else []
    deliveries = list(db.scalars(select(Delivery).where(Delivery.pack_id.in_(pack_ids)).order_by(Delivery.id.desc()))) if pack_ids else []
    return History(quotes, packs, intents, deliveries, first_downloads(db, [d.id for d in deliveries]))
