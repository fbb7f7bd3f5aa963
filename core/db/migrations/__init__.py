"""Alembic environment and revisions of the nubis schema; run them with
:mod:`nubis.core.db.migration`, never with an alembic.ini."""
