"""The image tables of the API service: ``images`` with its ``image_tags`` and
``image_properties`` (revisions 0002 and 0005).

Create, read by uuid or name, update, list (filtered, visible to a project, sorted and
paged after a marker uuid) and delete; images have no soft delete. Every image row
leaves this module with two extra attributes, ``tags`` (a sorted list) and
``properties`` (a dict), read from their tables in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oslo_utils import timeutils
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api import _keyset
from nubis.core.db.api._rows import _add, _all, _filtered, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Image, ImageProperty, ImageTag

IMAGE_FILTERS = frozenset(
    {"uuid", "name", "status", "visibility", "owner", "disk_format", "container_format"}
)

#: Attributes images may be sorted by; ``id`` (creation order) always ends the order.
IMAGE_SORT_KEYS = frozenset(
    {
        "name",
        "status",
        "container_format",
        "disk_format",
        "size",
        "id",
        "created_at",
        "updated_at",
        "visibility",
        "owner",
        "min_disk",
        "min_ram",
    }
)


def _with_children(session: Session, images: list[Image]) -> list[Image]:
    """Attach ``tags`` and ``properties`` to each of *images* (two queries in all)."""
    by_id = {image.id: image for image in images}
    for image in images:
        image.tags = []
        image.properties = {}
    if not by_id:
        return images
    for tag in session.scalars(
        select(ImageTag).where(ImageTag.image_id.in_(by_id)).order_by(ImageTag.value)
    ):
        by_id[tag.image_id].tags.append(tag.value)
    for prop in session.scalars(select(ImageProperty).where(ImageProperty.image_id.in_(by_id))):
        by_id[prop.image_id].properties[prop.name] = prop.value
    return images


def _set_children(
    session: Session,
    image_id: int,
    tags: Iterable[str] | None,
    properties: Mapping[str, str] | None,
) -> None:
    """Replace the tags and/or properties of image *image_id* (None leaves them)."""
    if tags is not None:
        session.execute(delete(ImageTag).where(ImageTag.image_id == image_id))
        session.add_all(ImageTag(image_id=image_id, value=value) for value in sorted(set(tags)))
    if properties is not None:
        session.execute(delete(ImageProperty).where(ImageProperty.image_id == image_id))
        session.add_all(
            ImageProperty(image_id=image_id, name=name, value=value)
            for name, value in sorted(properties.items())
        )
    session.flush()


@_writer
def image_create(session: Session, context: Any, values: Mapping[str, Any]) -> Image:
    """Create an image record (a uuid is generated if *values* has none) with its
    ``tags`` and ``properties``; ImageExists when an image has that uuid."""
    values = dict(values)
    tags = values.pop("tags", None)
    properties = values.pop("properties", None)
    image = _add(
        session,
        Image(**values),
        lambda: exception.ImageExists(message=f"an image with id {values.get('uuid')} exists"),
    )
    _set_children(session, image.id, tags, properties)
    return _with_children(session, [image])[0]


@_reader
def image_get_by_uuid(session: Session, context: Any, image_uuid: str) -> Image:
    """Return the image with *image_uuid*, or raise ImageNotFound."""
    image = _first(session, select(Image).where(Image.uuid == image_uuid))
    if image is None:
        raise exception.ImageNotFound(image_id=image_uuid)
    return _with_children(session, [image])[0]


@_reader
def image_get_by_name(session: Session, context: Any, name: str) -> Image:
    """Return the first image named *name*, or raise ImageNotFound."""
    image = _first(session, select(Image).where(Image.name == name).order_by(Image.id))
    if image is None:
        raise exception.ImageNotFound(image_id=name)
    return _with_children(session, [image])[0]


@_writer
def image_update(
    session: Session, context: Any, image_uuid: str, values: Mapping[str, Any]
) -> Image:
    """Update the image with *image_uuid*: columns from *values*, and ``tags`` /
    ``properties`` replaced as a whole when given. ImageNotFound if there is none.

    A ``status`` value may be guarded: ``expected_status`` (a status or a list of
    them) makes the update an atomic compare-and-swap that raises
    ImageStatusConflict (409) when the image is in another status.
    """
    values = dict(values)
    tags = values.pop("tags", None)
    properties = values.pop("properties", None)
    expected = values.pop("expected_status", None)
    image = _first(session, select(Image).where(Image.uuid == image_uuid).with_for_update())
    if image is None:
        raise exception.ImageNotFound(image_id=image_uuid)
    if expected is not None:
        allowed = [expected] if isinstance(expected, str) else list(expected)
        if image.status not in allowed:
            raise exception.ImageStatusConflict(
                image_id=image_uuid, status=image.status, expected=", ".join(allowed)
            )
    for key, value in values.items():
        setattr(image, key, value)
    image.updated_at = timeutils.utcnow()
    session.flush()
    _set_children(session, image.id, tags, properties)
    return _with_children(session, [image])[0]


@_reader
def image_get_all(
    session: Session,
    context: Any,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
    marker: str | None = None,
    visible_to: str | None = None,
    sort: Sequence[Sequence[str]] | None = None,
) -> list[Image]:
    """Return images in order, one page with *limit* and *marker* (a uuid).

    *filters* match IMAGE_FILTERS exactly (a list value matches any member), plus
    ``tag`` (a list: images having every one of these tags), ``properties`` (a
    mapping: images having each of these extra properties with that value, as
    Glance's property filters and Nova's ``property-*`` ones) and ``community`` (False
    hides community images *visible_to* does not own, as Glance's default listing
    does). *visible_to* (a project id) keeps the images that project may see: public,
    community and its own. *sort* is ``[(key, "asc"|"desc")]`` over IMAGE_SORT_KEYS
    (default creation order); ``id`` always ends it. MarkerNotFound for an unknown
    marker, InvalidSortKey for a bad key or direction.
    """
    filters = dict(filters or {})
    tags = filters.pop("tag", None) or []
    properties = dict(filters.pop("properties", None) or {})
    community = filters.pop("community", True)
    statement = _filtered(select(Image), Image, filters, IMAGE_FILTERS)
    if visible_to is not None:
        shown = ["public"] + (["community"] if community else [])
        statement = statement.where(or_(Image.visibility.in_(shown), Image.owner == visible_to))
    elif not community:
        statement = statement.where(Image.visibility != "community")
    for tag in tags:
        statement = statement.where(
            Image.id.in_(select(ImageTag.image_id).where(ImageTag.value == tag))
        )
    for name, value in sorted(properties.items()):
        statement = statement.where(
            Image.id.in_(
                select(ImageProperty.image_id).where(
                    ImageProperty.name == name, ImageProperty.value == str(value)
                )
            )
        )
    order = _sort_order(sort)
    if marker is not None:
        marker_row = _first(session, select(Image).where(Image.uuid == marker))
        if marker_row is None:
            raise exception.MarkerNotFound(marker=marker)
        statement = statement.where(_keyset.after(Image, marker_row, order))
    statement = statement.order_by(*_keyset.order_by(Image, order))
    if limit is not None:
        statement = statement.limit(limit)
    return _with_children(session, _all(session, statement))


def _sort_order(sort: Sequence[Sequence[str]] | None) -> list[tuple[str, bool]]:
    """[(key, descending)] ending with id; InvalidSortKey for a bad key or direction."""
    order: list[tuple[str, bool]] = []
    for key, direction in sort or [("id", "asc")]:
        if key not in IMAGE_SORT_KEYS:
            raise exception.InvalidSortKey(key=key, allowed=", ".join(sorted(IMAGE_SORT_KEYS)))
        if direction not in ("asc", "desc"):
            raise exception.InvalidSortKey(key=f"{key}:{direction}", allowed="asc, desc")
        order.append((key, direction == "desc"))
        if key == "id":
            return order
    order.append(("id", order[-1][1] if order else False))
    return order


@_writer
def image_destroy(session: Session, context: Any, image_uuid: str) -> None:
    """Delete the image record, its tags and properties (for real); ImageNotFound if
    there is none."""
    image_id = session.scalar(select(Image.id).where(Image.uuid == image_uuid))
    if image_id is None:
        raise exception.ImageNotFound(image_id=image_uuid)
    session.execute(delete(ImageTag).where(ImageTag.image_id == image_id))
    session.execute(delete(ImageProperty).where(ImageProperty.image_id == image_id))
    session.execute(delete(Image).where(Image.id == image_id))
