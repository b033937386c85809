"""Compliance: submissions, immutable approvals of exact content versions, the hash-chained audit log.

Revision ID: 0002_compliance
Revises: 0001_portal
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from generator.store.base import UTCDateTime

revision = "0002_compliance"
down_revision = "0001_portal"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("content_version", sa.String(50), nullable=False),
        sa.Column("revision", sa.String(100), nullable=False),
        sa.Column("base_hash", sa.String(128), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("redline_key", sa.String(255), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        _when("submitted_at"),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        _when("decided_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["users.id"], name="fk_submissions_submitted_by_id_users"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name="fk_submissions_decided_by_id_users"),
        sa.CheckConstraint("state IN ('pending', 'approved', 'rejected')", name="ck_submissions_state"),
    )
    op.create_index("ix_submissions_product", "submissions", ["product"])
    op.create_index("ix_submissions_content_hash", "submissions", ["content_hash"])
    op.create_index("ix_submissions_submitted_by_id", "submissions", ["submitted_by_id"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("content_version", sa.String(50), nullable=False),
        sa.Column("approval_number", sa.String(100), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=False),
        _when("approved_at"),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.ForeignKeyConstraint(["approver_id"], ["users.id"], name="fk_approvals_approver_id_users"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], name="fk_approvals_submission_id_submissions"),
        sa.ForeignKeyConstraint(["supersedes_id"], ["approvals.id"], name="fk_approvals_supersedes_id_approvals"),
        sa.UniqueConstraint("supersedes_id", name="uq_approvals_supersedes_id"),
    )
    op.create_index("ix_approvals_product", "approvals", ["product"])
    op.create_index("ix_approvals_content_hash", "approvals", ["content_hash"])
    op.create_index("ix_approvals_approval_number", "approvals", ["approval_number"])
    op.create_index("ix_approvals_approver_id", "approvals", ["approver_id"])
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _when("at"),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entries"),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name="fk_audit_entries_actor_id_users"),
        sa.UniqueConstraint("seq", name="uq_audit_entries_seq"),
        sa.UniqueConstraint("hash", name="uq_audit_entries_hash"),
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index("ix_audit_entries_actor", "audit_entries", ["actor"])
    op.create_index("ix_audit_entries_action", "audit_entries", ["action"])


def downgrade() -> None:
    for table in ("audit_entries", "approvals", "submissions"):
        op.drop_table(table)
