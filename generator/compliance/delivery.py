"""Electronic delivery of an issued pack: consent first, then an e-mail with a time-limited link to the archived bytes.

Each send (and each retry or resend) is its own Delivery row with its own link: the link's token exists only in the
mail (the database keeps its SHA-256), so an earlier link cannot be mailed again, only replaced. Every link of a pack
serves the same archived PDF, checked against the ledger's SHA-256 before each download; an earlier link keeps working
until its own expiry (the client may open either mail). A failed send keeps its row, status and reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from generator import mail, settings
from generator.compliance.clients import check_email, check_text
from generator.errors import DeliveryError, InputError, LinkError, MailError
from generator.i18n import N_
from generator.store.accounts import User
from generator.store.audit import record as audit
from generator.store.base import utcnow
from generator.store.delivery import CONSENT_METHODS, Consent, Delivery, DeliveryDownload
from generator.store.ledger import PackRecord

JST = ZoneInfo("Asia/Tokyo")
DEFAULT_DAYS = 14  # DOCGEN_DELIVERY_DAYS unset (generator.settings)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32): 256 random bits
PACK_PDF = "pack.pdf"  # generator.web.storage names the archived PDF so
INVALID_LINK = "このリンクは無効です。URL が途中で切れているか、変更されている可能性があります。メールのリンクをそのまま開いてください。"


@dataclasses.dataclass(frozen=True)
class DeliverySettings:
    """The relay (None: not configured, every send fails saying so), how long a link lives, the portal's public URL."""

    mail: mail.MailSettings | None = None
    link_days: int = DEFAULT_DAYS
    public_url: str = ""  # empty: the URL the agent's own request came to

    @classmethod
    def from_env(cls, chosen: settings.Settings | None = None) -> DeliverySettings:
        """``DOCGEN_SMTP_*``, ``DOCGEN_MAIL_FROM``, ``DOCGEN_DELIVERY_DAYS`` and ``DOCGEN_PUBLIC_URL`` as ``chosen`` (default:
        :func:`generator.settings.current`) read them.

        >>> DeliverySettings.from_env(settings.load({"DOCGEN_DELIVERY_DAYS": "7", "DOCGEN_PUBLIC_URL": "https://portal.example.jp/"}))
        DeliverySettings(mail=None, link_days=7, public_url='https://portal.example.jp')
        """
        chosen = chosen or settings.current()
        return cls(chosen.mail, chosen.delivery_days, chosen.public_url)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_deliverable(pack: PackRecord) -> None:
    """A draft (no valid approval) never goes to a client; nor a pack whose files are not archived."""
    if pack.draft or not pack.approval_number:
        raise DeliveryError("この提案書は未承認のドラフトのため、お客さまに送付できません (a draft is never sent to a client)")
    if not pack.storage_key:
        raise DeliveryError("この提案書のファイルが保管されていません (the pack has no archived files)")


def archived_pdf(storage: Path, pack: PackRecord) -> Path:
    """The archived PDF of ``pack``, checked against the ledger's SHA-256 (bytes that differ are never handed out)."""
    path = storage / pack.storage_key / PACK_PDF
    if not pack.storage_key or not path.is_file():
        raise DeliveryError("この提案書のファイルが見つかりません (the archived PDF is missing)")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != pack.pdf_sha256:
        raise DeliveryError("保管されている PDF が台帳の SHA-256 と一致しません。送付・ダウンロードを止めました (archived PDF differs from the ledger)")
    return path


def parse_consent_time(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """The consent's date and time as the form gives it (``YYYY-MM-DDTHH:MM``, Japan time); not in the future.

    >>> parse_consent_time("2026-12-01T10:30", dt.datetime(2026, 12, 6, tzinfo=dt.UTC)).isoformat()
    '2026-12-01T01:30:00+00:00'
    """
    try:
        when = dt.datetime.fromisoformat(value.strip()).replace(tzinfo=JST) if value.strip() else None
    except ValueError:
        when = None
    if when is None or when.year < 2000:
        raise InputError("同意日時", value, N_("is not a date and time"), allowed="YYYY-MM-DD HH:MM")
    when = when.astimezone(dt.UTC)
    if when > (now or utcnow()) + dt.timedelta(minutes=5):
        raise InputError("同意日時", value, N_("is in the future: consent cannot be recorded before it is given"))
    return when


def record_consent(db: Session, user: User, pack: PackRecord, *, consented_by: str, consented_at: str, method: str, note: str) -> Consent:
    """The client's consent to electronic delivery of this pack's 重要事項説明書 (a new consent replaces none: all are kept)."""
    check_deliverable(pack)
    who = check_text("同意された方", consented_by, required=True, limit=200, one_line=True)
    if method not in CONSENT_METHODS:
        raise InputError("同意の方法", method, N_("is not one of the methods"), allowed="、".join(CONSENT_METHODS))
    consent = Consent(agency_id=pack.agency_id, pack_id=pack.id, consented_by=who, consented_at=parse_consent_time(consented_at), method=method,
                      note=check_text("メモ", note, required=False), recorded_by_id=user.id, recorded_at=utcnow())
    db.add(consent)
    db.flush()
    audit(db, user, "delivery.consent", f"pack {pack.id}", {"consent": consent.id, "client": pack.client, "consented_by": who,
                                                           "consented_at": consent.consented_at.isoformat(), "method": method, "note": consent.note})
    return consent


def latest_consent(db: Session, pack_id: int) -> Consent | None:
    return db.scalar(select(Consent).where(Consent.pack_id == pack_id).order_by(Consent.id.desc()).limit(1))


@dataclasses.dataclass(frozen=True)
class Letter:
    """What the mail says besides the link: product, agency and agent (a plain note; the documents are in the PDF)."""

    product_name: str
    agency: str
    agent_name: str
    agent_email: str


def compose(settings: mail.MailSettings | None, pack: PackRecord, delivery: Delivery, link: str, letter: Letter) -> EmailMessage:
    """The Japanese e-mail (UTF-8) with the download link; Reply-To is the agent."""
    msg = EmailMessage()
    agency = " ".join(letter.agency.split())  # one line whatever the agency's record holds: headers never break
    msg["Subject"] = f"【{letter.product_name}】ご提案書（重要事項説明書を含む）のご送付 ─ {agency}"
    msg["From"] = settings.sender if settings else "docgen@localhost"
    msg["To"] = formataddr((delivery.recipient_name, delivery.recipient_email)) if delivery.recipient_name else delivery.recipient_email
    msg["Reply-To"] = formataddr((letter.agent_name, letter.agent_email)) if letter.agent_name else letter.agent_email
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=(settings.sender.rpartition("@")[2].strip("> ") if settings else "localhost"))
    addressee = f"{pack.client} {pack.contact} 様" if pack.contact else f"{pack.client} 御中"
    expires = delivery.expires_at.astimezone(JST)
    agent = f"{letter.agency} {letter.agent_name}".strip()
    msg.set_content(
        f"{addressee}\n\n"
        f"{agent}です。\n"
        f"電子での交付にご同意いただきましたので、{letter.product_name}のご提案書（重要事項説明書〈契約概要・注意喚起情報〉を含む）をお送りします。\n"
        "下記のリンクからダウンロードしてください。\n\n"
        f"{link}\n\n"
        f"・リンクの有効期限：{expires:%Y年%m月%d日 %H:%M}（日本時間）\n"
        f"・このご提案書（見積番号 {pack.quote_number}）専用のリンクです。ログインは不要です。\n"
        f"・PDF の SHA-256：{pack.pdf_sha256}\n\n"
        f"期限が切れた場合やご不明な点は、{agent}（{letter.agent_email}）までご連絡ください。\n"
        "このメールにお心当たりのない場合は、リンクを開かずに削除してください。\n",
        charset="utf-8",
    )
    return msg


def send_pack(db: Session, settings: DeliverySettings, storage: Path, user: User, pack: PackRecord, *, recipient_email: str,
              recipient_name: str, base_url: str, letter: Letter, retry_of: Delivery | None = None,
              sender: Callable[[mail.MailSettings, EmailMessage], None] = mail.send) -> Delivery:
    """Mail ``pack`` to the client: checks, a Delivery row committed before the mail leaves, then sent or failed (+ reason).

    Commits: the row must survive a crash during the SMTP conversation (it then shows as 送信中 and can be retried).
    """
    check_deliverable(pack)
    consent = latest_consent(db, pack.id)
    if consent is None:
        raise DeliveryError("電子交付へのお客さまの同意が記録されていません。先に同意を記録してください (record the client's consent first)")
    email = check_email("送付先メールアドレス", recipient_email, required=True)
    name = check_text("宛名", recipient_name, required=False, limit=200, one_line=True)  # it goes into the To header
    archived_pdf(storage, pack)  # the bytes the link will serve are the ledger's, before anything is promised
    token = secrets.token_urlsafe(32)
    now = utcnow()
    delivery = Delivery(agency_id=pack.agency_id, pack_id=pack.id, consent_id=consent.id, client_id=pack.client_id, recipient_name=name,
                        recipient_email=email, token_hash=token_hash(token), pdf_sha256=pack.pdf_sha256, status="sending", reason="",
                        expires_at=now + dt.timedelta(days=settings.link_days), retry_of_id=retry_of.id if retry_of else None,
                        created_by_id=user.id, created_at=now)
    db.add(delivery)
    db.commit()
    link = f"{(settings.public_url or base_url).rstrip('/')}/d/{token}"
    try:
        if settings.mail is None:
            raise MailError("メール送信が設定されていません。管理者に DOCGEN_SMTP_URL と DOCGEN_MAIL_FROM の設定を依頼してください (no SMTP relay configured)")
        sender(settings.mail, compose(settings.mail, pack, delivery, link, letter))
    except MailError as exc:
        delivery.status, delivery.reason = "failed", exc.reason
        audit(db, user, "delivery.failed", f"pack {pack.id}", {"delivery": delivery.id, "recipient": email, "reason": exc.reason})
    else:
        delivery.status, delivery.sent_at = "sent", utcnow()
        audit(db, user, "delivery.sent", f"pack {pack.id}", {"delivery": delivery.id, "recipient": email, "consent": consent.id,
                                                            "pdf_sha256": pack.pdf_sha256, "expires_at": delivery.expires_at.isoformat(),
                                                            "retry_of": delivery.retry_of_id})
    db.commit()
    return delivery


def open_link(db: Session, token: str, now: dt.datetime | None = None) -> tuple[Delivery, PackRecord]:
    """The delivery and pack a link's token opens; LinkError 404 (unknown, altered, never sent) or 410 (expired)."""
    invalid = LinkError(INVALID_LINK, 404)
    if not TOKEN.match(token or ""):
        raise invalid
    delivery = db.scalar(select(Delivery).where(Delivery.token_hash == token_hash(token)))
    if delivery is None or delivery.status != "sent":
        raise invalid
    pack = db.get(PackRecord, delivery.pack_id)
    if pack is None:
        raise invalid
    if delivery.expires_at <= (now or utcnow()):
        expired = f"{delivery.expires_at.astimezone(JST):%Y年%m月%d日 %H:%M}"
        raise LinkError(f"このリンクの有効期限（{expired} 日本時間）が過ぎています。担当の代理店に新しいリンクの送付をご依頼ください。", 410)
    return delivery, pack


def record_download(db: Session, delivery: Delivery, pack: PackRecord, *, ip: str, user_agent: str) -> DeliveryDownload:
    """One download through a link, in the ledger and the audit log (the first is the receipt)."""
    first = db.scalar(select(DeliveryDownload.id).where(DeliveryDownload.delivery_id == delivery.id).limit(1)) is None
    download = DeliveryDownload(agency_id=delivery.agency_id, delivery_id=delivery.id, at=utcnow(), ip=ip[:64], user_agent=user_agent[:255])
    db.add(download)
    db.flush()
    audit(db, f"client <{delivery.recipient_email}>", "delivery.downloaded", f"pack {pack.id}",
          {"delivery": delivery.id, "first": first, "pdf_sha256": pack.pdf_sha256, "ip": download.ip})
    return download


def deliveries_of(db: Session, pack_id: int) -> list[Delivery]:
    return list(db.scalars(select(Delivery).where(Delivery.pack_id == pack_id).order_by(Delivery.id.desc())))


def downloads_of(db: Session, delivery_id: int) -> list[DeliveryDownload]:
    return list(db.scalars(select(DeliveryDownload).where(DeliveryDownload.delivery_id == delivery_id).order_by(DeliveryDownload.at)))
