"""The ``images`` table of the API service (revision 0002): image records.

Create, read by uuid or name, list (filtered, visible to a project, paged after a marker
uuid) and delete; images have no soft delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _add, _all, _filtered, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Image

IMAGE_FILTERS = frozenset(
    {"uuid", "name", "status", "visibility", "owner", "disk_format", "container_format"}
)


@_writer
def image_create(session: Session, context: Any, values: Mapping[str, Any]) -> Image:
    """Create an image record (a uuid is generated if *values* has none); ImageExists
    when an image of that name exists."""
    return _add(session, Image(**values), lambda: exception.ImageExists(name=values["name"]))


@_reader
def image_get_by_uuid(session: Session, context: Any, image_uuid: str) -> Image:
    """Return the image with *image_uuid*, or raise ImageNotFound."""
    image = _first(session, select(Image).where(Image.uuid == image_uuid))
    if image is None:
        raise exception.ImageNotFound(image_id=image_uuid)
    return image


@_reader
def image_get_by_name(session: Session, context: Any, name: str) -> Image:
    """Return the image named *name*, or raise ImageNotFound."""
    image = _first(session, select(Image).where(Image.name == name))
    if image is None:
        raise exception.ImageNotFound(image_id=name)
    return image


@_reader
def image_get_all(
    session: Session,
    context: Any,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
    marker: str | None = None,
    visible_to: str | None = None,
) -> list[Image]:
    """Return images in creation order, one page with *limit* and *marker* (a uuid).

    *filters* match IMAGE_FILTERS exactly; *visible_to* (a project id) keeps public
    images and the ones that project owns. MarkerNotFound for an unknown marker.
    """
    statement = _filtered(select(Image), Image, filters, IMAGE_FILTERS)
    if visible_to is not None:
        statement = statement.where(or_(Image.visibility == "public", Image.owner == visible_to))
    if marker is not None:
        marker_id = session.scalar(select(Image.id).where(Image.uuid == marker))
        if marker_id is None:
            raise exception.MarkerNotFound(marker=marker)
        statement = statement.where(Image.id > marker_id)
    statement = statement.order_by(Image.id)
    if limit is not None:
        statement = statement.limit(limit)
    return _all(session, statement)


@_writer
def image_destroy(session: Session, context: Any, image_uuid: str) -> None:
    """Delete the image record (for real); ImageNotFound if there is none."""
    result = session.execute(delete(Image).where(Image.uuid == image_uuid))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.ImageNotFound(image_id=image_uuid)
