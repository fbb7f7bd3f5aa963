"""How a DB API function runs: one retried transaction, behind the access guard.

:func:`_api_function` turns ``f(bind, context, ...)`` into the public
``f(context, ...)``: it opens the transaction (an ORM Session for :data:`_reader` and
:data:`_writer`, a Core connection for :data:`_core_writer`, a
:class:`~nubis.core.db.engine.OneStatement` for :data:`_one_statement_writer`, whose
function runs one statement, in autocommit where the database allows), retries it as a
whole on transient errors, and names the function by its public path in
:mod:`nubis.core.db.api` for the access guard's and the retry log's messages.
:func:`block_db_access` and :func:`unblock_db_access` switch that guard.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from nubis.core.db import engine, guard, retry
from nubis.core.db.engine import OneStatement

P = ParamSpec("P")
R = TypeVar("R")
BindT = TypeVar("BindT", Session, Connection, OneStatement)

API_MODULE = __name__.rpartition(".")[0]
"""``nubis.core.db.api``: where callers find every API function, whichever module of
the package defines it."""


def block_db_access(binary: str) -> None:
    """Make every database access in this process raise DBNotAllowed naming *binary*."""
    guard.block(binary)


def unblock_db_access() -> None:
    """Lift :func:`block_db_access` (tests)."""
    guard.unblock()


def _api_function(
    begin: Callable[[str], contextlib.AbstractContextManager[BindT]],
) -> Callable[[Callable[Concatenate[BindT, P], R]], Callable[P, R]]:
    """Make ``f(bind, context, ...)`` the retried one-transaction ``f(context, ...)``.

    ``begin(caller)`` opens the transaction: :func:`engine.transaction` hands the
    function a Session, :func:`engine.connection` a Core connection (hot paths),
    :func:`engine.one_statement` a :class:`~engine.OneStatement` for a single ``UPDATE
    ... RETURNING`` (the hottest: saves of compute nodes, migrations and services). The result's
    ``__module__`` is :data:`API_MODULE`, so the access guard, the retry log and
    introspection name it ``nubis.core.db.api.<name>``, the path callers use.
    """

    def decorate(function: Callable[Concatenate[BindT, P], R]) -> Callable[P, R]:
        caller = f"{API_MODULE}.{function.__qualname__}"

        @functools.wraps(function)
        def in_transaction(*args: P.args, **kwargs: P.kwargs) -> R:
            with begin(caller) as bind:
                return function(bind, *args, **kwargs)

        in_transaction.__module__ = API_MODULE
        signature = inspect.signature(function)
        in_transaction.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=list(signature.parameters.values())[1:]
        )
        return retry.retry_on_transient(in_transaction)

    return decorate


_reader = _api_function(functools.partial(engine.transaction, writer=False))
_writer = _api_function(functools.partial(engine.transaction, writer=True))
_core_writer = _api_function(functools.partial(engine.connection, writer=True))
_one_statement_writer = _api_function(engine.one_statement)
