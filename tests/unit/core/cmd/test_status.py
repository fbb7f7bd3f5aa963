"""The checks of ``nubis-status upgrade check``, run in this process on real databases.

SQLite files for most; the schema check also on the machine's PostgreSQL and MariaDB
(``db_backend``). Service records are rows written through the DB API. The real
binary is run by tests/functional/test_status.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_upgradecheck.upgradecheck import Code

from nubis.core import binaries, version
from nubis.core.cmd import status
from nubis.core.conf import CONF
from nubis.core.db import api, engine, migration
from tests.fixtures.silent_server import hang_up_server, silent_server

CURRENT = version.SERVICE_VERSION


def previous_revision() -> str:
    script = ScriptDirectory.from_config(migration.alembic_config())
    head = script.get_revision(migration.head_version() or "")
    assert isinstance(head.down_revision, str), "the schema needs two revisions for this test"
    return head.down_revision


def add_service(context, host: str, binary: str, service_version: int, **extra):
    topic = binary.removeprefix("nubis-")
    values = {"host": host, "binary": binary, "topic": topic, "version": service_version}
    return api.service_create(context, {**values, **extra})


def verdict(result: status.Result) -> tuple[Code, str]:
    assert result.details is not None and "\n" not in result.details
    return result.code, result.details


@pytest.fixture
def commands() -> status.UpgradeCommands:
    return status.UpgradeCommands(CONF, database_timeout=30)


@pytest.fixture
def unreachable(flags) -> Iterator[None]:
    yield
    engine.reset()


# --- the whole check ---------------------------------------------------------------------


def test_a_deployment_at_head_with_current_services_passes(
    sqlite_db_url, admin_context, commands, capsys
) -> None:
    for binary in (binaries.CONDUCTOR, binaries.SCHEDULER, binaries.COMPUTE):
        add_service(admin_context, "h1", binary, CURRENT)
    assert commands.check() == Code.SUCCESS
    table = capsys.readouterr().out
    assert table.count("Result: Success") == len(commands._upgrade_checks) == 6
    assert "Check: Database schema" in table


def test_a_bad_cap_fails_the_whole_check(sqlite_db_url, flags, commands) -> None:
    flags(group="upgrade_levels", compute="3.0")
    assert commands.check() == Code.FAILURE


# --- database schema ---------------------------------------------------------------------


def test_schema_behind_then_at_head_on_every_backend(empty_db_url, admin_context) -> None:
    with engine.get_engine().connect():  # an empty SQLite file, as a first connect makes it
        pass
    commands = status.UpgradeCommands(CONF, database_timeout=30)
    code, details = verdict(commands._check_schema())
    assert code == Code.FAILURE
    assert details.startswith("The database has no nubis schema (newest revision: ")
    assert details.endswith("Run: nubis-manage db sync")
    assert verdict(commands._check_services())[0] == Code.FAILURE

    migration.db_sync(previous_revision())
    head = migration.head_version()
    commands = status.UpgradeCommands(CONF, database_timeout=30)
    assert verdict(commands._check_schema()) == (
        Code.FAILURE,
        f"Schema at revision {previous_revision()}, 1 behind the newest, {head}. "
        "Run: nubis-manage db sync",
    )
    migration.db_sync()
    commands = status.UpgradeCommands(CONF, database_timeout=30)
    assert verdict(commands._check_schema()) == (
        Code.SUCCESS,
        f"Schema at revision {head}, the newest.",
    )


def test_a_database_newer_than_the_code_fails(sqlite_db_url, commands) -> None:
    with engine.get_engine().begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    code, details = verdict(commands._check_schema())
    assert code == Code.FAILURE
    assert "at revision 9999, which this code does not know" in details


def test_a_missing_sqlite_file_is_reported_and_not_created(flags, tmp_path: Path) -> None:
    path = tmp_path / "absent" / "nubis.sqlite"
    flags(group="database", connection=f"sqlite:///{path}")
    commands = status.UpgradeCommands(CONF)
    assert verdict(commands._check_schema()) == (
        Code.FAILURE,
        f"Cannot read the database: the SQLite database {path} ([database] connection) "
        "does not exist. Fix [database] connection, or create the database: nubis-manage "
        "db sync.",
    )
    assert not path.parent.exists()


def test_a_url_that_does_not_parse_is_one_line(flags) -> None:
    flags(group="database", connection="not a url")
    code, details = verdict(status.UpgradeCommands(CONF)._check_schema())
    assert code == Code.FAILURE
    assert "not a url ([database] connection) is not a database URL" in details


def test_a_server_that_never_answers_fails_within_the_timeout(unreachable, flags) -> None:
    with silent_server() as (host, port):
        flags(group="database", connection=f"postgresql://nubis:secret@{host}:{port}/nubis")
        started = time.monotonic()
        state = status.read_database(CONF, timeout=0.5)
        elapsed = time.monotonic() - started
    assert state.problem == (
        f"no answer from the database postgresql://nubis:***@{host}:{port}/nubis "
        "([database] connection) within 0.5 s"
    )
    assert 0.5 <= elapsed < 5


def test_a_server_that_hangs_up_is_one_line_naming_the_url(unreachable, flags) -> None:
    with hang_up_server() as (host, port):
        flags(group="database", connection=f"mysql+pymysql://nubis:secret@{host}:{port}/nubis")
        state = status.read_database(CONF, timeout=30)
    assert state.problem is not None
    assert state.problem.startswith(
        f"cannot use the database mysql+pymysql://nubis:***@{host}:{port}/nubis "
        "([database] connection): "
    )
    assert "\n" not in state.problem and "secret" not in state.problem


def test_an_error_that_is_not_the_databases_is_raised(sqlite_db_url, monkeypatch) -> None:
    # A bug in reading must surface (oslo.upgradecheck exits 255 with the traceback),
    # not pass for an unreachable database.
    def broken() -> status.DatabaseState:
        raise KeyError("bug")

    monkeypatch.setattr(status, "_read", broken)
    with pytest.raises(KeyError, match="bug"):
        status.read_database(CONF, timeout=30)


def test_the_database_is_read_once(sqlite_db_url, commands, monkeypatch) -> None:
    reads: list[int] = []
    real = status._read

    def counted() -> status.DatabaseState:
        reads.append(1)
        return real()

    monkeypatch.setattr(status, "_read", counted)
    commands.check()
    assert reads == [1]


# --- service versions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("versions", "code", "words"),
    [
        ([], Code.SUCCESS, "No live service records yet."),
        ([CURRENT, CURRENT], Code.SUCCESS, f"2 live service(s), all at version {CURRENT}."),
        ([CURRENT, 2], Code.WARNING, "1 service(s) older than this code"),
        ([CURRENT, 2, 0], Code.FAILURE, "1 service(s) older than version 1, the oldest"),
        ([CURRENT, CURRENT + 1], Code.WARNING, "1 service(s) newer than this code"),
    ],
)
def test_service_versions(sqlite_db_url, admin_context, commands, versions, code, words) -> None:
    for i, number in enumerate(versions):
        add_service(admin_context, f"h{i}", binaries.COMPUTE, number)
    got, details = verdict(commands._check_services())
    assert (got, words in details) == (code, True), details


def test_the_old_services_are_named(sqlite_db_url, admin_context, commands) -> None:
    for i in range(7):
        add_service(admin_context, f"h{i}", binaries.COMPUTE, 0)
    code, details = verdict(commands._check_services())
    assert code == Code.FAILURE
    assert (
        "nubis-compute on h0 (version 0), nubis-compute on h1 (version 0), nubis-compute on "
        "h2 (version 0), nubis-compute on h3 (version 0), nubis-compute on h4 (version 0) "
        "and 2 more." in details
    )
    assert "nubis-manage service force-down HOST BINARY" in details


def test_forced_down_and_deleted_services_do_not_count(
    sqlite_db_url, admin_context, commands
) -> None:
    add_service(admin_context, "gone", binaries.COMPUTE, 0, forced_down=True)
    deleted = add_service(admin_context, "deleted", binaries.COMPUTE, 0)
    api.service_destroy(admin_context, deleted.id)
    add_service(admin_context, "h1", binaries.COMPUTE, CURRENT)
    assert verdict(commands._check_services())[0] == Code.SUCCESS
    assert [s.host for s in commands.database.services or ()] == ["gone", "h1"]


# --- [upgrade_levels] against the database -----------------------------------------------


def test_caps_are_judged_against_the_live_services(
    sqlite_db_url, admin_context, flags, commands
) -> None:
    add_service(admin_context, "h1", binaries.COMPUTE, 2)
    flags(group="upgrade_levels", compute="1.2")
    code, details = verdict(commands._check_upgrade_levels())
    assert code == Code.FAILURE
    assert "nubis-compute on h1 (version 2) understands only 1.1" in details


def test_caps_without_a_schema_judge_the_values_only(empty_db_url, flags) -> None:
    flags(group="upgrade_levels", compute="auto")
    code, details = verdict(status.UpgradeCommands(CONF)._check_upgrade_levels())
    assert code == Code.WARNING
    assert details.startswith("not compared with the running services")


# --- object versions ---------------------------------------------------------------------


def test_a_conductor_older_than_another_service_is_a_warning(
    sqlite_db_url, admin_context, commands
) -> None:
    add_service(admin_context, "c1", binaries.CONDUCTOR, 2)
    add_service(admin_context, "h1", binaries.COMPUTE, CURRENT)
    code, details = verdict(commands._check_objects())
    assert code == Code.WARNING
    assert (
        f"nubis-conductor on c1 (version 2) is older than nubis-compute on h1 (version "
        f"{CURRENT}): upgrade and restart the conductors first." in details
    )


def test_conductors_at_least_as_new_as_the_rest_pass(
    sqlite_db_url, admin_context, commands
) -> None:
    add_service(admin_context, "c1", binaries.CONDUCTOR, CURRENT)
    add_service(admin_context, "h1", binaries.COMPUTE, 2)
    code, details = verdict(commands._check_objects())
    assert code == Code.SUCCESS
    assert details.startswith("nubis pins no object versions: ")
    assert details.endswith(
        f"the oldest conductor is at version {CURRENT}, the newest other service at 2."
    )


# --- policy file -------------------------------------------------------------------------


def test_a_json_policy_file_fails(sqlite_db_url, flags, commands, tmp_path: Path) -> None:
    policy_opts.set_defaults(CONF)
    policy = tmp_path / "policy.json"
    policy.write_text('{"compute:get": ""}')
    flags(group="oslo_policy", policy_file=str(policy))
    assert commands._check_policy_file().code == Code.FAILURE
    policy.write_text('"compute:get": ""\n')
    assert commands._check_policy_file().code == Code.SUCCESS


# --- the command line --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_timeout_is_refused(value: str) -> None:
    with pytest.raises(status.argparse.ArgumentTypeError, match="is not a number of seconds"):
        status._seconds(value)
    assert status._seconds("2.5") == 2.5


# --- deprecated options ------------------------------------------------------------------


def parsed(*args: str) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf(list(args), project="nubis-status-test", default_config_files=[])
    return conf


def test_deprecated_options_are_a_warning_naming_them(tmp_path: Path) -> None:
    conf_file = tmp_path / "nubis.conf"
    conf_file.write_text("[DEFAULT]\nrpc_thread_pool_size = 8\n")
    commands = status.UpgradeCommands(parsed("--config-file", str(conf_file)))
    assert verdict(commands._check_deprecated_options()) == (
        Code.WARNING,
        f"1 deprecated option(s) set: [DEFAULT] rpc_thread_pool_size in {conf_file} is a "
        "deprecated name of [DEFAULT] executor_thread_pool_size. Rename or remove them "
        "before the release that drops them.",
    )
    conf_file.write_text("[DEFAULT]\nexecutor_thread_pool_size = 8\n")
    assert verdict(commands._check_deprecated_options()) == (
        Code.SUCCESS,
        f"No deprecated option set in {conf_file}.",
    )


def test_a_file_that_cannot_be_checked_is_a_warning(tmp_path: Path) -> None:
    conf_file = tmp_path / "nubis.conf"
    conf_file.write_text("[DEFAULT]\n")
    commands = status.UpgradeCommands(parsed("--config-file", str(conf_file)))
    conf_file.write_text("no section = here\n")
    code, details = verdict(commands._check_deprecated_options())
    assert code == Code.WARNING
    assert details.startswith(f"Not all checked: cannot parse {conf_file}: ")


def test_no_configuration_file_passes() -> None:
    assert verdict(status.UpgradeCommands(parsed())._check_deprecated_options()) == (
        Code.SUCCESS,
        "No configuration file was read.",
    )
