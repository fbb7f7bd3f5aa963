"""A server's user metadata (``instances.user_metadata``, revision 0008), changed in
one transaction with the instance row locked, so that concurrent requests each see the
other's keys: no change is lost to a read-modify-write race.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _update_rows
from nubis.core.db.api._transaction import _writer
from nubis.core.db.api.instances import _instance_get_by_uuid
from nubis.core.db.models import Instance

#: The vm states in which a server's metadata may change (with no task running), Nova's.
METADATA_VM_STATES = ("active", "paused", "suspended", "stopped")


@_writer
def instance_metadata_update(
    session: Session,
    context: Any,
    instance_uuid: str,
    *,
    items: Mapping[str, str] | None = None,
    replace: bool = False,
    delete: str | None = None,
    max_items: int = -1,
) -> dict[str, str]:
    """Change a server's metadata and return all of it.

    *items* are set (all of the metadata when *replace*), or the key *delete* is removed
    (MetadataItemNotFound when absent). More than *max_items* keys (unless negative)
    raise MetadataLimitExceeded. A server that is busy (a task running) or not in one of
    :data:`METADATA_VM_STATES` raises InstanceInvalidState; an unknown one
    InstanceNotFound.
    """
    row = _instance_get_by_uuid(session, context, instance_uuid, for_update=True)
    if row.task_state is not None or row.vm_state not in METADATA_VM_STATES:
        raise exception.InstanceInvalidState(
            action="update the metadata of",
            instance_uuid=instance_uuid,
            state=f"{row.vm_state} (task {row.task_state})",
            expected=f"{', '.join(METADATA_VM_STATES)} with no task running",
        )
    metadata: dict[str, str] = {} if replace else dict(json.loads(row.user_metadata or "{}"))
    if delete is not None:
        if delete not in metadata:
            raise exception.MetadataItemNotFound(key=delete)
        del metadata[delete]
    metadata.update(items or {})
    if 0 <= max_items < len(metadata):
        raise exception.MetadataLimitExceeded(allowed=max_items)
    _update_rows(
        session,
        context,
        Instance,
        [Instance.uuid == instance_uuid],
        {"user_metadata": json.dumps(metadata)},
    )
    return metadata
