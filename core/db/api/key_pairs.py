"""The ``key_pairs`` table (revision 0007): a user's key pairs by name.

Create (KeyPairExists on a duplicate name for the user), read one, list a user's in
name order with keyset paging after a marker name, count, and delete (for real).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _add, _all, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import KeyPair


@_writer
def key_pair_create(session: Session, context: Any, values: Mapping[str, Any]) -> KeyPair:
    """Create a key pair; KeyPairExists when the user has one of that name."""
    return _add(
        session,
        KeyPair(**values),
        lambda: exception.KeyPairExists(key_name=values.get("name")),
    )


@_reader
def key_pair_get(session: Session, context: Any, user_id: str, name: str) -> KeyPair:
    """The user's key pair *name*; KeyPairNotFound when there is none."""
    row = _first(session, select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name))
    if row is None:
        raise exception.KeyPairNotFound(name=name, user_id=user_id)
    return row


@_reader
def key_pair_get_all_by_user(
    session: Session,
    context: Any,
    user_id: str,
    limit: int | None = None,
    marker: str | None = None,
) -> list[KeyPair]:
    """The user's key pairs by name; a page of *limit* after the key pair *marker*
    (MarkerNotFound when the user has no key pair of that name)."""
    statement = select(KeyPair).where(KeyPair.user_id == user_id)
    if marker is not None:
        found = _first(session, statement.where(KeyPair.name == marker))
        if found is None:
            raise exception.MarkerNotFound(marker=marker)
        statement = statement.where(KeyPair.name > marker)
    statement = statement.order_by(KeyPair.name)
    if limit is not None:
        statement = statement.limit(limit)
    return _all(session, statement)


@_reader
def key_pair_count_by_user(session: Session, context: Any, user_id: str) -> int:
    """How many key pairs the user has."""
    count = session.scalar(
        select(func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)
    )
    return int(count or 0)


@_writer
def key_pair_destroy(session: Session, context: Any, user_id: str, name: str) -> None:
    """Delete the user's key pair *name*; KeyPairNotFound when there is none."""
    result = session.execute(
        delete(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.KeyPairNotFound(name=name, user_id=user_id)
