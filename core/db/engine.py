"""Engines, sessions and transactions for the nubis database, and the DB access guard.

Contract:

* One :class:`~sqlalchemy.engine.Engine` and its session factories per connection URL,
  created on first use (thread-safe) and shared by every thread. :func:`get_engine`
  returns it for ``[database] connection`` (or a given URL); :func:`reset` disposes of
  them all (tests).
* :func:`transaction` is how :mod:`nubis.core.db.api` reaches the database: a
  :class:`~sqlalchemy.orm.Session` inside one transaction that commits when the block
  ends and rolls back when it raises. Objects it loaded stay usable afterwards, detached
  with their attributes loaded (``expire_on_commit=False``). :func:`connection` is the
  same transaction on a Core :class:`~sqlalchemy.engine.Connection`, without the
  Session, for hot paths that run one or two statements. :func:`one_statement` is for
  a write that is a single statement returning its row (``UPDATE ... RETURNING``): in
  autocommit where the database can return the row, so the statement is its own
  transaction and no ``BEGIN`` and ``COMMIT`` go to the database; elsewhere (MariaDB)
  it is :func:`connection`.
* SQLite: a file database's folder is created mode 0700 and the file mode 0600 (it
  holds password hashes); ``PRAGMA foreign_keys=ON`` on every connection; file
  databases use WAL with ``synchronous=NORMAL`` (a power cut may lose the last
  commits, never consistency); a writing transaction begins with ``BEGIN IMMEDIATE``
  (at its first statement, before it reads) so that two writers queue on the busy
  timeout (5 s; ``?timeout=`` in the URL changes it) instead of failing on a lock
  upgrade; an in-memory database (``sqlite://``) is one connection shared by all
  threads (StaticPool) whose transactions are serialized by a lock.
* PostgreSQL through psycopg2 and MariaDB/MySQL through PyMySQL (a URL without a driver,
  ``postgresql://`` or ``mysql://``, gets these), with ``pool_pre_ping`` and READ
  COMMITTED isolation on both.
* The guard: after :func:`block` (nubis-compute calls it at start-up) every way into the
  database, :func:`get_engine`, :func:`transaction` and :func:`connection`, raises
  :class:`~nubis.core.exception.DBNotAllowed` naming the binary and the caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection, StaticPool

from nubis.core.conf import CONF, paths
from nubis.core.conf.masking import mask_url
from nubis.core.db import guard, regexp

LOG = logging.getLogger(__name__)

_SQLITE_BEGIN_OPTION = "nubis_sqlite_begin"
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


@dataclasses.dataclass(frozen=True)
class Database:
    """The engine of one connection URL and the session factories bound to it."""

    engine: Engine
    writer_engine: Engine
    statement_engine: Engine
    #: Whether :func:`one_statement` switches the driver's own autocommit on for its
    #: statement (PostgreSQL); otherwise it opens a transaction on ``statement_engine``
    #: (SQLite, whose ``BEGIN`` that engine leaves out: autocommit; MariaDB: a real one).
    statement_switches_autocommit: bool
    writer_sessions: sessionmaker[Session]
    reader_sessions: sessionmaker[Session]
    serialized: contextlib.AbstractContextManager[Any]


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def normalized_url(connection: str) -> URL:
    """Parse *connection*, choosing psycopg2 or PyMySQL when it names no driver."""
    url = make_url(connection)
    driver = _DEFAULT_DRIVERS.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def is_memory_sqlite(url: URL) -> bool:
    """Whether *url* is an in-memory SQLite database (no file)."""
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _prepare_sqlite_file(database: str) -> None:
    # SQLite creates the file but not its folder ($state_path on a new machine), and
    # creates it with the umask's mode (0644): it holds password hashes. The folder is
    # made 0700 and the file 0600 before SQLite opens it; its -wal and -shm files get
    # the database file's mode from SQLite.
    option = "[database] connection"
    path = os.path.abspath(database)
    paths.make_private_dir(os.path.dirname(path), option)
    paths.create_private_file(path, option)
    for suffix in ("-wal", "-shm", "-journal"):
        paths.tighten(path + suffix)


def _sqlite_on_connect(dbapi_connection: Any, in_memory: bool) -> None:
    # Take BEGIN away from the sqlite3 module: it would start transactions late and
    # never as IMMEDIATE. The "begin" listener below emits it instead.
    dbapi_connection.isolation_level = None
    regexp.register_sqlite_function(dbapi_connection)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _create_sqlite_engine(url: URL, options: dict[str, Any]) -> tuple[Engine, bool]:
    in_memory = is_memory_sqlite(url)
    if not in_memory and url.database:
        _prepare_sqlite_file(url.database)
    if in_memory:
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        options.update(
            pool_size=CONF.database.max_pool_size,
            max_overflow=CONF.database.max_overflow,
            pool_timeout=CONF.database.pool_timeout,
        )
    engine = sqlalchemy.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        _sqlite_on_connect(dbapi_connection, in_memory)

    @event.listens_for(engine, "begin")
    def on_begin(connection: sqlalchemy.Connection) -> None:
        begin = connection.get_execution_options().get(_SQLITE_BEGIN_OPTION, "BEGIN")
        if begin:  # None: autocommit, each statement its own transaction
            connection.exec_driver_sql(begin)

    return engine, in_memory


def _create_server_engine(url: URL, options: dict[str, Any]) -> Engine:
    options.update(
        pool_pre_ping=True,
        pool_size=CONF.database.max_pool_size,
        max_overflow=CONF.database.max_overflow,
        pool_timeout=CONF.database.pool_timeout,
        pool_recycle=CONF.database.connection_recycle_time,
    )
    if url.get_backend_name() == "postgresql":
        # READ COMMITTED as the session's default, set once when the connection starts.
        # Set through psycopg2 instead, it would cost a "SET default_transaction_isolation"
        # round trip each time the pool's pre-ping or an autocommit statement switches
        # the connection's autocommit, and a longer BEGIN for every transaction.
        startup = "-c default_transaction_isolation=read\\ committed"
        given = url.query.get("options")
        options["connect_args"] = {"options": f"{given} {startup}" if given else startup}
    else:
        options["isolation_level"] = "READ COMMITTED"
    return sqlalchemy.create_engine(url, **options)


def _configure_sql_logging() -> None:
    debug = CONF.database.connection_debug
    if debug >= 100:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    elif debug >= 50:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


def _create_database(connection: str) -> Database:
    url = normalized_url(connection)
    _configure_sql_logging()
    options: dict[str, Any] = {}
    serialized: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    switches_autocommit = False
    if url.get_backend_name() == "sqlite":
        engine, in_memory = _create_sqlite_engine(url, options)
        writer_bind: Engine = engine.execution_options(**{_SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        statement_bind: Engine = engine.execution_options(**{_SQLITE_BEGIN_OPTION: None})
        if in_memory:
            serialized = threading.RLock()
    else:
        engine = _create_server_engine(url, options)
        writer_bind = statement_bind = engine
        # PostgreSQL returns the written row: psycopg2's own autocommit, switched in
        # one_statement. MariaDB reads the row back with a second statement, so its
        # single statements stay in a transaction.
        switches_autocommit = engine.dialect.name == "postgresql"
    LOG.debug("created database engine for %s", mask_url(connection))
    return Database(
        engine=engine,
        writer_engine=writer_bind,
        statement_engine=statement_bind,
        statement_switches_autocommit=switches_autocommit,
        writer_sessions=sessionmaker(bind=writer_bind, expire_on_commit=False),
        reader_sessions=sessionmaker(bind=engine, expire_on_commit=False),
        serialized=serialized,
    )


def get_database(connection: str | None = None) -> Database:
    """Return the engine and session factories for *connection* (default: the config)."""
    guard.ensure_allowed(None)
    if connection is None:
        connection = CONF.database.connection
    database = _databases.get(connection)
    if database is None:
        with _databases_lock:
            database = _databases.get(connection)
            if database is None:
                database = _databases[connection] = _create_database(connection)
    return database


def get_engine(connection: str | None = None) -> Engine:
    """Return the shared engine for *connection* (default: ``[database] connection``)."""
    guard.ensure_allowed(guard.caller_name(sys._getframe(1)))
    return get_database(connection).engine


@contextlib.contextmanager
def transaction(caller: str | None = None, *, writer: bool = True) -> Iterator[Session]:
    """Yield a session in one transaction on ``[database] connection``; commit at the end.

    *caller* names the API function for the access guard's message. A reader
    (``writer=False``) may still write, but on SQLite it does not take the write lock
    up front.
    """
    guard.ensure_allowed(caller or guard.caller_name(sys._getframe(1)))
    database = get_database()
    sessions = database.writer_sessions if writer else database.reader_sessions
    with database.serialized, sessions.begin() as session:
        yield session


@contextlib.contextmanager
def connection(
    caller: str | None = None, *, writer: bool = True
) -> Iterator[sqlalchemy.Connection]:
    """Yield a Core connection in one transaction on ``[database] connection``.

    The transaction is the one :func:`transaction` gives (the access guard, ``BEGIN
    IMMEDIATE`` for a SQLite writer, in-memory SQLite serialized, commit when the block
    ends, rollback when it raises) without an ORM Session around it.
    """
    guard.ensure_allowed(caller or guard.caller_name(sys._getframe(1)))
    database = get_database()
    bind = database.writer_engine if writer else database.engine
    with database.serialized, bind.begin() as conn:
        yield conn


class OneStatement:
    """What :func:`one_statement` gives a DB API function that writes with one statement.

    The function takes one of the two, once:

    * :meth:`driver`: a pooled driver connection in autocommit, where the database
      returns the written row (SQLite, PostgreSQL), for a statement run straight on the
      driver (:mod:`nubis.core.db.api._direct`); None elsewhere (MariaDB).
    * :meth:`connection`: a SQLAlchemy Connection, in the same autocommit where the
      database returns the row; elsewhere (MariaDB) in a transaction, committed when
      the block ends and rolled back when it raises.

    What was taken goes back to the pool when the block ends. ``engine`` and
    ``dialect`` are those of the statements' engine.
    """

    def __init__(self, database: Database) -> None:
        self.engine = database.statement_engine
        self.dialect = self.engine.dialect
        self._database = database
        self._taken = contextlib.ExitStack()
        self._driver: PoolProxiedConnection | None = None
        self._connection: sqlalchemy.Connection | None = None

    def driver(self) -> PoolProxiedConnection | None:
        """The pooled driver connection, in autocommit; None where the database cannot
        return the written row, so the row is read back in a transaction."""
        if not self.dialect.update_returning:
            return None
        if self._driver is None:
            self._not_taken("connection()", self._connection)
            fairy = self.engine.raw_connection()
            self._taken.callback(self._release, fairy)
            if self._database.statement_switches_autocommit:
                fairy.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            self._driver = fairy
        return self._driver

    def connection(self) -> sqlalchemy.Connection:
        """The SQLAlchemy Connection (see the class's docstring)."""
        if self._connection is None:
            self._not_taken("driver()", self._driver)
            self._connection = self._taken.enter_context(_statement_connection(self._database))
        return self._connection

    @staticmethod
    def _not_taken(other: str, taken: object) -> None:
        if taken is not None:
            raise RuntimeError(f"one_statement: {other} was taken already; take one of the two")

    def _release(self, fairy: PoolProxiedConnection) -> None:
        driver: Any = fairy.dbapi_connection
        if driver is None:  # lost in the statement and invalidated: back in the pool
            return
        if self._database.statement_switches_autocommit and not driver.closed:
            driver.autocommit = False
        fairy.close()


@contextlib.contextmanager
def one_statement(caller: str | None = None) -> Iterator[OneStatement]:
    """Yield a :class:`OneStatement` for a write that is one ``UPDATE ... RETURNING``.

    Where the database returns a written row (SQLite, PostgreSQL) the statement runs in
    autocommit: it commits as it completes, with no ``BEGIN`` before it and no
    ``COMMIT`` after it (on PostgreSQL two round trips of four: the pool's pre-ping and
    the statement remain). On SQLite the statement takes the write lock itself and
    waits on the busy timeout as a ``BEGIN IMMEDIATE`` would. Elsewhere (MariaDB, which
    reads the row back with a second statement) it is :func:`connection`'s writer
    transaction. The access guard and the in-memory lock apply as in
    :func:`connection`. Run one statement only: a second would be a transaction of its
    own.
    """
    guard.ensure_allowed(caller or guard.caller_name(sys._getframe(1)))
    database = get_database()
    statement = OneStatement(database)
    with database.serialized, statement._taken:
        yield statement


@contextlib.contextmanager
def _statement_connection(database: Database) -> Iterator[sqlalchemy.Connection]:
    """:meth:`OneStatement.connection`'s Connection, as :func:`one_statement` describes."""
    bind = database.statement_engine
    if not database.statement_switches_autocommit:  # SQLite: no BEGIN (on_begin); MariaDB
        with bind.begin() as conn:
            yield conn
        return
    # SQLAlchemy's AUTOCOMMIT isolation level would make psycopg2 send a "SET
    # default_transaction_isolation" before and after; its autocommit attribute sends
    # nothing (SQLAlchemy's pre-ping switches it the same way). With it on, the
    # transaction below is SQLAlchemy's bookkeeping only: psycopg2 sends no BEGIN or
    # COMMIT.
    with bind.connect() as conn:
        driver: Any = conn.connection.dbapi_connection
        driver.autocommit = True
        try:
            with conn.begin():
                yield conn
        finally:
            if not driver.closed:  # a connection lost in the statement stays closed
                driver.autocommit = False


def reset() -> None:
    """Dispose of every engine and forget them; the next use creates them anew."""
    with _databases_lock:
        databases = list(_databases.values())
        _databases.clear()
    for database in databases:
        database.engine.dispose()
