"""Delivery of an issued pack to the client (issue 24): consent, the e-mail through a real SMTP server on 127.0.0.1, the
download link (archived bytes, recorded, expiring), failures kept and retried, drafts never sent, other agencies 404."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from generator.compliance.delivery import DeliverySettings
from generator.mail import MailSettings
from generator.settings import load as load_settings
from generator.store.audit import AuditEntry
from generator.store.delivery import Delivery, DeliveryDownload
from tests.mailkit import Relay, smtp_server
from tests.netkit import free_port
from tests.web.conftest import Portal, issued_pack, post

SENDER = "docgen@sakura-hoken.example.jp"
LINK = re.compile(r"http://127\.0\.0\.1/d/([A-Za-z0-9_-]{43})")


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    with smtp_server() as found:
        yield found


@pytest.fixture
def mailing(portal: Portal, relay: Relay) -> Iterator[Relay]:
    """The portal sends through ``relay`` (plain SMTP on 127.0.0.1); the mailbox starts empty."""
    relay.mailbox.clear()
    portal.app.state.delivery = DeliverySettings(MailSettings("smtp", relay.host, relay.port, SENDER, starttls=False, timeout=10))  # type: ignore[attr-defined]
    yield relay


def consent(client, pack_id: str):  # type: ignore[no-untyped-def]
    return post(client, f"/packs/{pack_id}/consent", consented_by="上 太郎", consented_at="2026-12-01T10:30", method="書面",
                note="同意書を事務所で保管")


def deliveries(portal: Portal, pack_id: int) -> list[Delivery]:
    with portal.sessions() as s:
        return list(s.scalars(select(Delivery).where(Delivery.pack_id == pack_id).order_by(Delivery.id)))


def downloads(portal: Portal, delivery_id: int) -> list[DeliveryDownload]:
    with portal.sessions() as s:
        return list(s.scalars(select(DeliveryDownload).where(DeliveryDownload.delivery_id == delivery_id).order_by(DeliveryDownload.id)))


def test_delivered_pack_reaches_the_mailbox_and_its_link_serves_the_ledger_bytes(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal)
    agent = portal.client("agent")
    page = agent.get(f"/packs/{pack.public_id}").text
    assert 'id="no-consent"' in page and 'id="send"' not in page  # consent first
    assert consent(agent, pack.public_id).status_code == 303
    page = agent.get(f"/packs/{pack.public_id}").text
    assert "上 太郎" in page and "2026-12-01 10:30" in page and "書面" in page and 'id="send"' in page
    r = post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp", recipient_name="有限会社 伸和企画 上 様")
    assert r.status_code == 303 and r.headers["location"].startswith("/deliveries/")
    [msg] = mailing.mailbox.messages
    assert mailing.mailbox.envelopes == [(SENDER, ["kami@shinwa.example.co.jp"])]
    assert msg["Subject"].startswith("【サイバーLite】ご提案書（重要事項説明書を含む）のご送付")
    assert msg["Reply-To"].addresses[0].addr_spec == portal.emails["agent"]
    body = msg.get_content()
    assert "有限会社 伸和企画 上 様" in body and pack.quote_number in body and pack.pdf_sha256 in body
    token = LINK.search(body).group(1)
    [sent] = deliveries(portal, pack.id)
    assert sent.status == "sent" and sent.sent_at is not None and token not in (sent.token_hash, *page.split())
    assert sent.token_hash == hashlib.sha256(token.encode()).hexdigest()  # stored hashed, never as is
    days = (sent.expires_at - sent.sent_at).total_seconds() / 86400
    assert 13.99 < days <= 14  # the default validity

    anonymous = portal.client()  # the client: no login
    landing = anonymous.get(f"/d/{token}")
    assert landing.status_code == 200 and "ご提案書のダウンロード" in landing.text and "有限会社 伸和企画 上 様" in landing.text
    assert landing.headers["referrer-policy"] == "no-referrer" and "noindex" in landing.headers["x-robots-tag"]
    assert downloads(portal, sent.id) == []  # opening the page is not a download
    pdf = anonymous.get(f"/d/{token}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == pack.pdf_sha256
    assert anonymous.get(f"/d/{token}/pdf").status_code == 200
    first, second = downloads(portal, sent.id)
    assert first.at <= second.at
    receipt = agent.get(f"/deliveries/{sent.public_id}").text
    assert 'id="receipt"' in receipt and first.at.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m-%d %H:%M:%S") in receipt
    assert "未受領" not in agent.get(f"/packs/{pack.public_id}").text
    with portal.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"pack {pack.id}").order_by(AuditEntry.seq))]
    assert actions == ["delivery.consent", "delivery.sent", "delivery.downloaded", "delivery.downloaded"]


def test_resend_mails_a_new_link_to_the_same_bytes(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal, approval="CL-DELIVERY-2")
    agent = portal.client("agent")
    consent(agent, pack.public_id)
    post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp", recipient_name="")
    first = deliveries(portal, pack.id)[0]
    assert post(agent, f"/deliveries/{first.public_id}/retry").status_code == 303
    old, new = (LINK.search(m.get_content()).group(1) for m in mailing.mailbox.messages)
    assert old != new and deliveries(portal, pack.id)[1].retry_of_id == first.id
    anonymous = portal.client()
    bodies = [anonymous.get(f"/d/{t}/pdf").content for t in (old, new)]  # the earlier link still works until it expires
    assert {hashlib.sha256(b).hexdigest() for b in bodies} == {pack.pdf_sha256}


def test_expired_and_altered_links_answer_a_japanese_page(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal, approval="CL-DELIVERY-3")
    agent = portal.client("agent")
    consent(agent, pack.public_id)
    post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp")
    token = LINK.search(mailing.mailbox.messages[-1].get_content()).group(1)
    anonymous = portal.client()
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (altered, token[:-3], token + "x", "..%2F..%2Fetc"):
        r = anonymous.get(f"/d/{bad}")
        assert r.status_code == 404 and "このリンクは無効です" in r.text and pack.client not in r.text
        assert anonymous.get(f"/d/{bad}/pdf").status_code == 404
    [sent] = deliveries(portal, pack.id)
    with portal.sessions() as s:
        s.execute(update(Delivery).where(Delivery.id == sent.id).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        s.commit()
    for url in (f"/d/{token}", f"/d/{token}/pdf"):
        r = anonymous.get(url)
        assert r.status_code == 410 and "有効期限" in r.text and "過ぎています" in r.text and pack.client not in r.text
    assert downloads(portal, sent.id) == []


def test_a_draft_is_never_sent(portal: Portal, mailing: Relay) -> None:
    draft = issued_pack(portal, approval=None)
    agent = portal.client("agent")
    page = agent.get(f"/packs/{draft.public_id}").text
    assert 'id="draft-banner"' in page and 'id="delivery"' not in page
    r = consent(agent, draft.public_id)
    assert r.status_code == 400 and "ドラフト" in r.text
    r = post(agent, f"/packs/{draft.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp")  # forged: no form offers it
    assert r.status_code == 400 and "ドラフト" in r.text
    assert deliveries(portal, draft.id) == [] and mailing.mailbox.messages == []


def test_no_send_without_consent_nor_to_a_bad_address(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal, approval="CL-DELIVERY-4")
    agent = portal.client("agent")
    r = post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp")
    assert r.status_code == 400 and "同意が記録されていません" in r.text
    bad = post(agent, f"/packs/{pack.public_id}/consent", consented_by="", consented_at="2026-12-01T10:30", method="書面")
    assert bad.status_code == 400 and "同意された方" in bad.text
    future = post(agent, f"/packs/{pack.public_id}/consent", consented_by="上", consented_at="2099-01-01T00:00", method="書面")
    assert future.status_code == 400 and "未来" in future.text
    odd = post(agent, f"/packs/{pack.public_id}/consent", consented_by="上", consented_at="2026-12-01T10:30", method="FAX")
    assert odd.status_code == 400 and "同意の方法" in odd.text
    consent(agent, pack.public_id)
    r = post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa\r\nBcc: x@evil.example")
    assert r.status_code == 400 and "送付先メールアドレス" in r.text
    r = post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp", recipient_name="上 様\r\nBcc: x@evil.example")
    assert r.status_code == 400 and "宛名" in r.text and "1行" in r.text
    assert deliveries(portal, pack.id) == [] and mailing.mailbox.messages == []


def test_a_failed_send_is_kept_with_its_reason_and_retried(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal, approval="CL-DELIVERY-5")
    agent = portal.client("agent")
    consent(agent, pack.public_id)
    post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="refused@shinwa.example.co.jp")
    [refused] = deliveries(portal, pack.id)
    assert refused.status == "failed" and "拒否されました" in refused.reason and "550" in refused.reason
    page = agent.get(f"/deliveries/{refused.public_id}")
    assert page.status_code == 200 and "拒否されました" in page.text and 'id="retry"' in page.text and 'id="delivery-expires"' not in page.text
    dead = DeliverySettings(MailSettings("smtp", "127.0.0.1", free_port(), SENDER, starttls=False, timeout=5))
    portal.app.state.delivery = dead  # type: ignore[attr-defined]
    post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp")
    down = deliveries(portal, pack.id)[-1]
    assert down.status == "failed" and "接続できません" in down.reason
    assert "接続できません" in agent.get(f"/packs/{pack.public_id}").text  # the agent sees why on the pack page
    portal.app.state.delivery = DeliverySettings(MailSettings("smtp", mailing.host, mailing.port, SENDER, starttls=False))  # type: ignore[attr-defined]
    assert post(agent, f"/deliveries/{down.public_id}/retry").status_code == 303  # the relay is back: the agent retries
    *_, retried = deliveries(portal, pack.id)
    assert retried.status == "sent" and retried.retry_of_id == down.id and retried.recipient_email == "kami@shinwa.example.co.jp"
    assert [d.status for d in deliveries(portal, pack.id)] == ["failed", "failed", "sent"]  # nothing lost
    assert len(mailing.mailbox.messages) == 1
    portal.app.state.delivery = DeliverySettings()  # type: ignore[attr-defined]  # no relay configured at all
    post(agent, f"/deliveries/{retried.public_id}/retry")
    assert "DOCGEN_SMTP_URL" in deliveries(portal, pack.id)[-1].reason


def test_archived_bytes_that_differ_from_the_ledger_are_never_sent_nor_served(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal, approval="CL-DELIVERY-6")
    agent = portal.client("agent")
    consent(agent, pack.public_id)
    post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp")
    token = LINK.search(mailing.mailbox.messages[-1].get_content()).group(1)
    path = portal.site.storage / pack.storage_key / "pack.pdf"
    good = path.read_bytes()
    path.write_bytes(good + b"%tampered\n")
    try:
        r = portal.client().get(f"/d/{token}/pdf")
        assert r.status_code == 503 and "一致しません" in r.text and b"%PDF" not in r.content
        r = post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp")
        assert r.status_code == 400 and "一致しません" in r.text and len(mailing.mailbox.messages) == 1
    finally:
        path.write_bytes(good)


def test_only_the_packs_own_agency_acts_on_its_delivery(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal, approval="CL-DELIVERY-7")
    agent = portal.client("agent")
    consent(agent, pack.public_id)
    post(agent, f"/packs/{pack.public_id}/deliveries", recipient_email="kami@shinwa.example.co.jp")
    [sent] = deliveries(portal, pack.id)
    other = portal.client("other_agent")
    assert consent(other, pack.public_id).status_code == 404
    assert post(other, f"/packs/{pack.public_id}/deliveries", recipient_email="x@example.jp").status_code == 404
    assert post(other, f"/deliveries/{sent.public_id}/retry").status_code == 404
    assert other.get(f"/deliveries/{sent.public_id}").status_code == 404
    compliance = portal.client("compliance")  # reads every agency's deliveries, sends none
    page = compliance.get(f"/deliveries/{sent.public_id}")
    assert page.status_code == 200 and 'id="retry"' not in page.text
    assert 'id="send"' not in compliance.get(f"/packs/{pack.public_id}").text
    assert consent(compliance, pack.public_id).status_code == 403
    admin = portal.client("admin")  # the insurer's admin is not the agency: it cannot send the agency's packs
    assert post(admin, f"/packs/{pack.public_id}/deliveries", recipient_email="x@example.jp").status_code == 403
    assert portal.client("marketing").get(f"/deliveries/{sent.public_id}").status_code == 403
    assert len(deliveries(portal, pack.id)) == 1 and len(mailing.mailbox.messages) == 1


def test_every_delivery_form_needs_the_csrf_token(portal: Portal, mailing: Relay) -> None:
    pack = issued_pack(portal, approval="CL-DELIVERY-8")
    agent = portal.client("agent")
    r = agent.post(f"/packs/{pack.public_id}/consent", data={"consented_by": "上", "consented_at": "2026-12-01T10:30", "method": "書面"})
    assert r.status_code == 403
    consent(agent, pack.public_id)
    r = agent.post(f"/packs/{pack.public_id}/deliveries", data={"recipient_email": "kami@shinwa.example.co.jp", "csrf_token": "forged"})
    assert r.status_code == 403 and deliveries(portal, pack.id) == [] and mailing.mailbox.messages == []


def test_delivery_settings_from_the_environment() -> None:
    from generator.errors import SettingError

    assert DeliverySettings.from_env(load_settings({})).link_days == 14 and DeliverySettings.from_env(load_settings({})).mail is None
    for bad in ({"DOCGEN_DELIVERY_DAYS": "0"}, {"DOCGEN_DELIVERY_DAYS": "365"}, {"DOCGEN_PUBLIC_URL": "portal.example.jp"}):
        with pytest.raises(SettingError) as exc:
            DeliverySettings.from_env(load_settings(bad))
        assert exc.value.field == next(iter(bad))
