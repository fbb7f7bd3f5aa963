"""Run a whole database transaction again when it failed on a transient error.

:func:`retry_on_transient` wraps a function that is one complete transaction: it opens
it, does its work and commits (every function of :mod:`nubis.core.db.api` is one).
When such a function raises an error that :func:`nubis.core.db.errors.transient_reason`
recognises (deadlock, serialization failure, lost connection, locked SQLite database),
its transaction has been rolled back, so nothing of it is written, and the function is
called again from the start. Waits start at ``[database] retry_interval`` and double
up to ``[database] max_retry_interval`` (each drawn between half and all of that, so
that two colliding transactions do not collide again in step); after
``[database] max_retries`` retries the error is raised. Each retry logs one warning
that names the function and the reason; giving up logs one error.

Never wrap a function that does more than one transaction, or anything besides
database work that must not happen twice: the retry repeats all of it.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

from nubis.core.conf import CONF
from nubis.core.db import errors

LOG = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def backoff_delay(retry_number: int) -> float:
    """Seconds to wait before retry number *retry_number* (1 for the first retry)."""
    ceiling = min(
        CONF.database.max_retry_interval,
        CONF.database.retry_interval * 2 ** (retry_number - 1),
    )
    return float(random.uniform(ceiling / 2, ceiling))


def retry_on_transient(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a one-transaction function so transient DB errors re-run it (bounded)."""
    name = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    def run_with_retries(*args: P.args, **kwargs: P.kwargs) -> R:
        retries_done = 0
        while True:
            try:
                return function(*args, **kwargs)
            except sa_exc.DBAPIError as error:
                reason = errors.transient_reason(error)
                if reason is None:
                    raise
                max_retries = CONF.database.max_retries
                if retries_done >= max_retries:
                    LOG.error(
                        "%s: transient database error (%s) persists after %d retries; giving up",
                        name,
                        reason,
                        retries_done,
                    )
                    raise
                retries_done += 1
                delay = backoff_delay(retries_done)
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
