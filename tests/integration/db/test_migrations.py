"""The Alembic migrations, run on SQLite, PostgreSQL and MariaDB, create exactly the models."""

import sqlalchemy
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from nubis.core.db import engine, migration, models


def _table_names() -> set[str]:
    return set(sqlalchemy.inspect(engine.get_engine()).get_table_names())


def test_upgrade_from_an_empty_database(empty_db_url):
    assert migration.db_version() is None
    assert _table_names() == set()

    migration.db_sync()

    assert migration.db_version() == migration.head_version() == "0013"
    assert _table_names() == set(models.Base.metadata.tables) | {"alembic_version"}


def _differences(metadata: sqlalchemy.MetaData) -> list:
    with engine.get_engine().connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_models_and_migrations_agree(empty_db_url):
    migration.db_sync()
    assert _differences(models.Base.metadata) == []


def test_the_comparison_sees_a_changed_schema(empty_db_url):
    migration.db_sync()
    changed = sqlalchemy.MetaData(naming_convention=models.NAMING_CONVENTION)
    for table in models.Base.metadata.sorted_tables:
        table.to_metadata(changed)
    instances = changed.tables["instances"]
    instances.indexes = {
        index for index in instances.indexes if index.name != "instances_host_node_deleted_idx"
    }
    instances.append_column(sqlalchemy.Column("extra", sqlalchemy.Integer))
    kinds = {change[0] for change in _differences(changed) if isinstance(change, tuple)}
    assert {"remove_index", "add_column"} <= kinds


def test_downgrade_to_base_and_upgrade_again(empty_db_url):
    migration.db_sync()
    with engine.get_engine().begin() as connection:
        command.downgrade(migration.alembic_config(connection), "base")
    assert migration.db_version() is None
    assert _table_names() == {"alembic_version"}
    migration.db_sync()
    assert migration.db_version() == migration.head_version()


def test_0003_keeps_users_and_their_role_assignments(empty_db_url):
    from oslo_utils import timeutils

    from nubis.core.context import get_admin_context
    from nubis.core.db import api as db_api

    with engine.get_engine().begin() as connection:
        command.upgrade(migration.alembic_config(connection), "0002")
    with engine.get_engine().begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO identity_projects (id, name, enabled) VALUES ('p1', 'demo', :on)"
            ),
            {"on": True},
        )
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO identity_users (id, name, password_hash, enabled) "
                "VALUES ('u1', 'dana', 'hash', :on)"
            ),
            {"on": True},
        )
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO identity_role_assignments (user_id, project_id, role) "
                "VALUES ('u1', 'p1', 'member')"
            )
        )
    migration.db_sync()
    assert migration.db_version() == migration.head_version()
    ctx = get_admin_context()
    user = db_api.identity_user_get(ctx, "dana")
    assert user.password_hash == "hash" and user.failed_auth_count == 0
    assert user.tokens_valid_after is None and user.failed_auth_at is None
    assert [a.role for a in db_api.identity_role_assignments_get(ctx, user_id="u1")] == ["member"]
    assert db_api.identity_user_auth_failed(ctx, "u1", timeutils.utcnow()).failed_auth_count == 1
    assert db_api.identity_user_auth_failed(ctx, "u1", timeutils.utcnow()).failed_auth_count == 2


def test_0008_moves_the_users_metadata_out_of_system_metadata(empty_db_url):
    import json

    with engine.get_engine().begin() as connection:
        command.upgrade(migration.alembic_config(connection), "0007")
    with engine.get_engine().begin() as connection:
        for table, uuid in (("instances", "i-live"), ("shadow_instances", "i-gone")):
            connection.execute(
                sqlalchemy.text(
                    f"INSERT INTO {table} (id, uuid, deleted, locked, system_metadata) "
                    "VALUES (7, :uuid, 0, :off, :meta)"
                ),
                {
                    "uuid": uuid,
                    "off": False,
                    "meta": json.dumps({"role": "web", "nubis_build_resends": "1"}),
                },
            )
    migration.db_sync()
    with engine.get_engine().connect() as connection:
        for table in ("instances", "shadow_instances"):
            system, user = connection.execute(
                sqlalchemy.text(f"SELECT system_metadata, user_metadata FROM {table}")
            ).one()
            assert json.loads(system) == {"nubis_build_resends": "1"}, table
            assert json.loads(user) == {"role": "web"}, table
