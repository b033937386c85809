"""Migration 0004_public_ids: rows made before it get a random, unique public id and a folded search key."""

from __future__ import annotations

import re

from sqlalchemy import MetaData, insert, select

from generator.store import db
from generator.store.base import utcnow


def test_upgrade_gives_existing_rows_public_ids_and_search_keys(database_url: str) -> None:
    db.upgrade(database_url, "0002_compliance")
    eng = db.engine(database_url)
    try:
        meta = MetaData()
        meta.reflect(eng)
        t = meta.tables
        with eng.begin() as c:
            agency = c.execute(insert(t["agencies"]).values(name="さくら保険サービス株式会社", created_at=utcnow())).inserted_primary_key[0]
            user = c.execute(insert(t["users"]).values(email="a@example.jp", name="山本", password_hash="$argon2id$x", role="agent", active=True,
                                                       agency_id=agency, created_at=utcnow())).inserted_primary_key[0]
            for i in range(3):
                upload = c.execute(insert(t["uploads"]).values(agency_id=agency, user_id=user, filename="l.csv", suffix=".csv", sha256="0" * 64,
                                                               storage_key="", rows=1, errors=[], created_at=utcnow())).inserted_primary_key[0]
                job = c.execute(insert(t["jobs"]).values(kind="list", state="done", done=1, total=1, reason="", params={}, result={},
                                                         agency_id=agency, user_id=user, upload_id=upload, created_at=utcnow(),
                                                         updated_at=utcnow())).inserted_primary_key[0]
                c.execute(insert(t["pack_records"]).values(agency_id=agency, agent_id=user, job_id=job, client=f"髙﨑 商店{i}", contact="上",
                                                           industry="製造業", revenue=1, limit=1, product="cyber_lite", content_version="1",
                                                           content_hash="h", draft=True, quote_number=f"Q-{i}", premium=1, pdf_sha256="0" * 64,
                                                           clauses={}, storage_key="", created_at=utcnow()))
        db.upgrade(database_url)
        meta = MetaData()
        meta.reflect(eng)
        with eng.connect() as c:
            ids = [r[0] for name in ("jobs", "uploads", "pack_records") for r in c.execute(select(meta.tables[name].c.public_id))]
            keys = [r[0] for r in c.execute(select(meta.tables["pack_records"].c.search_key))]
        assert len(ids) == 9 and len(set(ids)) == 9 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
        assert sorted(k.split("\x1f")[0] for k in keys) == ["高崎商店0", "高崎商店1", "高崎商店2"]
    finally:
        eng.dispose()
