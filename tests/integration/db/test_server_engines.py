"""Engines for PostgreSQL and MariaDB: the right driver, pre-ping and READ COMMITTED."""

import pytest
import sqlalchemy

from nubis.core.db import engine

EXPECTED_DRIVER = {"postgresql": "psycopg2", "mysql": "pymysql"}


@pytest.mark.parametrize(
    "db_backend",
    [
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def test_server_engine_settings(db_backend, db_url, flags):
    shared = engine.get_engine()
    assert shared.dialect.driver == EXPECTED_DRIVER[db_backend]
    assert shared.pool._pre_ping is True
    with engine.transaction() as session:
        assert session.connection().get_isolation_level() == "READ COMMITTED"

    url = sqlalchemy.make_url(db_url)
    flags(group="database", connection=url.set(drivername=db_backend).render_as_string(False))
    assert engine.get_engine().dialect.driver == EXPECTED_DRIVER[db_backend]
