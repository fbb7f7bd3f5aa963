"""The ``compute_nodes`` table: the hypervisor nodes each nubis-compute host reports.

Create (bringing back a soft-deleted node of the same uuid), read by id, uuid or
host + node name, list, update (a hot path: one keyed ``UPDATE``), soft-delete, and
:func:`compute_node_get_updated_since` for the scheduler's incremental host cache.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _add, _all, _first, _query, _soft_delete_rows, _update_one
from nubis.core.db.api._transaction import _one_statement_writer, _reader, _writer
from nubis.core.db.engine import OneStatement
from nubis.core.db.models import ComputeNode


def _compute_node_get(session: Session, context: Any, compute_id: int) -> ComputeNode:
    node = _first(session, _query(context, ComputeNode, ComputeNode.id == compute_id))
    if node is None:
        raise exception.ComputeNodeNotFound(compute_id=compute_id)
    return node


@_writer
def compute_node_create(session: Session, context: Any, values: Mapping[str, Any]) -> ComputeNode:
    """Create a compute node and return it.

    A soft-deleted node with the same ``uuid`` is brought back (updated with *values*)
    rather than duplicated, as in Nova: a driver reports the same node uuid again after
    its node was deleted as an orphan. ComputeNodeExists if a live node has the uuid or
    the host+hypervisor_hostname.
    """

    def duplicate() -> Exception:
        return exception.ComputeNodeExists(
            host=values.get("host"),
            nodename=values.get("hypervisor_hostname"),
            uuid=values.get("uuid"),
        )

    if values.get("uuid") is not None:
        deleted = _first(
            session,
            select(ComputeNode).where(ComputeNode.uuid == values["uuid"], ComputeNode.deleted != 0),
        )
        if deleted is not None:
            for name, value in values.items():
                setattr(deleted, name, value)
            deleted.deleted = 0
            deleted.deleted_at = None
            return _add(session, deleted, duplicate)
    return _add(session, ComputeNode(**values), duplicate)


@_reader
def compute_node_get(session: Session, context: Any, compute_id: int) -> ComputeNode:
    """Return the compute node with id *compute_id*, or raise ComputeNodeNotFound."""
    return _compute_node_get(session, context, compute_id)


@_reader
def compute_node_get_by_uuid(session: Session, context: Any, compute_uuid: str) -> ComputeNode:
    """Return the compute node with *compute_uuid*, or raise ComputeNodeNotFound."""
    node = _first(session, _query(context, ComputeNode, ComputeNode.uuid == compute_uuid))
    if node is None:
        raise exception.ComputeNodeNotFound(compute_id=compute_uuid)
    return node


@_reader
def compute_node_get_by_host_and_nodename(
    session: Session, context: Any, host: str, nodename: str
) -> ComputeNode:
    """Return *host*'s node *nodename*, or raise ComputeHostNodeNotFound."""
    node = _first(
        session,
        _query(
            context,
            ComputeNode,
            ComputeNode.host == host,
            ComputeNode.hypervisor_hostname == nodename,
        ),
    )
    if node is None:
        raise exception.ComputeHostNodeNotFound(host=host, nodename=nodename)
    return node


@_reader
def compute_node_get_all(session: Session, context: Any) -> list[ComputeNode]:
    """Return every compute node."""
    return _all(session, _query(context, ComputeNode).order_by(ComputeNode.id))


@_reader
def compute_node_get_all_by_host(session: Session, context: Any, host: str) -> list[ComputeNode]:
    """Return *host*'s compute nodes; ComputeHostNotFound if it has none (as in Nova)."""
    nodes = _all(
        session, _query(context, ComputeNode, ComputeNode.host == host).order_by(ComputeNode.id)
    )
    if not nodes:
        raise exception.ComputeHostNotFound(host=host)
    return nodes


@_one_statement_writer
def compute_node_update(
    bind: OneStatement, context: Any, compute_id: int, values: Mapping[str, Any]
) -> ComputeNode:
    """Update a compute node and return it; ComputeNodeNotFound if there is none."""
    node = _update_one(bind, context, ComputeNode, {"id": compute_id}, values)
    if node is None:
        raise exception.ComputeNodeNotFound(compute_id=compute_id)
    return node


@_writer
def compute_node_delete(session: Session, context: Any, compute_id: int) -> None:
    """Soft-delete a compute node; ComputeNodeNotFound if there is no live one."""
    if not _soft_delete_rows(session, ComputeNode, [ComputeNode.id == compute_id]):
        raise exception.ComputeNodeNotFound(compute_id=compute_id)


@_reader
def compute_node_get_updated_since(
    session: Session, context: Any, since: datetime.datetime | None
) -> list[ComputeNode]:
    """Return the compute nodes that changed at or after *since*, for an incremental cache.

    With *since* None: every live node (a first, full read). Otherwise every node whose
    ``created_at``, ``updated_at`` or ``deleted_at`` is at or after *since*, **soft-deleted
    ones included** whatever ``context.read_deleted`` says (their ``deleted`` is
    non-zero), so that a cache learns about deletions too. Ordered by id.

    *since* is compared with timestamps written by the processes that wrote the rows;
    a caller should pass the newest timestamp it has seen minus some slack for clock
    skew between writers and for transactions that commit late, and expect to see some
    rows again.
    """
    if since is None:
        statement = _query(context, ComputeNode, read_deleted="no")
    else:
        statement = select(ComputeNode).where(
            or_(
                ComputeNode.updated_at >= since,
                ComputeNode.created_at >= since,
                ComputeNode.deleted_at >= since,
            )
        )
    return _all(session, statement.order_by(ComputeNode.id))
