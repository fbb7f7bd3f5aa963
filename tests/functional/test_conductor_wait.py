"""A service whose objects go through the conductor waits for one at start: with
back-off and one log line per window, and a clear failure after the bound."""

from __future__ import annotations

import threading
import time
import uuid

import oslo_messaging as messaging
import pytest

from nubis.core import exception, rpc
from nubis.core.context import get_admin_context
from nubis.core.plugins import load_one
from nubis.core.rpc.baseapi import BaseRPCEndpoint


@pytest.fixture
def topic(flags):
    name = f"conductor-{uuid.uuid4().hex[:8]}"
    flags(transport_url=f"inproc:///{name}")
    flags(group="conductor", topic=name)
    return name


def test_no_conductor_fails_after_the_bound(topic, caplog):
    api = load_one("nubis.indirection", "conductor")()
    began = time.monotonic()
    with pytest.raises(exception.ServiceTimeout) as err:
        api.wait_until_ready(get_admin_context(), timeout=1.5, log_every=1.0)
    assert 1.4 <= time.monotonic() - began < 4
    assert str(err.value) == "nubis-conductor did not answer within 1.5 s"
    waiting = [r for r in caplog.records if "waiting for nubis-conductor" in r.getMessage()]
    assert 1 <= len(waiting) <= 2


def test_conductor_arriving_late_is_found(topic):
    api = load_one("nubis.indirection", "conductor")()
    server = rpc.get_server(
        messaging.Target(topic=topic, server="c1"), [BaseRPCEndpoint("nubis-conductor", "c1")]
    )
    threading.Timer(0.5, server.start).start()
    try:
        began = time.monotonic()
        api.wait_until_ready(get_admin_context(), timeout=10)
        assert 0.4 <= time.monotonic() - began < 5
    finally:
        time.sleep(0.1)
        server.stop()
        server.wait()
