"""How the nubis conformance kit runs the ``redis`` driver (its environment module).

Registered under the entry point group ``nubis.conformance.environments`` (entry point
``nubis_servicegroup_redis``): the kit loads it when it runs, so
every kit run where this package is installed -- ``nubis-conformance``, this package's
own tests, nubis's tests/conformance -- configures the driver the same way. It answers
the kit's ``pytest_nubis_conformance_targets`` hook for ``nubis.servicegroup:redis``
only, with one target, ``redis``:

* options: the Redis at ``$NUBIS_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``, the
  machine's) with a key prefix of the test's own, whose keys are deleted afterwards.
  Without a Redis there the test is reported as a missing environment.
* ``fault``: ``CLIENT PAUSE`` -- the server stops answering every client for
  :data:`PAUSE_SECONDS` (connections are accepted, commands wait) and answers again
  after it; the driver's requests time out meanwhile, as with a hung or unreachable
  server.
* ``left_behind``: the member's element still in its group's sorted set.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from nubis.core.conformance import Target, harness

URL = os.environ.get("NUBIS_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Long enough for the kit's server-restart test to see the member down, the loss
#: logged and queries failing (about 5 s with 1 s timeouts).
PAUSE_SECONDS = 8.0


def admin_client(url: str = URL) -> redis.Redis:
    """A plain client of the test Redis (short timeouts) for checks and faults."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
    )


def _options(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    client = admin_client()
    try:
        client.ping()
    except redis.RedisError as exc:
        harness.missing(f"no Redis at {URL} ($NUBIS_REDIS_URL): {exc}")
    prefix = f"nubis-conformance:{uuid.uuid4().hex[:8]}"

    def forget() -> None:
        with contextlib.suppress(redis.RedisError):
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
        client.close()

    request.addfinalizer(forget)
    return {"redis_servicegroup": {"url": URL, "key_prefix": prefix}}


@contextlib.contextmanager
def client_pause(deployment: Any, seconds: float = PAUSE_SECONDS) -> Iterator[None]:
    """Redis answers no client for *seconds*; returns once it answers again."""
    client = admin_client()
    try:
        client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
        ends = time.monotonic() + seconds
        yield
        # Paused commands (an UNPAUSE included) wait for the pause to end.
        left = ends - time.monotonic()
        if left > 0:
            time.sleep(left)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        client.close()


def _key_prefix(deployment: Any) -> str:
    from nubis.core.conf import CONF

    return str(CONF.redis_servicegroup.key_prefix)


def left_behind(deployment: Any, host: str) -> str:
    """The member's element if it is still in its group's set ("" when gone)."""
    key = f"{_key_prefix(deployment)}:{deployment.topic}"
    client = admin_client()
    try:
        score = client.zscore(key, host)
    finally:
        client.close()
    return "" if score is None else f"element {host} of sorted set {key}"


@pytest.hookimpl(optionalhook=True)
def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("nubis.servicegroup", "redis"):
        return None
    return [
        Target(
            "redis",
            _options,
            {"fault": client_pause, "left_behind": left_behind},
        )
    ]
