"""The case store: SQLAlchemy 2 async tables, the repository, migrations and the blob store."""
