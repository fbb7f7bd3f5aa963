"""The nubis database schema as SQLAlchemy 2 declarative models.

These classes are the one definition of the schema: the Alembic revisions in
:mod:`nubis.core.db.migrations` must create exactly this (a test compares them on
every supported database). Rows leave :mod:`nubis.core.db.api` as detached instances
of these classes with every column loaded; there are no relationships, so nothing is
ever lazily loaded from a closed session.

Conventions:

* every table has ``created_at`` (set on insert) and ``updated_at`` (set on update);
* tables with :class:`SoftDeleteMixin` are soft-deleted the Nova way: ``deleted`` is 0
  for a live row and the row's own ``id`` once deleted (so unique constraints that
  include ``deleted`` allow any number of deleted duplicates), ``deleted_at`` says when;
* times are naive UTC datetimes (microseconds kept on every backend);
* columns documented as JSON hold JSON text: callers serialize, this layer stores;
* every soft-deleting table has a shadow table ``shadow_<name>`` (:data:`SHADOW_TABLES`,
  generated from the model at the end of this module) that
  :mod:`nubis.core.db.api.archive` moves deleted rows into.
"""

from __future__ import annotations

import datetime
from typing import Any

from oslo_utils import timeutils, uuidutils
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uniq_%(table_name)s0%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
"""A naive UTC datetime; MariaDB/MySQL keep microseconds (DATETIME(6))."""

MYSQL_TABLE_ARGS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

UUID_LENGTH = 36


class Base(DeclarativeBase):
    """Declarative base of every nubis table: ``created_at`` and ``updated_at`` on each."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    created_at: Mapped[datetime.datetime | None] = mapped_column(
        Timestamp, default=timeutils.utcnow, sort_order=100
    )
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        Timestamp, onupdate=timeutils.utcnow, sort_order=100
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the row's column values keyed by column name."""
        return {column.key: getattr(self, column.key) for column in self.__table__.columns}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={getattr(self, 'id', None)!r}>"


class SoftDeleteMixin:
    """``deleted`` (0, or the row's id once deleted) and ``deleted_at``."""

    deleted_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, sort_order=100)
    deleted: Mapped[int] = mapped_column(Integer, default=0, sort_order=100)


class Service(SoftDeleteMixin, Base):
    """A running nubis service binary on a host, with its liveness counters."""

    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("host", "binary", "deleted", name="uniq_services0host0binary0deleted"),
        UniqueConstraint("uuid", name="uniq_services0uuid"),
        Index("services_topic_idx", "topic"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), default=uuidutils.generate_uuid)
    host: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str | None] = mapped_column(String(255))
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_up: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    version: Mapped[int] = mapped_column(Integer, default=0)


class ComputeNode(SoftDeleteMixin, Base):
    """One hypervisor node a compute service manages, with its resource inventory.

    ``cpu_info`` is free text from the driver; ``stats`` and ``supported_instances``
    are JSON text.
    """

    __tablename__ = "compute_nodes"
    __table_args__ = (
        UniqueConstraint(
            "host",
            "hypervisor_hostname",
            "deleted",
            name="uniq_compute_nodes0host0hypervisor_hostname0deleted",
        ),
        UniqueConstraint("uuid", name="uniq_compute_nodes0uuid"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), default=uuidutils.generate_uuid)
    service_id: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    hypervisor_hostname: Mapped[str | None] = mapped_column(String(255))
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    local_gb: Mapped[int] = mapped_column(Integer, default=0)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    free_ram_mb: Mapped[int | None] = mapped_column(Integer)
    free_disk_gb: Mapped[int | None] = mapped_column(Integer)
    running_vms: Mapped[int | None] = mapped_column(Integer)
    disk_available_least: Mapped[int | None] = mapped_column(Integer)
    hypervisor_type: Mapped[str | None] = mapped_column(String(255))
    hypervisor_version: Mapped[int | None] = mapped_column(Integer)
    cpu_info: Mapped[str | None] = mapped_column(Text)
    host_ip: Mapped[str | None] = mapped_column(String(39))
    stats: Mapped[str | None] = mapped_column(Text)
    supported_instances: Mapped[str | None] = mapped_column(Text)
    cpu_allocation_ratio: Mapped[float | None] = mapped_column(Double)
    ram_allocation_ratio: Mapped[float | None] = mapped_column(Double)
    disk_allocation_ratio: Mapped[float | None] = mapped_column(Double)
    mapped: Mapped[int] = mapped_column(Integer, default=0)


class Instance(SoftDeleteMixin, Base):
    """A guest: where it runs, what it was given and what state it is in.

    ``flavor_id`` is the flavor's internal ``flavors.id`` when the instance was built
    (no foreign key: a flavor can be deleted while instances of it live on).
    ``user_metadata`` (the API's ``metadata``: the user's key/value pairs) and
    ``system_metadata`` (nubis's own) are JSON text. ``key_data`` is the public key of
    ``key_name`` when the server was made. The index on (host, node, deleted) also
    serves look-ups by host alone.
    """

    __tablename__ = "instances"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_instances0uuid"),
        Index("instances_host_node_deleted_idx", "host", "node", "deleted"),
        Index("instances_project_id_deleted_idx", "project_id", "deleted"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), default=uuidutils.generate_uuid)
    display_name: Mapped[str | None] = mapped_column(String(255))
    hostname: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))
    node: Mapped[str | None] = mapped_column(String(255))
    launched_on: Mapped[str | None] = mapped_column(String(255))
    image_ref: Mapped[str | None] = mapped_column(String(255))
    flavor_id: Mapped[int | None] = mapped_column(Integer)
    memory_mb: Mapped[int | None] = mapped_column(Integer)
    vcpus: Mapped[int | None] = mapped_column(Integer)
    root_gb: Mapped[int | None] = mapped_column(Integer)
    ephemeral_gb: Mapped[int | None] = mapped_column(Integer)
    vm_state: Mapped[str | None] = mapped_column(String(255))
    task_state: Mapped[str | None] = mapped_column(String(255))
    power_state: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[int | None] = mapped_column(Integer)
    scheduled_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    launched_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    terminated_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_by: Mapped[str | None] = mapped_column(String(255))
    system_metadata: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    user_metadata: Mapped[str | None] = mapped_column(Text)
    key_name: Mapped[str | None] = mapped_column(String(255))
    key_data: Mapped[str | None] = mapped_column(Text)
    access_ip_v4: Mapped[str | None] = mapped_column(String(39))
    access_ip_v6: Mapped[str | None] = mapped_column(String(39))
    reservation_id: Mapped[str | None] = mapped_column(String(255))


class Migration(SoftDeleteMixin, Base):
    """A move of an instance between hosts (cold or live), with its progress.

    Two indexes serve "migrations touching this host and node", one per side.
    """

    __tablename__ = "migrations"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_migrations0uuid"),
        Index("migrations_source_idx", "source_compute", "source_node", "status"),
        Index("migrations_dest_idx", "dest_compute", "dest_node", "status"),
        Index("migrations_instance_uuid_and_status_idx", "instance_uuid", "deleted", "status"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), default=uuidutils.generate_uuid)
    source_compute: Mapped[str | None] = mapped_column(String(255))
    dest_compute: Mapped[str | None] = mapped_column(String(255))
    source_node: Mapped[str | None] = mapped_column(String(255))
    dest_node: Mapped[str | None] = mapped_column(String(255))
    dest_host: Mapped[str | None] = mapped_column(String(255))
    old_flavor_id: Mapped[int | None] = mapped_column(Integer)
    new_flavor_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(255))
    migration_type: Mapped[str | None] = mapped_column(String(255))
    instance_uuid: Mapped[str | None] = mapped_column(
        String(UUID_LENGTH), ForeignKey("instances.uuid")
    )
    user_id: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    memory_total: Mapped[int | None] = mapped_column(BigInteger)
    memory_processed: Mapped[int | None] = mapped_column(BigInteger)
    memory_remaining: Mapped[int | None] = mapped_column(BigInteger)
    disk_total: Mapped[int | None] = mapped_column(BigInteger)
    disk_processed: Mapped[int | None] = mapped_column(BigInteger)
    disk_remaining: Mapped[int | None] = mapped_column(BigInteger)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class Flavor(Base):
    """A named size of instance. Flavors are deleted for real, not soft-deleted."""

    __tablename__ = "flavors"
    __table_args__ = (
        UniqueConstraint("flavorid", name="uniq_flavors0flavorid"),
        UniqueConstraint("name", name="uniq_flavors0name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flavorid: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    memory_mb: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int | None] = mapped_column(Integer)
    ephemeral_gb: Mapped[int | None] = mapped_column(Integer)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float | None] = mapped_column(Double, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)


class FlavorExtraSpec(Base):
    """One extra spec (a free-form key/value pair) of a flavor, as Nova keeps them
    (revision 0009); removed with its flavor."""

    __tablename__ = "flavor_extra_specs"
    __table_args__ = (
        UniqueConstraint("flavor_id", "key", name="uniq_flavor_extra_specs0flavor_id0key"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flavor_id: Mapped[int] = mapped_column(Integer, ForeignKey("flavors.id"))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(255))


class FlavorProject(Base):
    """A project given access to a private flavor (revision 0009)."""

    __tablename__ = "flavor_projects"
    __table_args__ = (
        UniqueConstraint(
            "flavor_id", "project_id", name="uniq_flavor_projects0flavor_id0project_id"
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flavor_id: Mapped[int] = mapped_column(Integer, ForeignKey("flavors.id"))
    project_id: Mapped[str] = mapped_column(String(255))


class InstanceTag(Base):
    """One tag of a server (``/servers/{id}/tags``, 2.26), as Nova keeps them: the pair
    is the key (revision 0010). Removed, not soft-deleted, with its server."""

    __tablename__ = "instance_tags"
    __table_args__ = (Index("instance_tags_tag_idx", "tag"), MYSQL_TABLE_ARGS)

    instance_uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    tag: Mapped[str] = mapped_column(String(80), primary_key=True)


class InstanceGroup(Base):
    """A server group (``/os-server-groups``): whose it is and the one policy its
    servers are placed by (revision 0012). ``rules`` is JSON (an object; Nova's
    ``max_server_per_host`` of anti-affinity). Deleted for real, with its members."""

    __tablename__ = "instance_groups"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_instance_groups0uuid"),
        Index("instance_groups_project_id_idx", "project_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH))
    name: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(255))
    rules: Mapped[str | None] = mapped_column(Text)


class InstanceGroupMember(Base):
    """A server in a server group (revision 0012): a server is in one group at most.
    There is no foreign key to ``instances``: the membership is removed, not
    soft-deleted, when its server is deleted or archived."""

    __tablename__ = "instance_group_members"
    __table_args__ = (
        UniqueConstraint("instance_uuid", name="uniq_instance_group_members0instance_uuid"),
        Index("instance_group_members_group_id_idx", "group_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer, ForeignKey("instance_groups.id"))
    instance_uuid: Mapped[str] = mapped_column(String(UUID_LENGTH))


class Quota(Base):
    """A project's own limit of one resource, overriding the defaults (revision 0011)."""

    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("project_id", "resource", name="uniq_quotas0project_id0resource"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class ProjectUserQuota(Base):
    """A user's limit of one resource within a project (revision 0011)."""

    __tablename__ = "project_user_quotas"
    __table_args__ = (
        UniqueConstraint(
            "project_id",
            "user_id",
            "resource",
            name="uniq_project_user_quotas0project_id0user_id0resource",
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaClass(Base):
    """A quota class's limit of one resource; the class ``default`` overrides the
    configured defaults of every project (revision 0011)."""

    __tablename__ = "quota_classes"
    __table_args__ = (
        UniqueConstraint(
            "class_name", "resource", name="uniq_quota_classes0class_name0resource"
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_name: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class InstanceAction(SoftDeleteMixin, Base):
    """A user- or system-initiated action on an instance, one per request id."""

    __tablename__ = "instance_actions"
    __table_args__ = (
        Index("instance_actions_instance_uuid_request_id_idx", "instance_uuid", "request_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str | None] = mapped_column(String(255))
    instance_uuid: Mapped[str | None] = mapped_column(
        String(UUID_LENGTH), ForeignKey("instances.uuid")
    )
    request_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    start_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    message: Mapped[str | None] = mapped_column(String(255))


class InstanceActionEvent(SoftDeleteMixin, Base):
    """One step of an action (e.g. ``compute_live_migration``) and how it ended."""

    __tablename__ = "instance_actions_events"
    __table_args__ = (
        Index("instance_actions_events_action_id_idx", "action_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str | None] = mapped_column(String(255))
    action_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("instance_actions.id"))
    start_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    result: Mapped[str | None] = mapped_column(String(255))
    traceback: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[str | None] = mapped_column(Text)


class InstanceFault(SoftDeleteMixin, Base):
    """An error recorded against an instance."""

    __tablename__ = "instance_faults"
    __table_args__ = (
        Index(
            "instance_faults_instance_uuid_deleted_created_at_idx",
            "instance_uuid",
            "deleted",
            "created_at",
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str | None] = mapped_column(
        String(UUID_LENGTH), ForeignKey("instances.uuid")
    )
    code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))


SOFT_DELETE_MODELS: tuple[type[Base], ...] = (
    Service,
    ComputeNode,
    Instance,
    Migration,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
)


class KeyPair(Base):
    """An SSH public key or X.509 certificate a user keeps by name (``/os-keypairs``).

    Names are unique per user; ``fingerprint`` is the MD5 of an SSH key's blob or the
    SHA-1 of a certificate, in colon-separated hex, as Nova makes them. Deleted key
    pairs are removed, not soft-deleted: nothing refers to them by id.
    """

    __tablename__ = "key_pairs"
    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uniq_key_pairs0user_id0name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(10), default="ssh")


class Image(Base):
    """An image of the local image registry; its file is ``<images_path>/<uuid>``.

    Created ``queued`` with no data (``size``, ``disk_format`` and ``container_format``
    may be null until then), ``active`` once its file is in place. Names need not be
    unique (as in Glance). ``checksum`` is the MD5 of the file (Glance's legacy field),
    ``os_hash_value`` its SHA-512. ``owner`` is a project id, or None for images the
    operator imported for everyone. Tags and extra properties are rows of
    :class:`ImageTag` and :class:`ImageProperty`.
    """

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_images0uuid"),
        Index("images_name_idx", "name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), default=uuidutils.generate_uuid)
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(30), default="active")
    disk_format: Mapped[str | None] = mapped_column(String(30))
    container_format: Mapped[str | None] = mapped_column(String(30))
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    owner: Mapped[str | None] = mapped_column(String(255))
    visibility: Mapped[str] = mapped_column(String(20), default="public")
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)


class ImageTag(Base):
    """One tag of an image."""

    __tablename__ = "image_tags"
    __table_args__ = (
        UniqueConstraint("image_id", "value", name="uniq_image_tags0image_id0value"),
        Index("image_tags_value_idx", "value"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(Integer, ForeignKey("images.id"))
    value: Mapped[str] = mapped_column(String(255))


class ImageProperty(Base):
    """One extra (string) property of an image, Glance's ``additionalProperties``."""

    __tablename__ = "image_properties"
    __table_args__ = (
        UniqueConstraint("image_id", "name", name="uniq_image_properties0image_id0name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(Integer, ForeignKey("images.id"))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)


class IdentityProject(Base):
    """A project of the local identity service (``[api] auth_strategy = local``)."""

    __tablename__ = "identity_projects"
    __table_args__ = (
        UniqueConstraint("name", name="uniq_identity_projects0name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[str | None] = mapped_column(Text)
    """JSON object: attributes Keystone allows that have no column (revision 0006)."""


class IdentityUser(Base):
    """A user of the local identity service; ``password_hash`` is an argon2 hash.

    ``tokens_valid_after`` (revision 0003): tokens issued before it are revoked (set when
    the password changes or the user is disabled). ``failed_auth_count`` and
    ``failed_auth_at``: consecutive failed password checks and the last one's time
    (Keystone's lockout bookkeeping), reset by a successful one. ``extra`` (revision
    0006): a JSON object of the other attributes (``email``, ``description``, ...).
    """

    __tablename__ = "identity_users"
    __table_args__ = (UniqueConstraint("name", name="uniq_identity_users0name"), MYSQL_TABLE_ARGS)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64))
    tokens_valid_after: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    failed_auth_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_auth_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    extra: Mapped[str | None] = mapped_column(Text)


class IdentityRole(Base):
    """A role created through the identity API (revision 0006); its id is its name.
    The default roles (``admin``, ``member``, ``reader``) exist without a row."""

    __tablename__ = "identity_roles"
    __table_args__ = (UniqueConstraint("name", name="uniq_identity_roles0name"), MYSQL_TABLE_ARGS)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)


class IdentityRoleAssignment(Base):
    """A role a user holds on a project (``admin``, ``member``, ``reader`` ...)."""

    __tablename__ = "identity_role_assignments"
    __table_args__ = (
        UniqueConstraint(
            "user_id",
            "project_id",
            "role",
            name="uniq_identity_role_assignments0user_id0project_id0role",
        ),
        Index("identity_role_assignments_project_id_idx", "project_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("identity_users.id"))
    project_id: Mapped[str] = mapped_column(String(64), ForeignKey("identity_projects.id"))
    role: Mapped[str] = mapped_column(String(64))


SHADOW_TABLE_PREFIX = "shadow_"


def _shadow_table(table: Table) -> Table:
    """``shadow_<name>`` of *table*: every column of it with the same name, type and
    nullability, and nothing else -- no primary key, unique constraint, foreign key,
    default or index of it -- plus a plain index on ``id``.

    ``id`` is not unique there: SQLite gives a new row the id of the highest row once
    that row has been archived (no AUTOINCREMENT), so one id may be archived twice.
    """
    columns = [
        Column(column.name, column.type, nullable=column.nullable, autoincrement=False)
        for column in table.columns
    ]
    name = SHADOW_TABLE_PREFIX + table.name
    options: dict[str, Any] = dict(MYSQL_TABLE_ARGS)
    return Table(name, Base.metadata, *columns, Index(f"{name}_id_idx", "id"), **options)


SHADOW_TABLES: dict[str, Table] = {
    model.__tablename__: _shadow_table(Base.metadata.tables[model.__tablename__])
    for model in SOFT_DELETE_MODELS
}
"""The shadow table of each soft-deleting table, keyed by the source table's name."""

# The tables of the administration of hosts (aggregates, the task log) are declared in a
# module of their own on this Base; importing it here puts them in Base.metadata for
# every reader of the schema. Import them from this module, not from that one.
from nubis.core.db.models_hosts import (  # noqa: E402, F401
    Aggregate,
    AggregateHost,
    AggregateMetadata,
    TaskLog,
)
