"""Run a whole database transaction again when it failed on a transient error.

:func:`retry_on_transient` wraps a function that is one complete transaction: it opens
it, does its work and commits (every function of :mod:`nubis.core.db.api` is one).
When such a function raises an error that :func:`nubis.core.db.errors.transient_reason`
recognises (deadlock, serialization failure, lost connection, locked SQLite database,
and a database that is away: connection refused, server shutting down or starting up,
administrator shutdown, failover), its transaction has been rolled back, so nothing of
it is written, and the function is called again from the start. Waits start at
``[database] retry_interval`` and double up to ``[database] max_retry_interval`` (each
drawn between half and all of that, so that two colliding transactions do not collide
again in step); after ``[database] max_retries`` retries -- or once the retries have
taken :func:`retry_budget` seconds in all (the longest the waits can add up to, plus one
second per attempt), so that slow failing attempts (a connection that times out) cannot
stretch the total -- the error is raised: the whole wait is bounded (about 13 to 36 s
with the defaults). Each retry logs one warning that names the function and the reason;
giving up logs one error (both are counted by reason in :mod:`nubis.core.metrics`).
What outlasts that bound is the callers' to survive: the API answers 503, the compute
keeps its bookkeeping for later, the conductor's reconciler ends or resends stalled
builds.

Never wrap a function that does more than one transaction, or anything besides
database work that must not happen twice: the retry repeats all of it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

from nubis.core import metrics
from nubis.core.conf import CONF
from nubis.core.db import errors

LOG = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "nubis_db_retry_deadline", default=None
)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within the block, start no retry that would end more than *seconds* from now.

    For work done on behalf of a caller that waits a bounded time (the conductor
    running a remotable method for an RPC call): a transaction retried after its caller
    gave up would write what the caller believes failed.
    """
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def backoff_delay(retry_number: int) -> float:
    """Seconds to wait before retry number *retry_number* (1 for the first retry)."""
    ceiling = min(
        CONF.database.max_retry_interval,
        CONF.database.retry_interval * 2 ** (retry_number - 1),
    )
    return float(random.uniform(ceiling / 2, ceiling))


def retry_budget(max_retries: int) -> float:
    """Seconds the retries of one transaction may take in all: every wait at its
    ceiling, plus one second for each attempt."""
    waits = sum(
        min(CONF.database.max_retry_interval, CONF.database.retry_interval * 2 ** (n - 1))
        for n in range(1, max_retries + 1)
    )
    return float(waits + max_retries)


def retry_on_transient(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a one-transaction function so transient DB errors re-run it (bounded)."""
    name = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    def run_with_retries(*args: P.args, **kwargs: P.kwargs) -> R:
        retries_done = 0
        started = time.monotonic()
        while True:
            try:
                return function(*args, **kwargs)
            except sa_exc.DBAPIError as error:
                reason = errors.transient_reason(error)
                if reason is None:
                    raise
                max_retries = CONF.database.max_retries
                budget = retry_budget(max_retries)
                delay = backoff_delay(retries_done + 1)
                spent = time.monotonic() - started
                until = _deadline.get()
                late = until is not None and time.monotonic() + delay > until
                if retries_done >= max_retries or (retries_done and spent + delay > budget) or late:
                    metrics.db_giveup(reason)
                    LOG.error(
                        "%s: transient database error (%s) persists after %d retries "
                        "(%.1f s); giving up",
                        name,
                        reason,
                        retries_done,
                        spent,
                    )
                    raise
                retries_done += 1
                metrics.db_retry(reason)
                LOG.warning(
                    "%s: transient database error (%s); retry %d of %d in %.2f s",
                    name,
                    reason,
                    retries_done,
                    max_retries,
                    delay,
                )
                time.sleep(delay)

    return run_with_retries
