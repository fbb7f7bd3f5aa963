"""The ``flavors`` table: create, read by id, flavorid or name, list, delete.

Flavors have no soft delete: :func:`flavor_destroy` removes the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db import errors
from nubis.core.db.api._rows import _all, _filtered, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Flavor

FLAVOR_FILTERS = frozenset({"is_public", "disabled", "flavorid", "name"})


@_writer
def flavor_create(session: Session, context: Any, values: Mapping[str, Any]) -> Flavor:
    """Create a flavor; FlavorIdExists or FlavorExists (name) on a duplicate."""
    flavor = Flavor(**values)
    session.add(flavor)
    try:
        session.flush()
    except sa_exc.IntegrityError as error:
        if not errors.is_duplicate_entry(error):
            raise
        if "flavorid" in str(error.orig):
            raise exception.FlavorIdExists(flavor_id=values.get("flavorid")) from error
        raise exception.FlavorExists(name=values.get("name")) from error
    return flavor


@_reader
def flavor_get(session: Session, context: Any, flavor_id: int) -> Flavor:
    """Return the flavor with internal id *flavor_id*, or raise FlavorNotFound."""
    flavor = _first(session, select(Flavor).where(Flavor.id == flavor_id))
    if flavor is None:
        raise exception.FlavorNotFound(flavor_id=flavor_id)
    return flavor


@_reader
def flavor_get_by_flavor_id(session: Session, context: Any, flavorid: str) -> Flavor:
    """Return the flavor whose public ``flavorid`` is *flavorid*, or raise FlavorNotFound."""
    flavor = _first(session, select(Flavor).where(Flavor.flavorid == flavorid))
    if flavor is None:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return flavor


@_reader
def flavor_get_by_name(session: Session, context: Any, name: str) -> Flavor:
    """Return the flavor named *name*, or raise FlavorNotFoundByName."""
    flavor = _first(session, select(Flavor).where(Flavor.name == name))
    if flavor is None:
        raise exception.FlavorNotFoundByName(flavor_name=name)
    return flavor


@_reader
def flavor_get_all(
    session: Session, context: Any, filters: Mapping[str, Any] | None = None
) -> list[Flavor]:
    """Return flavors in creation order, filtered by is_public, disabled, flavorid, name."""
    statement = _filtered(select(Flavor), Flavor, filters, FLAVOR_FILTERS)
    return _all(session, statement.order_by(Flavor.id))


@_writer
def flavor_destroy(session: Session, context: Any, flavorid: str) -> None:
    """Delete the flavor whose ``flavorid`` is *flavorid* (for real); FlavorNotFound."""
    result = session.execute(delete(Flavor).where(Flavor.flavorid == flavorid))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.FlavorNotFound(flavor_id=flavorid)
