"""The portal's database: SQLAlchemy 2 models, engine and session factory, Alembic migrations shipped in the package.

SQLite under ``Site.storage`` by default; ``DOCGEN_DATABASE_URL`` selects another database (PostgreSQL via psycopg).
"""
