"""The portal: agencies, users, web sessions, login attempts, jobs, uploads and the pack ledger.

Revision ID: 0001_portal
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from generator.store.base import UTCDateTime

revision = "0001_portal"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint("name", name="uq_agencies_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_users_agency_id_agencies"),
        sa.CheckConstraint("role IN ('agent', 'compliance', 'marketing', 'admin')", name="ck_users_role"),
    )
    op.create_index("ix_users_agency_id", "users", ["agency_id"])
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_secret", sa.String(64), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_web_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_web_sessions_user_id_users", ondelete="CASCADE"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        _when("at"),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_email_at", "login_attempts", ["email", "at"])
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("suffix", sa.String(8), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_uploads_agency_id_agencies"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_uploads_user_id_users"),
    )
    op.create_index("ix_uploads_agency_id", "uploads", ["agency_id"])
    op.create_index("ix_uploads_user_id", "uploads", ["user_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_jobs_agency_id_agencies"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_jobs_user_id_users"),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], name="fk_jobs_upload_id_uploads"),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_state"),
        sa.CheckConstraint("kind IN ('pack', 'list')", name="ck_jobs_kind"),
    )
    op.create_index("ix_jobs_agency_id", "jobs", ["agency_id"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])
    op.create_table(
        "pack_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("industry", sa.String(100), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("limit", sa.BigInteger(), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("content_version", sa.String(50), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("approval_number", sa.String(100), nullable=True),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("quote_number", sa.String(50), nullable=False),
        sa.Column("premium", sa.BigInteger(), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("clauses", sa.JSON(), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_pack_records"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_pack_records_agency_id_agencies"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name="fk_pack_records_agent_id_users"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_pack_records_job_id_jobs"),
    )
    for column in ("agency_id", "agent_id", "job_id", "client", "quote_number", "created_at"):
        op.create_index(f"ix_pack_records_{column}", "pack_records", [column])


def downgrade() -> None:
    for table in ("pack_records", "jobs", "uploads", "login_attempts", "web_sessions", "users", "agencies"):
        op.drop_table(table)
