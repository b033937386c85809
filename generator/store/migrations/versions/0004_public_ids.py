"""Unguessable public ids for packs, jobs and uploads (URLs), and the folded history-search key of each pack.

Revision ID: 0004_public_ids
Revises: 0002_compliance
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from generator.store.ledger import new_public_id, search_key

revision = "0004_public_ids"
down_revision = "0002_compliance"
branch_labels = None
depends_on = None

TABLES = ("jobs", "uploads", "pack_records")


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("public_id", sa.String(32), nullable=True))
        rows = sa.table(table, sa.column("id", sa.Integer()), sa.column("public_id", sa.String(32)))
        for (row_id,) in bind.execute(sa.select(rows.c.id)).all():
            bind.execute(rows.update().where(rows.c.id == row_id).values(public_id=new_public_id()))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("public_id", existing_type=sa.String(32), nullable=False)
            batch.create_unique_constraint(f"uq_{table}_public_id", ["public_id"])
    with op.batch_alter_table("pack_records") as batch:
        batch.add_column(sa.Column("search_key", sa.Text(), nullable=False, server_default=""))
    packs = sa.table("pack_records", sa.column("id", sa.Integer()), sa.column("client", sa.String(200)),
                     sa.column("contact", sa.String(200)), sa.column("quote_number", sa.String(50)), sa.column("search_key", sa.Text()))
    for row_id, client, contact, number in bind.execute(sa.select(packs.c.id, packs.c.client, packs.c.contact, packs.c.quote_number)).all():
        bind.execute(packs.update().where(packs.c.id == row_id).values(search_key=search_key(client, contact, number)))


def downgrade() -> None:
    with op.batch_alter_table("pack_records") as batch:
        batch.drop_column("search_key")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_public_id", type_="unique")
            batch.drop_column("public_id")
