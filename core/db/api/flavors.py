"""The ``flavors`` table with its extra specs (``flavor_extra_specs``) and the projects
given access to a private flavor (``flavor_projects``): create, read by id, flavorid or
name, list, update, delete.

Flavors have no soft delete: :func:`flavor_destroy` removes the row and its children.
A private flavor is visible to a project only when the project was given access; the
readers take that project as ``accessible_to`` (None: no restriction, as for an
administrator).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, true, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db import errors
from nubis.core.db.api._rows import _add, _all, _filtered, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Flavor, FlavorExtraSpec, FlavorProject

FLAVOR_FILTERS = frozenset({"is_public", "disabled", "flavorid", "name"})


def _accessible_to(project_id: str) -> ColumnElement[bool]:
    """Public, or private with access given to *project_id*."""
    granted = select(FlavorProject.flavor_id).where(FlavorProject.project_id == project_id)
    return or_(Flavor.is_public == true(), Flavor.id.in_(granted))


def _flavor_row_id(session: Session, flavorid: str) -> int:
    row_id = session.scalar(select(Flavor.id).where(Flavor.flavorid == flavorid))
    if row_id is None:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return int(row_id)


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
def flavor_get_by_flavor_id(
    session: Session, context: Any, flavorid: str, accessible_to: str | None = None
) -> Flavor:
    """Return the flavor whose public ``flavorid`` is *flavorid*, or raise FlavorNotFound
    (also when it is private and *accessible_to*, a project, was not given access)."""
    statement = select(Flavor).where(Flavor.flavorid == flavorid)
    if accessible_to is not None:
        statement = statement.where(_accessible_to(accessible_to))
    flavor = _first(session, statement)
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
    session: Session,
    context: Any,
    filters: Mapping[str, Any] | None = None,
    accessible_to: str | None = None,
) -> list[Flavor]:
    """Return flavors in creation order, filtered by is_public, disabled, flavorid, name;
    with *accessible_to* (a project), only the public ones and the private ones that
    project was given access to."""
    statement = _filtered(select(Flavor), Flavor, filters, FLAVOR_FILTERS)
    if accessible_to is not None:
        statement = statement.where(_accessible_to(accessible_to))
    return _all(session, statement.order_by(Flavor.id))


@_writer
def flavor_update(
    session: Session, context: Any, flavorid: str, values: Mapping[str, Any]
) -> Flavor:
    """Change the columns in *values* of the flavor *flavorid*; FlavorNotFound."""
    row_id = _flavor_row_id(session, flavorid)
    session.execute(update(Flavor).where(Flavor.id == row_id).values(dict(values)))
    return session.get_one(Flavor, row_id, populate_existing=True)


@_writer
def flavor_destroy(session: Session, context: Any, flavorid: str) -> None:
    """Delete the flavor whose ``flavorid`` is *flavorid* (for real) with its extra specs
    and access list; FlavorNotFound."""
    row_id = _flavor_row_id(session, flavorid)
    session.execute(delete(FlavorExtraSpec).where(FlavorExtraSpec.flavor_id == row_id))
    session.execute(delete(FlavorProject).where(FlavorProject.flavor_id == row_id))
    session.execute(delete(Flavor).where(Flavor.id == row_id))


@_reader
def flavor_extra_specs_get(session: Session, context: Any, flavorid: str) -> dict[str, str]:
    """The extra specs of the flavor *flavorid* as a dict; FlavorNotFound."""
    row_id = _flavor_row_id(session, flavorid)
    rows = session.execute(
        select(FlavorExtraSpec.key, FlavorExtraSpec.value).where(
            FlavorExtraSpec.flavor_id == row_id
        )
    )
    return {key: value for key, value in rows}


@_writer
def flavor_extra_specs_update_or_create(
    session: Session, context: Any, flavorid: str, specs: Mapping[str, str]
) -> dict[str, str]:
    """Set each key of *specs* on the flavor *flavorid*, keeping its other keys, in one
    transaction with the flavor's row locked (concurrent changes keep each other's
    keys); return all its extra specs. FlavorNotFound."""
    row = session.scalar(select(Flavor.id).where(Flavor.flavorid == flavorid).with_for_update())
    if row is None:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    existing = {
        spec.key: spec
        for spec in session.scalars(select(FlavorExtraSpec).where(FlavorExtraSpec.flavor_id == row))
    }
    for key, value in specs.items():
        if key in existing:
            existing[key].value = value
        else:
            existing[key] = FlavorExtraSpec(flavor_id=row, key=key, value=value)
            session.add(existing[key])
    session.flush()
    return {key: spec.value for key, spec in existing.items()}


@_writer
def flavor_extra_specs_delete(session: Session, context: Any, flavorid: str, key: str) -> None:
    """Remove the extra spec *key* of the flavor *flavorid*; FlavorNotFound or
    FlavorExtraSpecsNotFound."""
    row_id = _flavor_row_id(session, flavorid)
    result = session.execute(
        delete(FlavorExtraSpec).where(
            FlavorExtraSpec.flavor_id == row_id, FlavorExtraSpec.key == key
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.FlavorExtraSpecsNotFound(flavor_id=flavorid, extra_specs_key=key)


@_reader
def flavor_access_get(session: Session, context: Any, flavorid: str) -> list[str]:
    """The projects given access to the flavor *flavorid*, in the order given;
    FlavorNotFound."""
    row_id = _flavor_row_id(session, flavorid)
    return list(
        session.scalars(
            select(FlavorProject.project_id)
            .where(FlavorProject.flavor_id == row_id)
            .order_by(FlavorProject.id)
        )
    )


@_writer
def flavor_access_add(session: Session, context: Any, flavorid: str, project_id: str) -> None:
    """Give *project_id* access to the flavor *flavorid*; FlavorNotFound or
    FlavorAccessExists."""
    row_id = _flavor_row_id(session, flavorid)
    _add(
        session,
        FlavorProject(flavor_id=row_id, project_id=project_id),
        lambda: exception.FlavorAccessExists(flavor_id=flavorid, project_id=project_id),
    )


@_writer
def flavor_access_remove(session: Session, context: Any, flavorid: str, project_id: str) -> None:
    """Take access to the flavor *flavorid* from *project_id*; FlavorNotFound or
    FlavorAccessNotFound."""
    row_id = _flavor_row_id(session, flavorid)
    result = session.execute(
        delete(FlavorProject).where(
            FlavorProject.flavor_id == row_id, FlavorProject.project_id == project_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.FlavorAccessNotFound(flavor_id=flavorid, project_id=project_id)
