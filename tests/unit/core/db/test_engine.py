"""The engine layer on SQLite: connection set-up, one engine per URL, transactions."""

import sqlite3
import threading

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.pool import StaticPool

from nubis.core.conf import CONF
from nubis.core.db import api, engine, migration


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def test_every_sqlite_connection_has_foreign_keys_and_wal(sqlite_db_url):
    shared = engine.get_engine()
    with shared.connect() as first, shared.connect() as second:
        for connection in (first, second):
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_foreign_keys_are_enforced(sqlite_db_url, admin_context):
    with pytest.raises(sa_exc.IntegrityError, match="FOREIGN KEY"):
        api.instance_fault_create(admin_context, {"instance_uuid": "no-such-instance", "code": 500})


def test_one_engine_per_url_even_when_threads_race(sqlite_db_url):
    start = threading.Barrier(16)
    engines = []

    def get() -> None:
        start.wait(timeout=5)
        engines.append(engine.get_engine())

    threads = [threading.Thread(target=get) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(engines) == 16
    assert len({id(e) for e in engines}) == 1
    assert engine.get_engine(sqlite_db_url) is engines[0]


def test_reset_disposes_and_forgets_engines(sqlite_db_url):
    before = engine.get_engine()
    engine.reset()
    assert engine.get_engine() is not before


def test_writer_takes_the_sqlite_write_lock_before_its_first_read(sqlite_db_url):
    other = sqlite3.connect(_sqlite_path(sqlite_db_url), timeout=0, isolation_level=None)
    try:
        with engine.transaction(writer=True) as session:
            session.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        with engine.transaction(writer=False) as session:
            session.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_transaction_rolls_back_when_the_block_raises(sqlite_db_url, admin_context):
    with pytest.raises(RuntimeError):
        with engine.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO flavors (flavorid, name, memory_mb, vcpus, swap, "
                    "is_public, disabled) VALUES ('f', 'f', 1, 1, 0, 1, 0)"
                )
            )
            raise RuntimeError("boom")
    assert api.flavor_get_all(admin_context) == []


def test_in_memory_database_is_shared_by_all_threads(flags, admin_context):
    flags(group="database", connection="sqlite://")
    try:
        assert isinstance(engine.get_engine().pool, StaticPool)
        migration.db_sync()
        start = threading.Barrier(8)
        failures = []

        def create(index: int) -> None:
            start.wait(timeout=5)
            try:
                api.service_create(admin_context, {"host": f"h{index}", "binary": "nubis-x"})
            except Exception as error:  # noqa: BLE001 - collected for the assertion
                failures.append(error)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert failures == []
        assert {s.host for s in api.service_get_all(admin_context)} == {f"h{i}" for i in range(8)}
        with engine.get_engine().connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.reset()


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg2"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mysql+pymysql://u@h/db", "mysql+pymysql"),
        ("sqlite:///x.sqlite", "sqlite"),
    ],
)
def test_urls_without_a_driver_get_psycopg2_or_pymysql(given, driver):
    assert engine.normalized_url(given).drivername == driver


def test_detached_results_keep_their_attributes(sqlite_db_url, admin_context):
    service = api.service_create(admin_context, {"host": "h", "binary": "nubis-x"})
    engine.reset()
    assert service.to_dict()["host"] == "h"
    assert CONF.database.connection == sqlite_db_url
