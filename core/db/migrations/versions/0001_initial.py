"""Initial nubis schema: services, compute nodes, instances, migrations, flavors,
instance actions and their events, instance faults.

Revision ID: 0001
Revises: none
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _common_columns(soft_delete: bool = True) -> list[sa.Column]:
    columns = [
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
    ]
    if soft_delete:
        columns += [
            sa.Column("deleted_at", _timestamp(), nullable=True),
            sa.Column("deleted", sa.Integer(), nullable=False),
        ]
    return columns


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=True),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(255), nullable=True),
        sa.Column("forced_down", sa.Boolean(), nullable=False),
        sa.Column("last_seen_up", _timestamp(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_services"),
        sa.UniqueConstraint("host", "binary", "deleted", name="uniq_services0host0binary0deleted"),
        sa.UniqueConstraint("uuid", name="uniq_services0uuid"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("services_topic_idx", "services", ["topic"])

    op.create_table(
        "compute_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("hypervisor_hostname", sa.String(255), nullable=True),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("local_gb", sa.Integer(), nullable=False),
        sa.Column("vcpus_used", sa.Integer(), nullable=False),
        sa.Column("memory_mb_used", sa.Integer(), nullable=False),
        sa.Column("local_gb_used", sa.Integer(), nullable=False),
        sa.Column("free_ram_mb", sa.Integer(), nullable=True),
        sa.Column("free_disk_gb", sa.Integer(), nullable=True),
        sa.Column("running_vms", sa.Integer(), nullable=True),
        sa.Column("disk_available_least", sa.Integer(), nullable=True),
        sa.Column("hypervisor_type", sa.String(255), nullable=True),
        sa.Column("hypervisor_version", sa.Integer(), nullable=True),
        sa.Column("cpu_info", sa.Text(), nullable=True),
        sa.Column("host_ip", sa.String(39), nullable=True),
        sa.Column("stats", sa.Text(), nullable=True),
        sa.Column("supported_instances", sa.Text(), nullable=True),
        sa.Column("cpu_allocation_ratio", sa.Double(), nullable=True),
        sa.Column("ram_allocation_ratio", sa.Double(), nullable=True),
        sa.Column("disk_allocation_ratio", sa.Double(), nullable=True),
        sa.Column("mapped", sa.Integer(), nullable=False),
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_compute_nodes"),
        sa.UniqueConstraint(
            "host",
            "hypervisor_hostname",
            "deleted",
            name="uniq_compute_nodes0host0hypervisor_hostname0deleted",
        ),
        sa.UniqueConstraint("uuid", name="uniq_compute_nodes0uuid"),
        **MYSQL_TABLE_ARGS,
    )

    op.create_table(
        "instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(255), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("node", sa.String(255), nullable=True),
        sa.Column("launched_on", sa.String(255), nullable=True),
        sa.Column("image_ref", sa.String(255), nullable=True),
        sa.Column("flavor_id", sa.Integer(), nullable=True),
        sa.Column("memory_mb", sa.Integer(), nullable=True),
        sa.Column("vcpus", sa.Integer(), nullable=True),
        sa.Column("root_gb", sa.Integer(), nullable=True),
        sa.Column("ephemeral_gb", sa.Integer(), nullable=True),
        sa.Column("vm_state", sa.String(255), nullable=True),
        sa.Column("task_state", sa.String(255), nullable=True),
        sa.Column("power_state", sa.Integer(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=True),
        sa.Column("scheduled_at", _timestamp(), nullable=True),
        sa.Column("launched_at", _timestamp(), nullable=True),
        sa.Column("terminated_at", _timestamp(), nullable=True),
        sa.Column("availability_zone", sa.String(255), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("locked_by", sa.String(255), nullable=True),
        sa.Column("system_metadata", sa.Text(), nullable=True),
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_instances"),
        sa.UniqueConstraint("uuid", name="uniq_instances0uuid"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("instances_host_node_deleted_idx", "instances", ["host", "node", "deleted"])
    op.create_index("instances_project_id_deleted_idx", "instances", ["project_id", "deleted"])

    op.create_table(
        "migrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("source_compute", sa.String(255), nullable=True),
        sa.Column("dest_compute", sa.String(255), nullable=True),
        sa.Column("source_node", sa.String(255), nullable=True),
        sa.Column("dest_node", sa.String(255), nullable=True),
        sa.Column("dest_host", sa.String(255), nullable=True),
        sa.Column("old_flavor_id", sa.Integer(), nullable=True),
        sa.Column("new_flavor_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(255), nullable=True),
        sa.Column("migration_type", sa.String(255), nullable=True),
        sa.Column("instance_uuid", sa.String(36), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(255), nullable=True),
        sa.Column("memory_total", sa.BigInteger(), nullable=True),
        sa.Column("memory_processed", sa.BigInteger(), nullable=True),
        sa.Column("memory_remaining", sa.BigInteger(), nullable=True),
        sa.Column("disk_total", sa.BigInteger(), nullable=True),
        sa.Column("disk_processed", sa.BigInteger(), nullable=True),
        sa.Column("disk_remaining", sa.BigInteger(), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_migrations"),
        sa.UniqueConstraint("uuid", name="uniq_migrations0uuid"),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["instances.uuid"],
            name="fk_migrations_instance_uuid_instances",
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "migrations_source_idx", "migrations", ["source_compute", "source_node", "status"]
    )
    op.create_index("migrations_dest_idx", "migrations", ["dest_compute", "dest_node", "status"])
    op.create_index(
        "migrations_instance_uuid_and_status_idx",
        "migrations",
        ["instance_uuid", "deleted", "status"],
    )

    op.create_table(
        "flavors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flavorid", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("root_gb", sa.Integer(), nullable=True),
        sa.Column("ephemeral_gb", sa.Integer(), nullable=True),
        sa.Column("swap", sa.Integer(), nullable=False),
        sa.Column("rxtx_factor", sa.Double(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *_common_columns(soft_delete=False),
        sa.PrimaryKeyConstraint("id", name="pk_flavors"),
        sa.UniqueConstraint("flavorid", name="uniq_flavors0flavorid"),
        sa.UniqueConstraint("name", name="uniq_flavors0name"),
        **MYSQL_TABLE_ARGS,
    )

    op.create_table(
        "instance_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(255), nullable=True),
        sa.Column("instance_uuid", sa.String(36), nullable=True),
        sa.Column("request_id", sa.String(255), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(255), nullable=True),
        sa.Column("start_time", _timestamp(), nullable=True),
        sa.Column("finish_time", _timestamp(), nullable=True),
        sa.Column("message", sa.String(255), nullable=True),
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_instance_actions"),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["instances.uuid"],
            name="fk_instance_actions_instance_uuid_instances",
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "instance_actions_instance_uuid_request_id_idx",
        "instance_actions",
        ["instance_uuid", "request_id"],
    )

    op.create_table(
        "instance_actions_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(255), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("start_time", _timestamp(), nullable=True),
        sa.Column("finish_time", _timestamp(), nullable=True),
        sa.Column("result", sa.String(255), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_instance_actions_events"),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["instance_actions.id"],
            name="fk_instance_actions_events_action_id_instance_actions",
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "instance_actions_events_action_id_idx", "instance_actions_events", ["action_id"]
    )

    op.create_table(
        "instance_faults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=True),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(255), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_instance_faults"),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["instances.uuid"],
            name="fk_instance_faults_instance_uuid_instances",
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "instance_faults_instance_uuid_deleted_created_at_idx",
        "instance_faults",
        ["instance_uuid", "deleted", "created_at"],
    )


def downgrade() -> None:
    for table in (
        "instance_faults",
        "instance_actions_events",
        "instance_actions",
        "flavors",
        "migrations",
        "instances",
        "compute_nodes",
        "services",
    ):
        op.drop_table(table)
