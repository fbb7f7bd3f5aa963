"""What only the zk driver promises: it survives the end of its ZooKeeper session.

A session is expired from outside, the way ZooKeeper ends it when a client is silent
for longer than the session timeout: a second client attaches to the same session and
closes it. The member must re-register under a new session by itself.
"""

from __future__ import annotations

import logging
import time

import pytest
from kazoo.client import KazooClient

from nubis.core.conf import CONF
from nubis.core.conformance.harness import wait_until
from nubis.core.conformance.suites.servicegroup.fixtures import REPORT_INTERVAL, Deployment

pytestmark = [pytest.mark.timeout(60)]


def test_member_re_registers_after_its_session_expires(
    zk_deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nubis.plugins.servicegroup.zk")
    service = zk_deployment.start("h1")
    api = service.servicegroup_api
    assert wait_until(lambda: api.is_up(zk_deployment.record("h1")), REPORT_INTERVAL + 1)
    client = api.driver._client
    old_session = client.client_id

    intruder = KazooClient(hosts=",".join(CONF.zookeeper.hosts), client_id=old_session)
    intruder.start(timeout=10)
    intruder.stop()  # closes the session: its ephemeral node goes with it
    intruder.close()

    assert wait_until(lambda: client.client_id and client.client_id[0] != old_session[0], 10), (
        "no new session"
    )
    assert wait_until(lambda: api.is_up(zk_deployment.record("h1")), 5), (
        "member did not re-register"
    )
    assert api.get_all(zk_deployment.topic) == ["h1"]
    messages = [r.getMessage() for r in caplog.records if r.name.endswith(".zk")]
    assert sum("unreachable" in m for m in messages) == 1, messages
    assert any("re-registered " + zk_deployment.topic + "/h1" in m for m in messages), messages


def test_node_of_an_earlier_session_is_replaced(zk_deployment: Deployment) -> None:
    """A restarted service finds its node still held by its old, not yet expired session."""
    path = f"{CONF.zookeeper.chroot}{CONF.zookeeper.root}/{zk_deployment.topic}/h1"
    old = KazooClient(hosts=",".join(CONF.zookeeper.hosts), timeout=30)
    old.start(timeout=10)
    try:
        old.create(path, b"", ephemeral=True, makepath=True)
        old_owner = old.exists(path).ephemeralOwner
        service = zk_deployment.start("h1")
        driver = service.servicegroup_api.driver
        assert wait_until(
            lambda: (
                driver._client is not None
                and driver._client.connected
                and (stat := old.exists(path)) is not None
                and stat.ephemeralOwner == driver._client.client_id[0]
            ),
            5,
        ), "the node still belongs to the earlier session"
        assert old.exists(path).ephemeralOwner != old_owner
        # When the earlier session ends, the member stays registered.
    finally:
        old.stop()
        old.close()
    api = zk_deployment.observer()
    assert api.is_up(zk_deployment.record("h1"))
    assert api.get_all(zk_deployment.topic) == ["h1"]


def test_a_server_that_never_answers_blocks_nothing(
    zk_deployment: Deployment, blackhole: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nubis.plugins.servicegroup.zk")
    zk_deployment.flags(group="zookeeper", hosts=[blackhole], connect_timeout=0.5)
    began = time.monotonic()
    service = zk_deployment.start("h1")
    assert time.monotonic() - began < 0.5, "join waited for ZooKeeper"
    api = service.servicegroup_api
    began = time.monotonic()
    assert not api.is_up(zk_deployment.record("h1"))
    assert time.monotonic() - began < 0.5 + 0.5
    began = time.monotonic()
    assert api.get_all(zk_deployment.topic) == []
    assert not api.is_up(zk_deployment.record("h1"))
    assert time.monotonic() - began < 0.2, "a query waited again for the connection"
    time.sleep(REPORT_INTERVAL * 1.5)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "unreachable (no connection within 0.5 s)" in errors[0], errors
    began = time.monotonic()
    zk_deployment.stop("h1")
    assert time.monotonic() - began < 5
