"""Keyset paging for listings sorted by several columns (instances, images).

A page after a marker row is "every row that comes after it in the order", which SQL
can compare only without NULLs: each sort column is read with its NULLs mapped to the
lowest value of its type (the epoch for times, -1 for integers, '' for text), in the
ORDER BY and in the comparison alike. ``id`` is never NULL and ends every order, so
the order is total.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, and_, func, or_

from nubis.core.db.models import Base

EPOCH = datetime.datetime(1970, 1, 1)


def _lowest(model: type[Base], key: str) -> Any:
    kind = getattr(model, key).type
    if isinstance(kind, DateTime):
        return EPOCH
    return -1 if isinstance(kind, (Integer, BigInteger)) else ""


def sortable(model: type[Base], key: str) -> Any:
    """The column *key* of *model*, NULLs mapped to the lowest value of its type."""
    column = getattr(model, key)
    return column if key == "id" else func.coalesce(column, _lowest(model, key))


def marker_value(model: type[Base], row: Any, key: str) -> Any:
    """*row*'s value of *key* as :func:`sortable` reads it."""
    value = getattr(row, key)
    return _lowest(model, key) if value is None and key != "id" else value


def order_by(model: type[Base], order: list[tuple[str, bool]]) -> list[Any]:
    """ORDER BY clauses of *order*, a list of (key, descending)."""
    return [
        sortable(model, key).desc() if desc else sortable(model, key).asc() for key, desc in order
    ]


def after(model: type[Base], marker_row: Any, order: list[tuple[str, bool]]) -> Any:
    """The condition "comes after *marker_row* in *order*"."""
    clauses = []
    for index, (key, desc) in enumerate(order):
        equal = [sortable(model, k) == marker_value(model, marker_row, k) for k, _ in order[:index]]
        value = marker_value(model, marker_row, key)
        step = sortable(model, key) < value if desc else sortable(model, key) > value
        clauses.append(and_(*equal, step))
    return or_(*clauses)
