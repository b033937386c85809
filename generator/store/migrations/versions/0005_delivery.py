"""Clients, 意向把握, and electronic delivery of packs (consent, e-mails with download links, downloads).

Revision ID: 0005_delivery
Revises: 0004_admin
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from generator.store.base import UTCDateTime

revision = "0005_delivery"
down_revision = "0004_admin"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def _scoped(table: str) -> list:
    return [sa.Column("agency_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=f"fk_{table}_agency_id_agencies")]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("industry", sa.String(100), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        *_scoped("clients"),
        sa.PrimaryKeyConstraint("id", name="pk_clients"),
        _fk("clients", "created_by_id", "users"),
    )
    op.create_index("ix_clients_name", "clients", ["name"])
    op.create_index("ix_clients_agency_id", "clients", ["agency_id"])
    with op.batch_alter_table("pack_records") as batch:
        batch.add_column(sa.Column("client_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_pack_records_client_id_clients", "clients", ["client_id"], ["id"])
        batch.create_index("ix_pack_records_client_id", ["client_id"])
    op.create_table(
        "client_quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("industry", sa.String(100), nullable=False),
        sa.Column("class_code", sa.String(10), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("limit", sa.BigInteger(), nullable=False),
        sa.Column("premium", sa.BigInteger(), nullable=False),
        sa.Column("rates_version", sa.String(50), nullable=False),
        _when("created_at"),
        *_scoped("client_quotes"),
        sa.PrimaryKeyConstraint("id", name="pk_client_quotes"),
        _fk("client_quotes", "client_id", "clients"),
        _fk("client_quotes", "user_id", "users"),
    )
    op.create_index("ix_client_quotes_client_id", "client_quotes", ["client_id"])
    op.create_index("ix_client_quotes_agency_id", "client_quotes", ["agency_id"])
    op.create_table(
        "intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pack_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("chosen_limit", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _when("created_at"),
        *_scoped("intents"),
        sa.PrimaryKeyConstraint("id", name="pk_intents"),
        _fk("intents", "pack_id", "pack_records"),
        _fk("intents", "client_id", "clients"),
        _fk("intents", "user_id", "users"),
    )
    for column in ("pack_id", "client_id", "agency_id"):
        op.create_index(f"ix_intents_{column}", "intents", [column])
    op.create_table(
        "delivery_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pack_id", sa.Integer(), nullable=False),
        sa.Column("consented_by", sa.String(200), nullable=False),
        _when("consented_at"),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        _when("recorded_at"),
        *_scoped("delivery_consents"),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_consents"),
        _fk("delivery_consents", "pack_id", "pack_records"),
        _fk("delivery_consents", "recorded_by_id", "users"),
        sa.CheckConstraint("method IN ('書面', '口頭', '電子メール', 'その他')", name="ck_delivery_consents_method"),
    )
    for column in ("pack_id", "agency_id"):
        op.create_index(f"ix_delivery_consents_{column}", "delivery_consents", [column])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("pack_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(200), nullable=False),
        sa.Column("recipient_email", sa.String(254), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _when("expires_at"),
        _when("sent_at", nullable=True),
        sa.Column("retry_of_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        _when("created_at"),
        *_scoped("deliveries"),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("token_hash", name="uq_deliveries_token_hash"),
        _fk("deliveries", "pack_id", "pack_records"),
        _fk("deliveries", "consent_id", "delivery_consents"),
        _fk("deliveries", "client_id", "clients"),
        _fk("deliveries", "retry_of_id", "deliveries"),
        _fk("deliveries", "created_by_id", "users"),
        sa.CheckConstraint("status IN ('sending', 'sent', 'failed')", name="ck_deliveries_status"),
    )
    for column in ("pack_id", "client_id", "agency_id"):
        op.create_index(f"ix_deliveries_{column}", "deliveries", [column])
    op.create_table(
        "delivery_downloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        _when("at"),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        *_scoped("delivery_downloads"),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_downloads"),
        _fk("delivery_downloads", "delivery_id", "deliveries"),
    )
    for column in ("delivery_id", "agency_id"):
        op.create_index(f"ix_delivery_downloads_{column}", "delivery_downloads", [column])


def downgrade() -> None:
    for table in ("delivery_downloads", "deliveries", "delivery_consents", "intents", "client_quotes"):
        op.drop_table(table)
    with op.batch_alter_table("pack_records") as batch:
        batch.drop_index("ix_pack_records_client_id")
        batch.drop_constraint("fk_pack_records_client_id_clients", type_="foreignkey")
        batch.drop_column("client_id")
    op.drop_table("clients")
