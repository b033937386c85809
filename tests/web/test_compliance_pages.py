"""The compliance pages: versions with approval state, compare (HTML redline and .docx), submit/approve rules, audit."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.web.conftest import REPO, NullWorker, Portal, approvable_site, fresh_portal


@pytest.fixture(scope="module")
def ready(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A portal on a copy of the content whose required disclosures are filled (with test wording), so it can be approved."""
    folder = tmp_path_factory.mktemp(f"compliance-{db_kind}")
    with fresh_portal(db_kind, folder, approvable_site(folder), recover=False) as made:
        made.app.state.worker = NullWorker()  # type: ignore[attr-defined]
        yield made


def _post(client, url: str, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf, **data})


def test_only_compliance_and_admin_open_the_versions_page(portal: Portal) -> None:
    assert portal.client("compliance").get("/compliance").status_code == 200
    assert portal.client("admin").get("/compliance").status_code == 200
    for who in ("agent", "marketing"):
        assert portal.client(who).get("/compliance").status_code == 403
    assert portal.client().get("/compliance").status_code == 303  # to the login page


def test_versions_page_lists_history_and_the_missing_disclosures(portal: Portal) -> None:
    page = portal.client("compliance").get("/compliance").text
    from generator.content.load import load_product

    product = load_product(REPO / "content" / "cyber_lite")
    assert product.digest() in page and "作業中" in page
    assert 'id="missing"' in page and "クーリング・オフ" in page  # the real content still lacks the insurer's wording
    assert page.count('name="old"') >= 2  # the working tree and at least one commit


def test_a_version_with_missing_disclosures_cannot_be_approved(portal: Portal) -> None:
    marketing, compliance = portal.client("marketing"), portal.client("compliance")
    assert _post(marketing, "/compliance/submit").status_code == 303
    r = _post(compliance, "/compliance/approve", number="CL-PAGE-0")
    assert r.status_code == 400 and "必須記載事項" in r.text and "承認できません" in r.text
    message = html.unescape(re.search(r'id="message">(.*?)</p>', r.text, re.S).group(1))
    assert "「クーリング・オフ」" in message  # each missing item, in Japanese, without the YAML path or the file
    assert "disclosures.items" not in message and ".yaml" not in message and "required" not in message


def test_submit_approve_and_the_submitter_cannot_approve(ready: Portal) -> None:
    compliance, admin = ready.client("compliance"), ready.client("admin")
    assert _post(compliance, "/compliance/submit").status_code == 303
    assert "審査中" in compliance.get("/compliance").text
    own = _post(compliance, "/compliance/approve", number="CL-PAGE-1")
    assert own.status_code == 400 and "別のコンプライアンス担当者" in own.text and "submitted this version" not in own.text
    # admin may view, but only a compliance user who did not submit decides: a second compliance account
    by_admin = _post(admin, "/compliance/approve", number="CL-PAGE-1")
    assert by_admin.status_code == 400 and "役割「管理者」では承認・差戻しができません" in by_admin.text
    from generator.store.accounts import User
    from generator.web.security import hash_password

    with ready.sessions() as s:
        first = s.query(User).filter_by(email=ready.emails["compliance"]).one()
        s.add(User(email="compliance2@example.jp", name="c2", password_hash=hash_password(ready.password), role="compliance", agency_id=first.agency_id))
        s.commit()
    ready.emails["compliance2"] = "compliance2@example.jp"
    other = ready.client("compliance2")
    r = _post(other, "/compliance/approve", number="CL-PAGE-1", valid_from="2026-01-01")
    assert r.status_code == 303, r.text
    page = other.get("/compliance").text
    assert re.search(r'id="current-state"[^>]*>承認済み CL-PAGE-1', page)
    # the app's product now prints the number (its cache was refreshed, the files did not change)
    assert ready.app.state.products().meta.approval_number == "CL-PAGE-1"  # type: ignore[attr-defined]


def test_compare_shows_an_html_redline_and_offers_the_docx(portal: Portal) -> None:
    client = portal.client("compliance")
    page = client.get("/compliance").text
    specs = re.findall(r'name="old" value="([^"]+)"', page)
    latest = specs[1]  # the newest commit (older ones may predate today's content schema)
    r = client.get("/compliance/compare", params={"old": latest, "new": "working"})
    assert r.status_code == 200, r.text
    assert "compare.docx" in r.text and ("no-changes" in r.text or 'id="clauses"' in r.text)
    docx = client.get("/compliance/compare.docx", params={"old": latest, "new": "working"})
    assert docx.status_code == 200 and docx.content[:2] == b"PK"


def test_compare_renders_a_reworded_clause_as_a_redline(ready: Portal) -> None:
    """The ready portal's working tree differs from its one commit in the disclosures it fills in: a visible redline."""
    client = ready.client("compliance")
    specs = re.findall(r'name="old" value="([^"]+)"', client.get("/compliance").text)
    r = client.get("/compliance/compare", params={"old": specs[1], "new": "working"})
    assert r.status_code == 200, r.text
    assert 'id="clause-DIS-CHU-01"' in r.text and "<ins>" in r.text


def test_compare_refuses_anything_but_a_listed_version(portal: Portal) -> None:
    client = portal.client("compliance")
    for bad in ("/etc", "../content", "HEAD~1000"):
        r = client.get("/compliance/compare", params={"old": bad, "new": "working"})
        assert r.status_code == 400 and "一覧にある内容バージョンではありません" in r.text


def test_audit_page_shows_entries_and_detects_tampering(ready: Portal) -> None:
    client = ready.client("compliance")
    page = client.get("/compliance/audit").text
    assert 'id="chain-ok"' in page and "login" in page and "submit" in page
    filtered = client.get("/compliance/audit", params={"action": "login"}).text
    assert "<td>submit</td>" not in filtered and "<td>login</td>" in filtered
    with ready.sessions() as s:
        s.execute(text("UPDATE audit_entries SET actor = 'intruder@example.jp' WHERE seq = 1"))
        s.commit()
    broken = client.get("/compliance/audit").text
    assert 'id="chain-broken"' in broken and "1番目の記録：記録後に内容が書き換えられています" in broken


def _ledger_pack(portal: Portal, *, approval: str | None) -> int:
    from generator.store.ledger import PackRecord

    agent = portal.user("agent")
    with portal.sessions() as s:
        rec = PackRecord(agency_id=agent.agency_id, agent_id=agent.id, client="有限会社 伸和企画", contact="上", industry="製造業",
                         revenue=450_000_000, limit=100_000_000, product="cyber_lite", content_version="1.0.0", content_hash="0" * 12,
                         approval_number=approval, draft=approval is None, quote_number=f"Q-{approval or 'DRAFT'}", premium=149000,
                         pdf_sha256="0" * 64, clauses={})
        s.add(rec)
        s.commit()
        return rec.public_id


def test_the_portal_never_marks_a_draft_as_sent(portal: Portal) -> None:
    agent = portal.client("agent")
    draft = _ledger_pack(portal, approval=None)
    page = agent.get(f"/packs/{draft}").text
    assert 'id="draft-banner"' in page and 'id="mark-sent"' not in page
    r = _post(agent, f"/packs/{draft}/sent")
    assert r.status_code == 400 and "ドラフト" in r.text
    approved = _ledger_pack(portal, approval="CL-SENT-1")
    assert 'id="mark-sent"' in agent.get(f"/packs/{approved}").text
    assert _post(agent, f"/packs/{approved}/sent").status_code == 303
    assert 'id="sent"' in agent.get(f"/packs/{approved}").text
    other = portal.client("other_agent")  # another agency cannot mark (or see) it
    assert _post(other, f"/packs/{approved}/sent").status_code == 404
