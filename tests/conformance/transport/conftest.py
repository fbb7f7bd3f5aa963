"""Every transport case runs against each backend: ``inproc://`` (in both of its
delivery modes) and the machine's RabbitMQ.

The ``backend`` fixture is module-scoped and parametrized, so a module's tests
share one transport pair and the servers they start; a missing RabbitMQ skips
the rabbit half locally and fails it under NUBIS_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.transport.harness import Backend
from tests.fixtures.require import require_port

BACKENDS = {
    # inproc's default (direct hand-off) delivery, on the default virtual host.
    "inproc": "inproc://",
    # inproc's poll-style listeners, on a virtual host of their own.
    "inproc-poll": "inproc:///conformance-poll?delivery=poll",
    "rabbit": "rabbit://guest:guest@127.0.0.1:5672/",
}


@pytest.fixture(scope="module", params=sorted(BACKENDS), ids=lambda name: name)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    name = request.param
    if name == "rabbit":
        require_port("RabbitMQ", "127.0.0.1", 5672)
    be = Backend(name, BACKENDS[name])
    try:
        yield be
    finally:
        be.close()
