"""The tables of the administration of hosts (revision 0013): host aggregates and the
task log of the compute hosts' audits.

Part of the schema of :mod:`nubis.core.db.models`, which imports this module at its end
and re-exports these classes (``models.Aggregate`` ...): they are declared on its
``Base``, so the migrations comparison and every reader of ``Base.metadata`` see them.
None of these tables soft-deletes: an aggregate, its hosts and its metadata are deleted
for real, as in Nova's API database (its views still show ``deleted`` false and
``deleted_at`` null); task log rows are never deleted.
"""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nubis.core.db.models import MYSQL_TABLE_ARGS, UUID_LENGTH, Base, Timestamp


class Aggregate(Base):
    """A host aggregate (``/os-aggregates``): a named group of compute hosts with
    metadata. Its availability zone is its ``availability_zone`` metadata item."""

    __tablename__ = "aggregates"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_aggregates0uuid"),
        UniqueConstraint("name", name="uniq_aggregates0name"),
        # The API names aggregates by id: SQLite must not give a deleted one's id again.
        {**MYSQL_TABLE_ARGS, "sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH))
    name: Mapped[str] = mapped_column(String(255))


class AggregateHost(Base):
    """A compute host (``Service.host``) in an aggregate; a host may be in several."""

    __tablename__ = "aggregate_hosts"
    __table_args__ = (
        UniqueConstraint("host", "aggregate_id", name="uniq_aggregate_hosts0host0aggregate_id"),
        Index("aggregate_hosts_aggregate_id_idx", "aggregate_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    aggregate_id: Mapped[int] = mapped_column(Integer, ForeignKey("aggregates.id"))


class AggregateMetadata(Base):
    """One metadata item of an aggregate (``availability_zone`` among them)."""

    __tablename__ = "aggregate_metadata"
    __table_args__ = (
        UniqueConstraint("aggregate_id", "key", name="uniq_aggregate_metadata0aggregate_id0key"),
        Index("aggregate_metadata_key_idx", "key"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aggregate_id: Mapped[int] = mapped_column(Integer, ForeignKey("aggregates.id"))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))


class TaskLog(Base):
    """One run of a periodic audit task on one host for one period, as Nova's
    ``task_log``: ``state`` is ``RUNNING`` from its start and ``DONE`` once it ended;
    ``task_items`` counts what it audited, ``errors`` what it failed to. One row per
    (task, host, period): a host never runs a task twice for a period."""

    __tablename__ = "task_log"
    __table_args__ = (
        UniqueConstraint(
            "task_name",
            "host",
            "period_beginning",
            "period_ending",
            name="uniq_task_log0task_name0host0period_beginning0period_ending",
        ),
        Index("task_log_period_idx", "period_beginning", "period_ending"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    period_beginning: Mapped[datetime.datetime] = mapped_column(Timestamp)
    period_ending: Mapped[datetime.datetime] = mapped_column(Timestamp)
    message: Mapped[str] = mapped_column(String(255))
    task_items: Mapped[int | None] = mapped_column(Integer, default=0)
    errors: Mapped[int | None] = mapped_column(Integer, default=0)
