"""Alembic revisions of the nubis schema, oldest first (Alembic loads them by path)."""
