"""The ``instance_faults`` table: record a fault and read the faults of many instances."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from nubis.core.db.api._rows import _query
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import InstanceFault


@_writer
def instance_fault_create(
    session: Session, context: Any, values: Mapping[str, Any]
) -> InstanceFault:
    """Record a fault (instance_uuid, code, message, details, host) and return it."""
    fault = InstanceFault(**values)
    session.add(fault)
    session.flush()
    return fault


@_reader
def instance_fault_get_by_instance_uuids(
    session: Session, context: Any, instance_uuids: Iterable[str], latest: bool = False
) -> dict[str, list[InstanceFault]]:
    """Return {instance uuid: its faults, newest first} with a key for every uuid asked.

    With ``latest=True`` each list holds at most the newest fault.
    """
    uuids = list(instance_uuids)
    faults: dict[str, list[InstanceFault]] = {uuid: [] for uuid in uuids}
    if not uuids:
        return faults
    statement = _query(context, InstanceFault, InstanceFault.instance_uuid.in_(uuids)).order_by(
        InstanceFault.created_at.desc(), InstanceFault.id.desc()
    )
    for fault in session.scalars(statement):
        found = faults[str(fault.instance_uuid)]
        if not latest or not found:
            found.append(fault)
    return faults
