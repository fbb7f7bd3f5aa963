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


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_postgresql_keeps_the_urls_own_startup_options(db_backend, db_url, flags):
    # READ COMMITTED is a startup option of the connection, given after the URL's own
    # ``?options=``: those still apply, and nubis's isolation level wins over theirs.
    own = "-c statement_timeout=5000 -c default_transaction_isolation=serializable"
    url = sqlalchemy.make_url(db_url).update_query_dict({"options": own})
    flags(group="database", connection=url.render_as_string(False))
    with engine.transaction() as session:
        assert session.connection().get_isolation_level() == "READ COMMITTED"
        assert session.execute(sqlalchemy.text("SHOW statement_timeout")).scalar() == "5s"
