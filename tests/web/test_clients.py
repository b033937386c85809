"""Client records (issue 24): by hand, from a quote, a pack or a list; picked when quoting or building a pack; each with
its history of quotes, packs, 意向把握 and deliveries; another agency's client does not exist (404)."""

from __future__ import annotations

import re

from sqlalchemy import select

from generator.store.audit import AuditEntry
from generator.store.clients import Client, ClientQuote, Intent
from generator.store.ledger import Job, PackRecord
from tests.seed import seed_limits, seed_tables
from tests.web.conftest import Portal, issued_pack, post

OKU = 100_000_000


def seed_premium(code: str, revenue: int, limit: int) -> int:
    row = next(r for r in seed_tables()[code] if r[0] < revenue <= r[1])
    return row[2][seed_limits().index(limit)]


def new_client(client, **fields: str):  # type: ignore[no-untyped-def]
    values = {"name": "株式会社 テスト & 商会", "contact": "髙橋", "industry": "製造業", "revenue": "4.5億", "email": "takahashi@test.example.co.jp",
              "postal_address": "東京都千代田区丸の内1-1-1", **fields}
    return post(client, "/clients", **values)


def client_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text[:500]
    return re.fullmatch(r"/clients/([0-9a-f]{32})", response.headers["location"]).group(1)


def test_a_client_by_hand_is_checked_and_listed_for_its_agency_only(portal: Portal) -> None:
    agent = portal.client("agent")
    cid = client_id(new_client(agent))
    page = agent.get(f"/clients/{cid}").text
    assert "株式会社 テスト &amp; 商会 髙橋 様" in page and "4億5,000万円" in page and "takahashi@test.example.co.jp" in page
    assert "株式会社 テスト &amp; 商会" in agent.get("/clients").text
    bad = new_client(agent, email="takahashi@test")
    assert bad.status_code == 400 and "メールアドレス" in bad.text and "メールアドレスの形ではありません" in bad.text
    bad = new_client(agent, industry="宇宙産業")
    assert bad.status_code == 400 and "業種" in bad.text and "料率表" in bad.text
    bad = new_client(agent, name="")
    assert bad.status_code == 400 and "お客様名" in bad.text
    other = portal.client("other_agent")
    assert other.get(f"/clients/{cid}").status_code == 404
    assert "テスト &amp; 商会" not in other.get("/clients").text
    assert post(other, f"/clients/{cid}", name="乗っ取り").status_code == 404
    assert portal.client("marketing").get("/clients").status_code == 403
    compliance = portal.client("compliance")
    assert compliance.get(f"/clients/{cid}").status_code == 200 and 'id="save-client"' not in compliance.get(f"/clients/{cid}").text
    forged = agent.post(f"/clients/{cid}", data={"name": "乗っ取り", "csrf_token": "forged"})
    assert forged.status_code == 403 and agent.post("/clients", data={"name": "株式会社 偽造"}).status_code == 403  # CSRF
    changed = post(agent, f"/clients/{cid}", name="株式会社 テスト & 商会", contact="髙橋", industry="製造業", revenue="5億",
                   email="new@test.example.co.jp", postal_address="")
    assert changed.status_code == 303 and "new@test.example.co.jp" in agent.get(f"/clients/{cid}").text


def test_a_quote_picks_the_client_and_is_kept_in_its_history(portal: Portal) -> None:
    agent = portal.client("agent")
    cid = client_id(new_client(agent, name="株式会社 見積先", contact=""))
    page = agent.get("/quote", params={"client_id": cid}).text  # picked: its industry and revenue are quoted
    assert f'<option value="{cid}" selected>' in page
    assert f"{seed_premium('D01', 450_000_000, OKU):,}円" in page
    ladder = agent.get("/quote", params={"client_id": cid, "industry": "製造業", "revenue": "4.5億", "limit": str(OKU)}).text
    assert 'id="save-quote"' in ladder and f"client_id={cid}" in ladder  # the pack link carries the client
    assert post(agent, f"/clients/{cid}/quotes", industry="製造業", revenue="4.5億", limit=str(OKU)).status_code == 303
    with portal.sessions() as s:
        [saved] = s.scalars(select(ClientQuote).join(Client, Client.id == ClientQuote.client_id).where(Client.public_id == cid))
    assert (saved.revenue, saved.limit, saved.premium, saved.class_code) == (450_000_000, OKU, seed_premium("D01", 450_000_000, OKU), "D01")
    history = agent.get(f"/clients/{cid}").text
    assert f"{seed_premium('D01', 450_000_000, OKU):,}円" in history
    refused = post(agent, f"/clients/{cid}/quotes", industry="製造業", revenue="200億", limit=str(OKU))
    assert refused.status_code == 400 and "引受不可" in refused.text
    new_from_quote = agent.get("/clients/new", params={"source": "quote", "industry": "製造業", "revenue": "4.5億"}).text
    assert 'value="製造業"' in new_from_quote and 'value="4.5億"' in new_from_quote and 'value="quote"' in new_from_quote
    other = portal.client("other_agent")
    assert other.get("/quote", params={"client_id": cid}).status_code == 404  # another agency's client cannot be picked
    assert post(other, f"/clients/{cid}/quotes", industry="製造業", revenue="4.5億", limit=str(OKU)).status_code == 404


def test_a_pack_is_built_for_a_picked_client(portal: Portal) -> None:
    agent = portal.client("agent")
    cid = client_id(new_client(agent, name="株式会社 提案先", contact="佐藤"))
    form = agent.get("/packs/new", params={"client_id": cid, "limit": "1億"}).text
    assert 'value="株式会社 提案先"' in form and 'value="佐藤"' in form and 'value="製造業"' in form
    assert f'name="client_id" id="client_id" value="{cid}"' in form
    fields = {"client": "株式会社 提案先", "contact": "佐藤", "industry": "製造業", "revenue": "4.5億", "limit": "1億", "client_id": cid}
    r = agent.post("/packs", data={"csrf_token": agent.csrf, **fields})
    assert r.status_code == 303
    job_id = r.headers["location"].rsplit("/", 1)[1]
    with portal.sessions() as s:
        client = s.scalar(select(Client).where(Client.public_id == cid))
        assert s.scalar(select(Job).where(Job.public_id == job_id)).params["client_id"] == client.id  # the worker links the built pack to this client
    other = portal.client("other_agent")
    assert other.get("/packs/new", params={"client_id": cid}).status_code == 404
    forged = other.post("/packs", data={"csrf_token": other.csrf, **fields})
    assert forged.status_code == 404


def test_a_client_from_a_pack_and_from_a_list(portal: Portal) -> None:
    agent = portal.client("agent")
    pack = issued_pack(portal, approval="CL-CLIENTS-1", client="株式会社 台帳から")
    r = post(agent, f"/packs/{pack.public_id}/client")
    cid = r.headers["location"].rsplit("/", 1)[1]
    again = issued_pack(portal, approval="CL-CLIENTS-2", client="株式会社 台帳から")
    assert post(agent, f"/packs/{again.public_id}/client").headers["location"].rsplit("/", 1)[1] == cid  # same name and contact: same client
    with portal.sessions() as s:
        client = s.scalar(select(Client).where(Client.public_id == cid))
        assert {p.client_id for p in s.scalars(select(PackRecord).where(PackRecord.id.in_((pack.id, again.id))))} == {client.id}
        assert client.source == "pack"
    assert "Q-CL-CLIENTS-1" in agent.get(f"/clients/{cid}").text and "Q-CL-CLIENTS-2" in agent.get(f"/clients/{cid}").text
    csv = ("会社名,担当者,業種,売上高,賠償保険金額\n株式会社 リスト一,田中,製造業,4.5億,1億\n株式会社 リスト二,,小売業,2億,5000万\n"
           "株式会社 不明,,宇宙産業,1億,1億\n")
    up = agent.post("/uploads", data={"csrf_token": agent.csrf}, files={"file": ("list.csv", csv.encode(), "text/csv")})
    upload_id = up.headers["location"].rsplit("/", 1)[1]
    assert 'id="register-clients"' in agent.get(f"/uploads/{upload_id}").text
    done = post(agent, f"/uploads/{upload_id}/clients")
    assert done.status_code == 200 and "顧客を 2 件登録しました" in done.text
    assert "顧客を 0 件登録しました（登録済み 2 件）" in post(agent, f"/uploads/{upload_id}/clients").text
    listed = agent.get("/clients", params={"q": "リスト"}).text
    assert "株式会社 リスト一" in listed and "株式会社 リスト二" in listed and "株式会社 不明" not in listed
    assert post(portal.client("other_agent"), f"/uploads/{upload_id}/clients").status_code == 404


def test_intent_is_kept_with_the_pack_and_shown_in_the_clients_history(portal: Portal) -> None:
    agent = portal.client("agent")
    pack = issued_pack(portal, approval="CL-INTENT-1", client="株式会社 意向")
    cid = post(agent, f"/packs/{pack.public_id}/client").headers["location"].rsplit("/", 1)[1]
    page = agent.get(f"/packs/{pack.public_id}").text
    assert 'id="no-intent"' in page and 'id="intent-form-slot"' in page and "保険会社" in page  # the printed form is the insurer's
    r = post(agent, f"/packs/{pack.public_id}/intent", needs="取引先から個人情報漏えいへの備えを求められている",
             reason="売上高4.5億円・製造業で、\n賠償1億円が取引先の求める水準", chosen_limit=str(OKU))
    assert r.status_code == 303
    page = agent.get(f"/packs/{pack.public_id}").text
    assert "取引先から個人情報漏えいへの備えを求められている" in page and "1億円" in page
    assert "取引先から個人情報漏えいへの備えを求められている" in agent.get(f"/clients/{cid}").text
    missing = post(agent, f"/packs/{pack.public_id}/intent", needs="", reason="理由", chosen_limit=str(OKU))
    assert missing.status_code == 400 and "お客さまのご意向" in missing.text and 'value="理由"' not in missing.text and ">理由</textarea>" in missing.text
    odd = post(agent, f"/packs/{pack.public_id}/intent", needs="備え", reason="理由", chosen_limit="1億5000万")
    assert odd.status_code == 400 and "選択された賠償保険金額" in odd.text
    assert post(portal.client("other_agent"), f"/packs/{pack.public_id}/intent", needs="x", reason="y", chosen_limit=str(OKU)).status_code == 404
    assert post(portal.client("compliance"), f"/packs/{pack.public_id}/intent", needs="x", reason="y", chosen_limit=str(OKU)).status_code == 403
    with portal.sessions() as s:
        [kept] = s.scalars(select(Intent).where(Intent.pack_id == pack.id))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "intent.recorded", AuditEntry.target == f"pack {pack.id}"))
        client_key = s.scalar(select(Client.id).where(Client.public_id == cid))
    assert kept.client_id == client_key and kept.chosen_limit == OKU and "改行" not in kept.reason and "\n" in kept.reason
    assert entry is not None and entry.detail["needs"] == kept.needs  # in the hash-chained ledger, word for word
