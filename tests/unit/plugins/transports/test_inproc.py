"""inproc-only behaviour of the ``inproc://`` oslo.messaging driver.

What RabbitMQ does too is covered by nubis.core.conformance.suites.transport; these cases
poke at what only an in-process driver can show (virtual host isolation, how
fast a poll wakes and stops, the batch contract, JSON fidelity at the driver
boundary, the direct hand-off's stop guarantee).
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import oslo_messaging
import pytest
from oslo_config import cfg

from nubis.plugins.transports import inproc

pytestmark = pytest.mark.timeout(30)

Target = oslo_messaging.Target


def _conf() -> Any:
    if getattr(cfg.CONF, "_args", None) is None:
        cfg.CONF([], project="nubis")
    return cfg.CONF


def _msg(method: str = "ping", **args: Any) -> dict[str, Any]:
    return {"method": method, "args": args, "namespace": None, "version": "1.0"}


@pytest.fixture
def vhost() -> str:
    return f"unit-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def transports() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for t in made:
        t.cleanup()


@pytest.fixture
def make_driver(vhost: str, transports: list[Any]) -> Any:
    def make(query: str = "", host: str | None = None, **kwargs: Any) -> inproc.InProcDriver:
        url = f"inproc:///{host or vhost}{query}"
        transport = oslo_messaging.get_rpc_transport(_conf(), url=url, **kwargs)
        transports.append(transport)
        driver = transport._driver
        assert isinstance(driver, inproc.InProcDriver)
        return driver

    return make


def poll_listener(driver: inproc.InProcDriver, topic: str, server: str = "s") -> Any:
    """The driver's poll-style listener for Target(topic, server)."""
    adapter = driver.listen(Target(topic=topic, server=server), 2, 0)
    listener = adapter._poll_style_listener
    assert isinstance(listener, inproc.InProcListener)
    return listener


class Replier:
    """A thread that polls a listener and answers each call via *handle*."""

    def __init__(self, listener: Any, handle: Any = None) -> None:
        self.listener = listener
        self.handle = handle or (lambda m: m.reply(m.message["args"]))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.listener.poll(timeout=None)
            if not batch:
                return
            for m in batch:
                self.handle(m)

    def stop(self) -> None:
        self.listener.stop()
        self.thread.join(5)


# --- loading and virtual hosts -------------------------------------------------------


def test_entry_point_loads_the_driver() -> None:
    transport = oslo_messaging.get_rpc_transport(_conf(), url="inproc://")
    assert isinstance(transport._driver, inproc.InProcDriver)
    assert transport._driver.virtual_host == inproc.DEFAULT_VIRTUAL_HOST
    assert transport._driver.delivery == "direct"


def test_unknown_delivery_mode_is_refused() -> None:
    with pytest.raises(Exception, match="delivery"):
        oslo_messaging.get_rpc_transport(_conf(), url="inproc://?delivery=carrier-pigeon")


def test_default_virtual_host_spellings_share_one_broker() -> None:
    drivers = [
        oslo_messaging.get_rpc_transport(_conf(), url=url)._driver
        for url in ("inproc://", "inproc:///", "inproc:////")
    ]
    assert len({id(d._broker) for d in drivers}) == 1


def test_virtual_hosts_are_isolated(make_driver: Any) -> None:
    here = make_driver(host="vh-a-" + uuid.uuid4().hex)
    here_too = make_driver(host=here.virtual_host)
    elsewhere = make_driver(host="vh-b-" + uuid.uuid4().hex)
    assert here._broker is here_too._broker is not elsewhere._broker
    replier = Replier(poll_listener(here, "iso"))
    try:
        target = Target(topic="iso")
        assert here_too.send(target, {}, _msg(x=1), wait_for_reply=True, timeout=5) == {"x": 1}
        with pytest.raises(oslo_messaging.MessagingTimeout):
            elsewhere.send(target, {}, _msg(x=2), wait_for_reply=True, timeout=0.2)
    finally:
        replier.stop()


def test_reset_forgets_a_virtual_host(make_driver: Any, vhost: str) -> None:
    before = make_driver()
    poll_listener(before, "kept")
    before.send(Target(topic="kept"), {}, _msg())
    inproc.reset(vhost)
    after = make_driver()
    assert after._broker is not before._broker
    assert after._broker.queues == {}


# --- poll: event-driven wake-up, stop, timeout, batches ------------------------------


def test_poll_wakes_as_soon_as_a_message_arrives(make_driver: Any) -> None:
    driver = make_driver()
    listener = poll_listener(driver, "wake")
    got: list[float] = []

    def poll() -> None:
        batch = listener.poll(timeout=10)
        got.append(time.monotonic())
        assert len(batch) == 1

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.1)  # the poller is blocked by now
    sent = time.monotonic()
    driver.send(Target(topic="wake"), {}, _msg())
    thread.join(5)
    assert got and got[0] - sent < 0.05
    listener.stop()


def test_stop_wakes_a_blocked_poll_at_once(make_driver: Any) -> None:
    listener = poll_listener(make_driver(), "stop")
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(listener.poll(timeout=None)))
    thread.start()
    time.sleep(0.1)
    stopped = time.monotonic()
    listener.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - stopped < 0.05
    assert result == [[]]
    assert listener.poll(timeout=5) == [], "a stopped listener returns at once"


def test_poll_timeout_returns_empty(make_driver: Any) -> None:
    listener = poll_listener(make_driver(), "timeout")
    started = time.monotonic()
    assert listener.poll(timeout=0.1) == []
    assert 0.09 <= time.monotonic() - started < 0.5
    listener.stop()


def test_batch_poll_contract(make_driver: Any) -> None:
    driver = make_driver()
    listener = poll_listener(driver, "batch")
    target = Target(topic="batch")
    for i in range(5):
        driver.send(target, {}, _msg(i=i))

    started = time.monotonic()
    first = listener.poll(timeout=1, batch_size=3, batch_timeout=0.2)
    assert [m.message["args"]["i"] for m in first] == [0, 1, 2]
    assert time.monotonic() - started < 0.05, "a full batch returns at once"

    started = time.monotonic()
    rest = listener.poll(timeout=5, batch_size=3, batch_timeout=0.2)
    assert [m.message["args"]["i"] for m in rest] == [3, 4]
    assert 0.15 <= time.monotonic() - started < 1.0, "a partial batch waits batch_timeout"

    # The batch timer starts at the first message; later ones still join it.
    batches: list[Any] = []
    thread = threading.Thread(
        target=lambda: batches.append(listener.poll(timeout=5, batch_size=3, batch_timeout=2))
    )
    thread.start()
    time.sleep(0.05)
    started = time.monotonic()
    driver.send(target, {}, _msg(i=5))
    time.sleep(0.05)
    driver.send(target, {}, _msg(i=6))
    driver.send(target, {}, _msg(i=7))
    thread.join(5)
    assert [m.message["args"]["i"] for m in batches[0]] == [5, 6, 7]
    assert time.monotonic() - started < 1.0

    # timeout bounds a batch when batch_timeout is None.
    started = time.monotonic()
    driver.send(target, {}, _msg(i=8))
    assert len(listener.poll(timeout=0.2, batch_size=3)) == 1
    assert 0.15 <= time.monotonic() - started < 1.0
    listener.stop()


def test_stop_returns_what_the_poll_already_took(make_driver: Any) -> None:
    driver = make_driver()
    listener = poll_listener(driver, "partial")
    driver.send(Target(topic="partial"), {}, _msg(i=1))
    result: list[Any] = []
    thread = threading.Thread(
        target=lambda: result.append(listener.poll(batch_size=10, batch_timeout=30))
    )
    thread.start()
    time.sleep(0.1)
    listener.stop()
    thread.join(5)
    assert [m.message["args"]["i"] for m in result[0]] == [1]


def test_stopped_listener_leaves_messages_for_the_next(make_driver: Any) -> None:
    driver = make_driver()
    poll_listener(driver, "handoff").stop()
    for i in range(3):
        driver.send(Target(topic="handoff", server="s"), {}, _msg(i=i))
    successor = poll_listener(driver, "handoff")
    got = successor.poll(timeout=1, batch_size=3, batch_timeout=0.1)
    assert [m.message["args"]["i"] for m in got] == [0, 1, 2]
    successor.stop()


def test_requeue_puts_the_message_back_at_the_head(make_driver: Any) -> None:
    driver = make_driver()
    driver.require_features(requeue=True)
    listener = poll_listener(driver, "requeue")
    target = Target(topic="requeue")
    driver.send(target, {}, _msg(i=1))
    driver.send(target, {}, _msg(i=2))
    [first] = listener.poll(timeout=1)
    first.requeue()
    again = listener.poll(timeout=1, batch_size=2, batch_timeout=0.1)
    assert [m.message["args"]["i"] for m in again] == [1, 2]
    assert again[0].msg_id == first.msg_id
    listener.stop()


# --- routing details ----------------------------------------------------------------


def test_fanout_reaches_only_listeners_that_exist_at_send_time(make_driver: Any) -> None:
    driver = make_driver()
    early = poll_listener(driver, "fan", "early")
    driver.send(Target(topic="fan", fanout=True), {}, _msg(n=1))
    late = poll_listener(driver, "fan", "late")
    driver.send(Target(topic="fan", fanout=True), {}, _msg(n=2))
    assert [m.message["args"]["n"] for m in early.poll(1, 5, 0.1)] == [1, 2]
    assert [m.message["args"]["n"] for m in late.poll(1, 5, 0.1)] == [2]
    early.stop()
    late.stop()
    assert "fan" not in driver._broker.fanout, "stopped listeners drop their fanout queues"


def test_at_least_once_send_to_nowhere_is_undeliverable(make_driver: Any) -> None:
    driver = make_driver()
    with pytest.raises(oslo_messaging.MessageUndeliverable):
        driver.send(
            Target(topic="void"),
            {},
            _msg(),
            transport_options=oslo_messaging.TransportOptions(at_least_once=True),
        )
    driver.send(Target(topic="void"), {}, _msg())  # plain cast: dropped silently


def test_notification_pools_see_only_what_was_sent_after_they_exist(make_driver: Any) -> None:
    driver = make_driver("?delivery=poll")
    target = Target(topic="notif")
    driver.send_notification(Target(topic="notif.info"), {}, {"n": 1}, 2.0)
    pool = driver.listen_for_notifications([(target, "info")], "p1", 2, 0)._poll_style_listener
    default = driver.listen_for_notifications([(target, "info")], None, 2, 0)
    driver.send_notification(Target(topic="notif.info"), {}, {"n": 2}, 2.0)
    assert [m.message["n"] for m in pool.poll(1, 5, 0.1)] == [2]
    default_listener = default._poll_style_listener
    assert [m.message["n"] for m in default_listener.poll(1, 5, 0.1)] == [1, 2]
    pool.stop()
    default_listener.stop()


# --- calls: replies, heartbeats, JSON fidelity ---------------------------------------


def test_call_monitor_heartbeats_and_expiry(make_driver: Any) -> None:
    driver = make_driver()
    seen: list[Any] = []

    def slow_with_heartbeats(m: Any) -> None:
        seen.append((m.client_timeout, m.ctxt["client_timeout"]))
        if m.message["args"].get("beat"):
            for _ in range(6):
                time.sleep(0.1)
                m.heartbeat()
            m.reply("done")
        # else: never answer

    replier = Replier(poll_listener(driver, "cm"), slow_with_heartbeats)
    try:
        target = Target(topic="cm")
        result = driver.send(
            target, {}, _msg(beat=True), wait_for_reply=True, timeout=5, call_monitor_timeout=0.3
        )
        assert result == "done"
        started = time.monotonic()
        with pytest.raises(oslo_messaging.MessagingTimeout):
            driver.send(
                target, {}, _msg(), wait_for_reply=True, timeout=5, call_monitor_timeout=0.3
            )
        assert 0.25 <= time.monotonic() - started < 1.0
        assert seen == [(0.3, 0.3), (0.3, 0.3)]
    finally:
        replier.stop()


def test_json_fidelity_at_the_driver_boundary(make_driver: Any) -> None:
    driver = make_driver()
    listener = poll_listener(driver, "json")
    target = Target(topic="json")
    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    payload: dict[str, Any] = {"when": when, "pair": (1, 2), "keys": {1: "one"}, "list": [1, 2]}
    driver.send(target, {"user": "u"}, _msg(**payload))
    payload["list"].append(3)  # the receiver must not see the sender's objects
    [m] = listener.poll(timeout=1)
    assert m.message["args"] == {
        "when": "2024-05-06T07:08:09.000000",
        "pair": [1, 2],
        "keys": {"1": "one"},
        "list": [1, 2],
    }
    assert m.ctxt == {"user": "u", "client_timeout": None}

    with pytest.raises(ValueError):
        driver.send(target, {}, _msg(thing=object()))
    with pytest.raises(ValueError):
        driver.send(target, {"bad": object()}, _msg())
    assert listener.poll(timeout=0.05) == [], "nothing half-sent"
    listener.stop()


def test_unserializable_reply_fails_in_reply_and_caller_times_out(make_driver: Any) -> None:
    driver = make_driver()
    errors: list[Exception] = []

    def bad_reply(m: Any) -> None:
        try:
            m.reply(object())
        except Exception as exc:  # noqa: BLE001 - what oslo's server would log
            errors.append(exc)

    replier = Replier(poll_listener(driver, "badreply"), bad_reply)
    try:
        with pytest.raises(oslo_messaging.MessagingTimeout):
            driver.send(Target(topic="badreply"), {}, _msg(), wait_for_reply=True, timeout=0.3)
        assert len(errors) == 1 and isinstance(errors[0], ValueError)
    finally:
        replier.stop()


def test_remote_failure_travels_serialized(make_driver: Any) -> None:
    driver = make_driver()

    def fail(m: Any) -> None:
        try:
            raise KeyError("missing")
        except KeyError:
            import sys

            m.reply(failure=sys.exc_info())

    replier = Replier(poll_listener(driver, "fail"), fail)
    try:
        with pytest.raises(KeyError) as info:
            driver.send(Target(topic="fail"), {}, _msg(), wait_for_reply=True, timeout=5)
        assert "missing" in str(info.value)
        assert "Traceback" in str(info.value), "the remote traceback comes along"
    finally:
        replier.stop()


def test_late_reply_is_dropped(make_driver: Any) -> None:
    driver = make_driver()
    held: list[Any] = []
    replier = Replier(poll_listener(driver, "late"), held.append)
    try:
        with pytest.raises(oslo_messaging.MessagingTimeout):
            driver.send(Target(topic="late"), {}, _msg(), wait_for_reply=True, timeout=0.1)
        held[0].reply("too late")  # must neither raise nor block
        held[0].heartbeat()
    finally:
        replier.stop()


# --- direct hand-off mode -----------------------------------------------------------


def test_direct_listener_gets_backlog_in_order_at_start(make_driver: Any) -> None:
    driver = make_driver()
    listener = driver.listen(Target(topic="direct", server="s"), 1, None)
    assert isinstance(listener, inproc.InProcDirectListener)
    for i in range(3):
        driver.send(Target(topic="direct"), {}, _msg(i=i))
    got: list[int] = []
    listener.start(lambda batch: got.extend(m.message["args"]["i"] for m in batch))
    assert got == [0, 1, 2]
    driver.send(Target(topic="direct", server="s"), {}, _msg(i=3))
    assert got == [0, 1, 2, 3]
    listener.stop()
    listener.cleanup()


def test_direct_stop_means_no_callback_and_no_loss(make_driver: Any) -> None:
    driver = make_driver()
    listener = driver.listen(Target(topic="race", server="s"), 1, None)
    delivered: list[int] = []
    after_stop: list[int] = []
    stopped = threading.Event()

    enough = threading.Event()

    def on_incoming(batch: list[Any]) -> None:
        for m in batch:
            (after_stop if stopped.is_set() else delivered).append(m.message["args"]["i"])
        if len(delivered) >= 500:
            enough.set()

    listener.start(on_incoming)
    sent: list[int] = []
    sent_lock = threading.Lock()

    def sender(base: int) -> None:
        for i in range(base, base + 2000):
            driver.send(Target(topic="race"), {}, _msg(i=i))
            with sent_lock:
                sent.append(i)

    senders = [threading.Thread(target=sender, args=(n * 10_000,)) for n in range(4)]
    for t in senders:
        t.start()
    assert enough.wait(5)
    listener.stop()
    stopped.set()
    for t in senders:
        t.join(10)
    assert after_stop == []
    successor = poll_listener(driver, "race")
    rest = [m.message["args"]["i"] for m in successor.poll(1, 10_000, 0.1)]
    assert sorted(delivered + rest) == sorted(sent), "every message delivered exactly once"
    assert delivered and rest, "stop() raced with the senders"
    successor.stop()


def test_direct_callback_failure_requeues_and_detaches(make_driver: Any) -> None:
    driver = make_driver()
    broken = driver.listen(Target(topic="broken", server="s"), 1, None)

    def explode(batch: list[Any]) -> None:
        raise RuntimeError("executor gone")

    broken.start(explode)
    driver.send(Target(topic="broken"), {}, _msg(i=1))
    healthy = poll_listener(driver, "broken", "t")
    assert [m.message["args"]["i"] for m in healthy.poll(timeout=1)] == [1]
    healthy.stop()


# --- load ---------------------------------------------------------------------------


def test_many_concurrent_callers_two_servers(make_driver: Any) -> None:
    for query in ("", "?delivery=poll"):
        driver = make_driver(query, host=f"load-{uuid.uuid4().hex[:8]}")
        repliers = [Replier(poll_listener(driver, "load", name)) for name in ("s1", "s2")]
        failures: list[str] = []

        def caller(n: int, driver: Any = driver, failures: list[str] = failures) -> None:
            for i in range(200):
                got = driver.send(
                    Target(topic="load"), {}, _msg(n=n, i=i), wait_for_reply=True, timeout=10
                )
                if got != {"n": n, "i": i}:
                    failures.append(f"{n}/{i}: {got}")

        threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        for r in repliers:
            r.stop()
        assert not failures, failures[:3]
