"""Transport conformance: the same RPC and notification cases on every nubis_backend.

Run through the public oslo.messaging API only (transports, RPC client/server
with the threading executor, Notifier, notification listeners), so that
``inproc://`` is held to exactly what RabbitMQ does.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import oslo_messaging
import pytest
from oslo_context import context as oslo_context

from nubis.core.conformance.suites.transport import errors
from nubis.core.conformance.suites.transport.backend import (
    Backend,
    NotificationEndpoint,
    Recorder,
    RpcEndpoint,
)

pytestmark = pytest.mark.timeout(60)


def test_call_returns_result(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"]
    value = {"name": "vm-1", "sizes": [1, 2, 3], "nested": {"ok": True, "none": None}}
    assert client.call({}, "echo", value=value) == value


def test_cast_is_delivered(nubis_backend: Backend) -> None:
    shared = nubis_backend.shared()
    token = uuid.uuid4().hex
    shared["client"].cast({}, "record", token=token)
    casts = shared["casts"]
    assert casts.wait_for(lambda items: any(t == token for _, t in items)), (
        f"a cast to the topic: expected one server to receive {token}, observed none "
        f"in 10 s (received: {casts.snapshot()[-5:]})"
    )
    time.sleep(0.1)  # a second copy would show up now
    assert [t for _, t in casts.snapshot()].count(token) == 1, "exactly one server gets it"


def test_server_targeted_call_reaches_that_server_only(nubis_backend: Backend) -> None:
    shared = nubis_backend.shared()
    client = shared["client"]
    for server in ("a", "b"):
        answers = {client.prepare(server=server).call({}, "whoami") for _ in range(10)}
        assert answers == {server}
    token = uuid.uuid4().hex
    client.prepare(server="b").cast({}, "record", token=token)
    assert shared["endpoints"]["b"].casts.wait_for(lambda items: token in items), (
        f"a cast to server b: expected b to receive {token}, observed none in 10 s"
    )
    assert token not in shared["endpoints"]["a"].casts.snapshot()


def test_topic_calls_are_balanced_across_servers(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"]
    answers = [client.call({}, "whoami") for _ in range(40)]
    assert set(answers) == {"a", "b"}
    assert min(answers.count("a"), answers.count("b")) >= 8, answers


def test_fanout_cast_reaches_every_server(nubis_backend: Backend) -> None:
    shared = nubis_backend.shared()
    token = uuid.uuid4().hex
    shared["client"].prepare(fanout=True).cast({}, "record", token=token)
    for endpoint in shared["endpoints"].values():
        assert endpoint.casts.wait_for(lambda items: token in items), (
            f"a fanout cast: expected server {endpoint.name} to receive {token}, observed "
            "none in 10 s"
        )
        assert endpoint.casts.snapshot().count(token) == 1


def test_call_to_topic_nobody_listens_on_times_out(nubis_backend: Backend) -> None:
    client = nubis_backend.client(nubis_backend.topic("nobody"), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(oslo_messaging.MessagingTimeout):
        client.call({}, "echo", value=1)
    assert 0.4 <= time.monotonic() - started < 3.0


def test_slow_call_times_out_within_bound(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"].prepare(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(oslo_messaging.MessagingTimeout):
        client.call({}, "sleep", seconds=1.5)
    assert 0.4 <= time.monotonic() - started < 1.4


def test_exchange_is_honoured(nubis_backend: Backend) -> None:
    shared = nubis_backend.shared()
    other = shared["client"].prepare(exchange=f"{nubis_backend.prefix}-elsewhere", timeout=0.5)
    with pytest.raises(oslo_messaging.MessagingTimeout):
        other.call({}, "whoami")
    assert shared["client"].call({}, "whoami") in {"a", "b"}


def test_call_monitor_heartbeats_keep_a_long_call_alive(nubis_backend: Backend) -> None:
    # The dispatcher heartbeats every call_monitor_timeout/2 = 1 s; the call
    # outlives call_monitor_timeout thanks to them.
    client = nubis_backend.shared()["client"].prepare(timeout=20, call_monitor_timeout=2)
    assert client.call({}, "sleep", seconds=2.6) in {"a", "b"}


def test_call_monitor_without_heartbeats_times_out(nubis_backend: Backend) -> None:
    # call_monitor_timeout=1 is too short for the dispatcher to heartbeat
    # (interval int(1)/2 < 1 s): the monitor, not the 20 s timeout, fires.
    client = nubis_backend.shared()["client"].prepare(timeout=20, call_monitor_timeout=1)
    started = time.monotonic()
    with pytest.raises(oslo_messaging.MessagingTimeout):
        client.call({}, "sleep", seconds=1.6)
    assert 0.9 <= time.monotonic() - started < 1.5


def test_remote_exception_of_allowed_module_keeps_its_class(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"]
    with pytest.raises(errors.ConformanceError) as info:
        client.call({}, "raise_allowed", text="disk full")
    assert type(info.value).__name__ == "ConformanceError_Remote"
    assert info.value.args[0] == "disk full"
    assert "disk full" in str(info.value)


def test_remote_builtin_exception_keeps_its_class(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"]
    with pytest.raises(ValueError, match="bad value"):
        client.call({}, "raise_builtin", text="bad value")


def test_remote_exception_of_other_module_is_remote_error(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"]
    with pytest.raises(oslo_messaging.RemoteError) as info:
        client.call({}, "raise_not_allowed", text="nope")
    assert info.value.exc_type == "NotAllowedError"
    assert info.value.value == "nope"


def test_context_round_trips(nubis_backend: Backend) -> None:
    ctxt = {
        "user_id": "u-1",
        "project_id": "p-1",
        "request_id": f"req-{uuid.uuid4()}",
        "roles": ["admin", "member"],
        "is_admin": True,
        "nested": {"quota": {"cores": 8}, "tags": ["x", None, 1.5]},
    }
    received = nubis_backend.shared()["client"].call(ctxt, "get_context")
    assert {k: received[k] for k in ctxt} == ctxt
    # Both drivers add the call-monitor timeout to the context (None here).
    assert received["client_timeout"] is None


def test_unserializable_argument_fails_at_send(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"]
    with pytest.raises((TypeError, ValueError)):
        client.call({}, "echo", value=object())
    with pytest.raises((TypeError, ValueError)):
        client.cast({}, "record", token=object())


def test_concurrent_callers_get_their_own_replies(nubis_backend: Backend) -> None:
    client = nubis_backend.shared()["client"]
    failures: list[str] = []
    servers_seen: set[str] = set()
    lock = threading.Lock()

    def caller(n: int) -> None:
        for i in range(50):
            try:
                total, server = client.call({"caller": n}, "add", a=n * 1000, b=i)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                with lock:
                    failures.append(f"caller {n} call {i}: {exc!r}")
                return
            with lock:
                servers_seen.add(server)
                if total != n * 1000 + i:
                    failures.append(f"caller {n} call {i}: got {total}")

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures, f"expected every caller its own replies, observed: {failures[:5]}"
    assert servers_seen == {"a", "b"}


def test_notifications_go_once_to_each_pool(nubis_backend: Backend) -> None:
    topic = nubis_backend.topic("notify")
    sinks = {"pool1": Recorder(), "pool2": Recorder()}
    for pool, sink in sinks.items():
        for member in ("x", "y"):
            nubis_backend.start_notification_listener(
                topic, NotificationEndpoint(f"{pool}-{member}", sink), pool=f"{topic}-{pool}"
            )
    notifier = nubis_backend.notifier(topic)
    tokens = [uuid.uuid4().hex for _ in range(6)]
    for token in tokens:
        # The Notifier drops plain-dict contexts; a RequestContext goes through.
        ctxt = oslo_context.RequestContext(request_id=f"req-{token}", user_id="u-1")
        notifier.info(ctxt, "conformance.event", {"token": token})

    for pool, sink in sinks.items():
        assert sink.wait_for(lambda items: len(items) >= len(tokens)), (
            f"pool {pool}: expected {len(tokens)} notifications, observed "
            f"{len(sink.snapshot())} in 10 s"
        )
    time.sleep(0.2)  # a duplicate would show up now
    for pool, sink in sinks.items():
        received = sink.snapshot()
        assert sorted(p["token"] for _, _, p, _ in received) == sorted(tokens), pool
        assert {event for _, event, _, _ in received} == {"conformance.event"}
        assert all(c["request_id"] == f"req-{p['token']}" for _, _, p, c in received)
        assert {c["user"] for _, _, _, c in received} == {"u-1"}
        members = {name for name, _, _, _ in received}
        assert members <= {f"{pool}-x", f"{pool}-y"}


def test_notification_is_stored_until_a_listener_exists(nubis_backend: Backend) -> None:
    topic = nubis_backend.topic("stored")
    token = uuid.uuid4().hex
    nubis_backend.notifier(topic).info({}, "conformance.stored", {"token": token})
    sink = Recorder()
    nubis_backend.start_notification_listener(topic, NotificationEndpoint("late", sink))
    assert sink.wait_for(lambda items: len(items) >= 1), (
        "a notification sent before its listener existed: expected it delivered once the "
        "listener starts, observed none in 10 s"
    )
    assert [p["token"] for _, _, p, _ in sink.snapshot()] == [token]


def test_messages_sent_while_server_is_down_wait_for_it(nubis_backend: Backend) -> None:
    topic = nubis_backend.topic("restart")
    first = RpcEndpoint("p")
    server = nubis_backend.start_server(topic, "p", first, track=False)
    client = nubis_backend.client(topic)
    assert client.call({}, "whoami") == "p"
    nubis_backend.stop_servers([server])

    to_server, to_topic, fanned = (uuid.uuid4().hex for _ in range(3))
    client.prepare(server="p").cast({}, "record", token=to_server)
    client.cast({}, "record", token=to_topic)
    client.prepare(fanout=True).cast({}, "record", token=fanned)

    again = RpcEndpoint("p")
    nubis_backend.start_server(topic, "p", again)
    assert again.casts.wait_for(lambda items: {to_server, to_topic} <= set(items)), (
        f"casts sent while the server was down: expected {sorted({to_server, to_topic})} "
        f"once it is back, observed {again.casts.snapshot()}"
    )
    assert client.prepare(server="p").call({}, "whoami") == "p"
    # Fanout reaches only listeners that existed when it was sent.
    assert fanned not in again.casts.snapshot()
    assert first.casts.snapshot() == []


def test_call_timeout_bound_holds_under_load(nubis_backend: Backend) -> None:
    """A timed-out call does not disturb the next ones on the same client."""
    client = nubis_backend.shared()["client"]
    with pytest.raises(oslo_messaging.MessagingTimeout):
        client.prepare(timeout=0.3).call({}, "sleep", seconds=0.6)
    results: list[Any] = [client.call({}, "echo", value=i) for i in range(20)]
    assert results == list(range(20))
