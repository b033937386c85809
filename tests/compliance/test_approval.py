"""Approval of exact content versions: who may decide, what blocks approval, immutability, validity windows."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import update

from generator.compliance import approval as ap
from generator.compliance.in_force import apply, is_draft
from generator.content.disclosures import REQUIRED, missing_disclosures
from generator.content.model import Product
from generator.errors import ApprovalError, ContentError
from generator.store.approvals import Approval, ApprovalImmutable
from generator.store.audit import verify
from tests.compliance.disclosure_helpers import complete_disclosures


@pytest.fixture
def complete(product: Product) -> Product:
    """The product with every pending disclosure item given test wording (the real wording is the insurer's)."""
    return complete_disclosures(product)


def test_real_content_lists_every_missing_required_item(product: Product) -> None:
    missing = missing_disclosures(product)
    # the seed gives no wording for these guideline items (field notes, "Regulated content (Japan)")
    for topic in ("クーリング・オフ", "告知義務等", "責任開始期", "解約と解約返戻金", "セーフティネット", "相談・苦情窓口", "指定紛争解決機関"):
        assert any(f"「{topic}」" in p.message for p in missing), topic
    # the ones the seed does cover are printed from their content section, not missing
    for topic in ("主な免責", "保険期間", "商品の仕組み"):
        assert not any(f"「{topic}」" in p.message for p in missing), topic
    assert all(p.file.endswith("disclosures.yaml") and p.line > 0 for p in missing)


def test_a_required_item_removed_from_content_is_missing(product: Product) -> None:
    items = tuple(x for x in product.disclosures.items if x.topic != "主な免責")
    cut = dataclasses.replace(product, disclosures=dataclasses.replace(product.disclosures, items=items))
    assert any("主な免責" in p.message and "not declared" in p.message for p in missing_disclosures(cut))
    none = dataclasses.replace(product, disclosures=None)
    assert len(missing_disclosures(none)) == len(REQUIRED)


def test_version_with_missing_disclosures_cannot_be_approved(session, people, product: Product) -> None:
    ap.submit(session, product, people["marketing"])
    with pytest.raises(ApprovalError, match="required disclosure item"):
        ap.approve(session, product, people["compliance"])


def test_submitter_cannot_approve_own_submission(session, people, complete: Product) -> None:
    ap.submit(session, complete, people["compliance"])
    with pytest.raises(ApprovalError, match="submitted this version"):
        ap.approve(session, complete, people["compliance"])
    found = ap.approve(session, complete, people["compliance2"], number="CL-TEST-1")
    assert found.approval_number == "CL-TEST-1" and found.approver.email == "compliance2@example.jp"


def test_only_compliance_decides(session, people, complete: Product) -> None:
    ap.submit(session, complete, people["marketing"])
    for who in ("agent", "marketing"):
        with pytest.raises(ApprovalError, match="cannot approve"):
            ap.approve(session, complete, people[who])


def test_approval_binds_the_exact_version(session, people, complete: Product) -> None:
    ap.submit(session, complete, people["marketing"])
    a = ap.approve(session, complete, people["compliance"], valid_from=dt.date(2026, 12, 1))
    session.commit()
    digest = complete.digest()
    assert a.content_hash == digest and a.approval_number.startswith("CYBER-LITE-202612-")
    assert ap.current_approval(session, complete.key, digest, dt.date(2026, 12, 2)).id == a.id
    assert ap.current_approval(session, complete.key, digest, dt.date(2026, 11, 30)) is None  # not yet valid
    assert ap.current_approval(session, complete.key, "0" * 12, dt.date(2026, 12, 2)) is None  # another version
    stamped = apply(complete, a)
    assert stamped.meta.approval_number == a.approval_number and stamped.digest() == digest
    assert is_draft(complete) and not is_draft(stamped)
    assert verify(session) == []


def test_approvals_are_never_edited_a_correction_supersedes(session, people, complete: Product) -> None:
    ap.submit(session, complete, people["marketing"])
    a = ap.approve(session, complete, people["compliance"], number="CL-1", valid_from=dt.date(2026, 12, 1))
    session.commit()
    a.valid_until = dt.date(2027, 1, 1)
    with pytest.raises(ApprovalImmutable):
        session.flush()
    session.rollback()
    with pytest.raises(ApprovalImmutable):
        session.delete(session.get(Approval, a.id))
        session.flush()
    session.rollback()
    fixed = ap.correct(session, session.get(Approval, a.id), people["compliance2"], valid_until=dt.date(2026, 12, 31), note="使用期限の設定")
    session.commit()
    assert fixed.supersedes_id == a.id and fixed.approval_number == "CL-1"
    assert [x.id for x in ap.approvals_of(session, complete.key)] == [fixed.id]
    assert ap.current_approval(session, complete.key, complete.digest(), dt.date(2027, 1, 5)) is None  # expired by the correction
    assert ap.version_state(session, complete.key, complete.digest(), dt.date(2027, 1, 5)).status == "expired"


def test_rejection_needs_a_reason_and_keeps_the_version_draft(session, people, complete: Product) -> None:
    ap.submit(session, complete, people["marketing"])
    with pytest.raises(ApprovalError, match="reason"):
        ap.reject(session, complete.key, complete.digest(), people["compliance"], " ")
    ap.reject(session, complete.key, complete.digest(), people["compliance"], "免責③の文言を確認してください")
    state = ap.version_state(session, complete.key, complete.digest(), dt.date(2026, 12, 2))
    assert state.status == "rejected" and state.approval is None


def test_approval_numbers_are_unique(session, people, complete: Product, product: Product) -> None:
    ap.submit(session, complete, people["marketing"])
    ap.approve(session, complete, people["compliance"], number="CL-1")
    session.execute(update(Approval).values(note="x"))  # bulk SQL bypasses the ORM guard: the audit chain is what catches tampering
    other = complete_disclosures(product, wording="別の試験用文言")
    ap.submit(session, other, people["marketing"])
    with pytest.raises(ApprovalError, match="already used"):
        ap.approve(session, other, people["compliance"], number="CL-1")


def test_an_approval_number_typed_into_the_content_is_refused(tmp_path) -> None:
    import shutil
    from pathlib import Path

    from generator.content.load import load_product
    from generator.content.validate import validate

    repo = Path(__file__).resolve().parents[2]
    shutil.copytree(repo / "content" / "cyber_lite", tmp_path / "cyber_lite")
    path = tmp_path / "cyber_lite" / "product.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('approval_number: ""', 'approval_number: "SJ-2026-001"'), encoding="utf-8")
    with pytest.raises(ContentError, match="meta.approval_number: must stay empty"):
        validate(load_product(tmp_path / "cyber_lite"))
