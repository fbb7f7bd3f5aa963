"""A server's tags (``instance_tags``, revision 0010; ``/servers/{id}/tags`` from
microversion 2.26), kept as Nova keeps them.

A tag is 1 to :data:`MAX_TAG_LENGTH` characters without ``/`` or ``,`` (nor NUL, which
PostgreSQL cannot store; Nova does not say); a server has at most
:data:`MAX_INSTANCE_TAGS` of them, each once. Tags are strings here, a server's
always in sorted order. Each change runs in one transaction with the instance row
locked (``SELECT ... FOR UPDATE``; a SQLite writer holds the database's write lock), so
that concurrent changes queue: no two adds can together pass the limit, and no change
is lost to a read-modify-write race. A change needs a live instance (never one that is
soft-deleted, whatever the context's ``read_deleted``) in one of *vm_states* (by
default :data:`INSTANCE_TAG_VM_STATES`, Nova's; None: any state, as at create).

Tags are compared as the database compares text: on MariaDB/MySQL (a case- and
accent-insensitive collation) ``Web`` and ``web`` are the same tag, so a set or add of
a second spelling keeps the first; PostgreSQL and SQLite tell them apart.

A tag row has no ``deleted`` column: :func:`~.instances.instance_destroy` deletes an
instance's tags in the same transaction (as Nova does), and archiving an instance
deletes any left (:mod:`.archive`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _first, _query
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Instance, InstanceTag

#: Most tags one server may have (Nova's ``MAX_TAG_COUNT``).
MAX_INSTANCE_TAGS = 50

#: Longest tag, in characters (Nova's ``MAX_TAG_LENGTH``).
MAX_TAG_LENGTH = 60

#: The vm states in which a server's tags may change, Nova's (no task state is checked).
INSTANCE_TAG_VM_STATES: tuple[str, ...] = ("active", "paused", "suspended", "stopped")

_IN_CHUNK = 500
"""Instance uuids per ``IN (...)`` list when reading the tags of many instances."""


def instance_tag_problem(tag: Any) -> str | None:
    """Why *tag* cannot be a tag (one short sentence), or None when it can."""
    if not isinstance(tag, str):
        return f"a tag is a string, not {type(tag).__name__}"
    if not tag:
        return "it is empty"
    if len(tag) > MAX_TAG_LENGTH:
        return f"it is {len(tag)} characters long, more than {MAX_TAG_LENGTH}"
    if "/" in tag or "," in tag:
        return "it contains '/' or ','"
    if "\x00" in tag:
        return "it contains a NUL character"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def instance_tag_shown(tag: Any) -> str:
    """*tag* as messages show it: control characters as ``\\xNN``, at most 80
    characters."""
    text = _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", str(tag))
    return text if len(text) <= 80 else text[:77] + "..."


def _check_tag(tag: Any) -> None:
    problem = instance_tag_problem(tag)
    if problem is not None:
        raise exception.Invalid(
            f"Tag '{instance_tag_shown(tag)}' is invalid. It must be a non empty string without "
            f"characters '/' and ','. Validation error message: {problem}."
        )


def _too_many() -> exception.Invalid:
    return exception.Invalid(
        f"The number of tags exceeded the per-server limit {MAX_INSTANCE_TAGS}"
    )


def _visible_instance(session: Session, context: Any, instance_uuid: str) -> None:
    """InstanceNotFound unless the instance is visible to *context*."""
    if _first(session, _query(context, Instance, Instance.uuid == instance_uuid)) is None:
        raise exception.InstanceNotFound(instance_id=instance_uuid)


def _locked_instance(
    session: Session,
    context: Any,
    instance_uuid: str,
    vm_states: Sequence[str] | None,
    action: str,
) -> Instance:
    """The live instance, its row locked; InstanceNotFound or InstanceInvalidState."""
    statement = _query(context, Instance, Instance.uuid == instance_uuid, read_deleted="no")
    row = _first(session, statement.with_for_update())
    if row is None:
        raise exception.InstanceNotFound(instance_id=instance_uuid)
    if vm_states is not None and row.vm_state not in vm_states:
        raise exception.InstanceInvalidState(
            action=action,
            instance_uuid=instance_uuid,
            state=f"in vm_state {row.vm_state}",
            expected=f"in vm_state {', '.join(vm_states)}",
            vm_state=row.vm_state,
        )
    return row


def _tags_of(session: Session, instance_uuid: str) -> list[str]:
    statement = select(InstanceTag.tag).where(InstanceTag.instance_uuid == instance_uuid)
    return sorted(session.scalars(statement))


def _stored(session: Session, instance_uuid: str, tag: str) -> bool:
    """Whether the database holds *tag* (as it compares text) for the instance."""
    statement = select(InstanceTag.tag).where(
        InstanceTag.instance_uuid == instance_uuid, InstanceTag.tag == tag
    )
    return session.scalars(statement.limit(1)).first() is not None


def _insert(session: Session, instance_uuid: str, tag: str) -> None:
    session.add(InstanceTag(instance_uuid=instance_uuid, tag=tag))
    session.flush()


@_reader
def instance_tag_get_by_instance_uuid(
    session: Session, context: Any, instance_uuid: str
) -> list[str]:
    """The instance's tags, sorted; InstanceNotFound if the context cannot see it."""
    _visible_instance(session, context, instance_uuid)
    return _tags_of(session, instance_uuid)


@_reader
def instance_tag_get_by_instance_uuids(
    session: Session, context: Any, instance_uuids: Iterable[str]
) -> dict[str, list[str]]:
    """``{instance uuid: its tags, sorted}`` with a key for every uuid asked, in one
    query per 500 uuids (the list views). Unknown uuids get an empty list."""
    uuids = list(dict.fromkeys(instance_uuids))
    tags: dict[str, list[str]] = {uuid: [] for uuid in uuids}
    for start in range(0, len(uuids), _IN_CHUNK):
        statement = select(InstanceTag.instance_uuid, InstanceTag.tag).where(
            InstanceTag.instance_uuid.in_(uuids[start : start + _IN_CHUNK])
        )
        for instance_uuid, tag in session.execute(statement):
            tags[instance_uuid].append(tag)
    for found in tags.values():
        found.sort()
    return tags


@_reader
def instance_tag_exists(session: Session, context: Any, instance_uuid: str, tag: str) -> bool:
    """Whether the instance has *tag*; InstanceNotFound if the context cannot see it."""
    _visible_instance(session, context, instance_uuid)
    return instance_tag_problem(tag) is None and _stored(session, instance_uuid, tag)


@_writer
def instance_tag_add(
    session: Session,
    context: Any,
    instance_uuid: str,
    tag: str,
    *,
    vm_states: Sequence[str] | None = INSTANCE_TAG_VM_STATES,
) -> bool:
    """Add *tag* to the instance; True if it was added, False if it was there already.

    Checked in Nova's order: InstanceNotFound, InstanceInvalidState (the instance is not
    in one of *vm_states*), Invalid for a bad tag, Invalid when the instance already
    has :data:`MAX_INSTANCE_TAGS` tags (even if *tag* is one of them, as in Nova).
    """
    _locked_instance(session, context, instance_uuid, vm_states, "add a tag to")
    _check_tag(tag)
    if len(_tags_of(session, instance_uuid)) >= MAX_INSTANCE_TAGS:
        raise _too_many()
    if _stored(session, instance_uuid, tag):
        return False
    _insert(session, instance_uuid, tag)
    return True


@_writer
def instance_tag_set(
    session: Session,
    context: Any,
    instance_uuid: str,
    tags: Iterable[str],
    *,
    vm_states: Sequence[str] | None = INSTANCE_TAG_VM_STATES,
) -> list[str]:
    """Make *tags* (duplicates count once) the instance's tags; return them, sorted.

    Tags it keeps stay as they are. InstanceNotFound, InstanceInvalidState (not in one
    of *vm_states*), Invalid for a bad tag or more than :data:`MAX_INSTANCE_TAGS`.
    """
    _locked_instance(session, context, instance_uuid, vm_states, "update the tags of")
    wanted = list(dict.fromkeys(tags))
    for tag in wanted:
        _check_tag(tag)
    if len(wanted) > MAX_INSTANCE_TAGS:
        raise _too_many()
    existing = _tags_of(session, instance_uuid)
    stale = [tag for tag in existing if tag not in wanted]
    if stale:
        session.execute(
            delete(InstanceTag).where(
                InstanceTag.instance_uuid == instance_uuid, InstanceTag.tag.in_(stale)
            )
        )
    for tag in wanted:
        # Asked of the database, not of *existing*: it may hold the tag under a
        # spelling its collation takes as the same (see the module docstring).
        if tag not in existing and not _stored(session, instance_uuid, tag):
            _insert(session, instance_uuid, tag)
    return _tags_of(session, instance_uuid)


@_writer
def instance_tag_delete(
    session: Session,
    context: Any,
    instance_uuid: str,
    tag: str,
    *,
    vm_states: Sequence[str] | None = INSTANCE_TAG_VM_STATES,
) -> None:
    """Remove *tag* from the instance: InstanceNotFound, InstanceInvalidState (not in
    one of *vm_states*), NotFound when the instance has no such tag."""
    _locked_instance(session, context, instance_uuid, vm_states, "delete a tag of")
    removed = 0
    if instance_tag_problem(tag) is None:  # else it cannot be there (nor be asked for)
        removed = session.execute(
            delete(InstanceTag).where(
                InstanceTag.instance_uuid == instance_uuid, InstanceTag.tag == tag
            )
        ).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise exception.NotFound(f"Instance {instance_uuid} has no tag '{instance_tag_shown(tag)}'")


@_writer
def instance_tag_delete_all(
    session: Session,
    context: Any,
    instance_uuid: str,
    *,
    vm_states: Sequence[str] | None = INSTANCE_TAG_VM_STATES,
) -> None:
    """Remove every tag of the instance: InstanceNotFound, InstanceInvalidState (not in
    one of *vm_states*)."""
    _locked_instance(session, context, instance_uuid, vm_states, "delete the tags of")
    session.execute(delete(InstanceTag).where(InstanceTag.instance_uuid == instance_uuid))
