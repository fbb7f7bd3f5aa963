"""RPC latency and cast throughput: ``inproc://`` against oslo's in-process peers.

Measured in ONE run, each transport alone with one in-process oslo.messaging
threading RPC server and one RPC client (one after the other: kombu's and
fake's background threads would otherwise steal the GIL from the others):

* RPC call latency: p50 / p99 / mean of ``client.call(ctxt, 'ping', value=i)``
  after a warm-up;
* cast throughput: N casts, timed until the server has processed all of them;
* rows: ``inproc://`` (direct hand-off, the default), ``inproc://?delivery=poll``
  (poll-style listener thread), ``(oslo floor)`` (oslo's RPC client, server,
  executor and dispatcher over a null transport that hands the message object
  straight to the server: the least any transport can cost through oslo's RPC
  stack), ``kombu+memory:////`` (oslo's rabbit driver over kombu's in-memory
  transport) and ``fake://`` (oslo's test driver, polls every 50 ms, so it
  gets far fewer iterations);
* the driver alone, for inproc and kombu+memory: ``driver.send`` with
  wait_for_reply to a thread that polls the driver's listener and replies (no
  RPC client/server/executor) — the transport's own cost;
* inproc's JSON wire-fidelity cost per call.

Exit status is non-zero when inproc's RPC call p50 is not at least
``--min-ratio`` (default 10) times faster than kombu+memory's.

Run: ``.venv/bin/python bench/transport_latency.py [--quick] [--json]``
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import statistics
import sys
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

warnings.simplefilter("ignore")

import oslo_messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_messaging._drivers import base  # noqa: E402
from oslo_serialization import jsonutils  # noqa: E402

from nubis.plugins.transports import inproc  # noqa: E402

CTXT = {
    "user_id": "u-1",
    "project_id": "p-1",
    "request_id": "req-" + "0" * 32,
    "roles": ["member"],
    "is_admin": False,
}


class Endpoint:
    """The server side: a ping that echoes and a cast counter."""

    def __init__(self) -> None:
        self.casts = 0
        self.expected = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def ping(self, ctxt: dict[str, Any], value: Any = None) -> Any:
        return value

    def bump(self, ctxt: dict[str, Any]) -> None:
        with self._lock:
            self.casts += 1
            if self.casts == self.expected:
                self.done.set()


@dataclass
class Result:
    url: str
    calls: int
    casts: int
    lat_us: list[float] = field(default_factory=list)
    cast_seconds: float = 0.0
    stop_seconds: float = 0.0

    @property
    def p50(self) -> float:
        return percentile(self.lat_us, 50)

    @property
    def p99(self) -> float:
        return percentile(self.lat_us, 99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.lat_us)

    @property
    def casts_per_s(self) -> float:
        return self.casts / self.cast_seconds if self.cast_seconds else 0.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[idx]


class _NullIncoming(base.RpcIncomingMessage):
    def __init__(self, ctxt: Any, message: Any, replies: queue.SimpleQueue[Any] | None) -> None:
        super().__init__(ctxt, message)
        self._replies = replies

    def reply(self, reply: Any = None, failure: Any = None) -> None:
        if self._replies is not None:
            self._replies.put(reply)

    def heartbeat(self) -> None:
        pass

    def requeue(self) -> None:
        pass


class _NullListener(base.Listener):
    def cleanup(self) -> None:
        pass


class _NullDriver:
    """The oslo floor: no transport at all. send() hands the message object to
    the server's on_incoming callback and takes the reply object back; no
    queues, no JSON, no routing. What remains is oslo.messaging's own RPC
    client, server, executor and dispatcher cost."""

    def __init__(self, conf: Any) -> None:
        self.conf = conf
        self.listener: _NullListener | None = None

    def require_features(self, requeue: bool = False) -> None:
        pass

    def listen(self, target: Any, batch_size: int, batch_timeout: Any) -> _NullListener:
        self.listener = _NullListener(batch_size, batch_timeout)
        return self.listener

    def send(
        self,
        target: Any,
        ctxt: Any,
        message: Any,
        wait_for_reply: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        assert self.listener is not None and self.listener.on_incoming_callback is not None
        replies: queue.SimpleQueue[Any] | None = queue.SimpleQueue() if wait_for_reply else None
        self.listener.on_incoming_callback([_NullIncoming(ctxt, message, replies)])
        return replies.get(timeout=timeout) if replies is not None else None

    def cleanup(self) -> None:
        pass


FLOOR = "(oslo floor)"


class Rig:
    """One transport with one threading RPC server and one client."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url == FLOOR:
            self.transport = oslo_messaging.get_rpc_transport(cfg.CONF, url="inproc:///floor")
            self.transport._driver = _NullDriver(cfg.CONF)
        else:
            self.transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        self.endpoint = Endpoint()
        self.server = oslo_messaging.get_rpc_server(
            self.transport,
            oslo_messaging.Target(topic=topic, server="bench"),
            [self.endpoint],
            executor="threading",
        )
        self.server.start()
        self.client = oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic=topic), timeout=30
        )
        self.lat_us: list[float] = []
        self.cast_seconds = 0.0
        self.casts = 0
        self.stop_seconds = 0.0

    def warm_up(self, n: int) -> None:
        for i in range(n):
            self.client.call(CTXT, "ping", value=i)

    def calls(self, n: int) -> None:
        clock = time.perf_counter
        call = self.client.call
        lat = self.lat_us
        for i in range(n):
            t0 = clock()
            reply = call(CTXT, "ping", value=i)
            lat.append((clock() - t0) * 1e6)
            if reply != i:
                raise AssertionError(f"{self.url}: wrong reply {reply!r} for {i}")

    def cast_burst(self, n: int) -> None:
        endpoint = self.endpoint
        endpoint.expected = endpoint.casts + n
        endpoint.done.clear()
        clock = time.perf_counter
        t0 = clock()
        for _ in range(n):
            self.client.cast(CTXT, "bump")
        if not endpoint.done.wait(60):
            raise AssertionError(f"{self.url}: only {endpoint.casts} casts processed")
        self.cast_seconds += clock() - t0
        self.casts += n

    def stop(self) -> None:
        t0 = time.perf_counter()
        self.server.stop()
        self.server.wait()
        self.stop_seconds = time.perf_counter() - t0
        self.transport.cleanup()

    def result(self) -> Result:
        r = Result(self.url, len(self.lat_us), self.casts, self.lat_us)
        r.cast_seconds = self.cast_seconds
        r.stop_seconds = self.stop_seconds
        return r


def measure_all(plan: dict[str, tuple[int, int, int]]) -> dict[str, Result]:
    """Measure each transport alone (only its own server running: kombu's and
    fake's background threads would otherwise steal the GIL from the others),
    after a throw-away warm-up of the interpreter."""
    warm = Rig("inproc:///warm-up")
    warm.warm_up(300)
    warm.stop()
    results = {}
    for url, (warmup, calls, casts) in plan.items():
        rig = Rig(url)
        try:
            rig.warm_up(warmup)
            rig.calls(calls)
            rig.cast_burst(casts)
        finally:
            rig.stop()
        results[url] = rig.result()
    return results


def measure_driver_only(url: str, calls: int) -> list[float]:
    """Driver round trip, no RPC client/server/executor: ``driver.send`` with
    wait_for_reply against one thread that polls the driver's poll-style
    listener and replies. This is the transport's own cost."""
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    driver = transport._driver
    # batch_size 2 selects inproc's poll-style listener (direct mode is for 1);
    # other drivers always return oslo's PollStyleListenerAdapter.
    topic = f"drv-{uuid.uuid4().hex[:8]}"
    adapter = driver.listen(oslo_messaging.Target(topic=topic, server="s"), 2, 0)
    listener = adapter._poll_style_listener
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            for msg in listener.poll(timeout=0.5, batch_size=1):
                msg.acknowledge()
                msg.reply(msg.message["args"]["value"])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    target = oslo_messaging.Target(topic=topic)
    clock = time.perf_counter
    lat: list[float] = []
    warmup = max(10, calls // 4)
    for i in range(calls + warmup):
        msg = {"method": "ping", "args": {"value": i}, "namespace": None, "version": "1.0"}
        t0 = clock()
        reply = driver.send(target, dict(CTXT), msg, wait_for_reply=True, timeout=10)
        if i >= warmup:
            lat.append((clock() - t0) * 1e6)
        if reply != i:
            raise AssertionError(f"{url} driver: wrong reply {reply!r} for {i}")
    stopping.set()
    listener.stop()
    thread.join(5)
    listener.cleanup()
    transport.cleanup()
    return lat


def json_cost_us(n: int = 20000) -> float:
    """What inproc's JSON fidelity costs per call: request and reply, both ways,
    with the driver's own encoder/decoder (jsonutils.dumps/loads semantics)."""
    msg = {"method": "ping", "args": {"value": 12345}, "namespace": None, "version": "1.0"}
    encode, decode = inproc._encode, inproc._decode
    assert encode({"ctxt": CTXT, "message": msg}) == jsonutils.dumps({"ctxt": CTXT, "message": msg})
    clock = time.perf_counter
    t0 = clock()
    for _ in range(n):
        decode(encode({"ctxt": CTXT, "message": msg}))
        decode(encode({"result": 12345, "failure": None, "ending": True}))
    return (clock() - t0) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (a few seconds)")
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=10.0,
        help="required kombu+memory/inproc RPC call p50 ratio (default 10)",
    )
    parser.add_argument("--json", action="store_true", help="also print results as JSON")
    args = parser.parse_args(argv)

    if getattr(cfg.CONF, "_args", None) is None:
        cfg.CONF([], project="nubis")
    # kombu's memory transport warns once per connection that it cannot heartbeat.
    logging.getLogger("oslo.messaging").setLevel(logging.ERROR)

    # url: (warm-up calls, measured calls, casts)
    if args.quick:
        plan = {
            "inproc://": (200, 500, 2000),
            "inproc://?delivery=poll": (200, 500, 2000),
            FLOOR: (200, 500, 2000),
            "kombu+memory:////": (100, 300, 500),
            "fake://": (2, 10, 100),
        }
        driver_calls = {"inproc://": 2000, "kombu+memory:////": 300}
    else:
        plan = {
            "inproc://": (500, 2000, 5000),
            "inproc://?delivery=poll": (500, 2000, 5000),
            FLOOR: (500, 2000, 5000),
            "kombu+memory:////": (200, 2000, 5000),
            "fake://": (3, 40, 300),
        }
        driver_calls = {"inproc://": 10000, "kombu+memory:////": 1000}

    started = time.perf_counter()
    results = measure_all(plan)
    driver = {url: measure_driver_only(url, n) for url, n in driver_calls.items()}
    json_us = json_cost_us(5000 if args.quick else 20000)
    total = time.perf_counter() - started

    inproc = results["inproc://"]
    floor = results[FLOOR]
    kombu = results["kombu+memory:////"]
    fake = results["fake://"]

    print(
        f"transport latency ({'quick' if args.quick else 'full'} run, python "
        f"{sys.version.split()[0]}; one in-process oslo.messaging threading RPC server each)"
    )
    print()
    header = (
        f"{'RPC via oslo client/server':<26}{'calls':>7}{'p50 µs':>10}{'p99 µs':>10}"
        f"{'mean µs':>10}{'casts':>7}{'casts/s':>9}{'stop s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results.values():
        print(
            f"{r.url:<26}{len(r.lat_us):>7}{r.p50:>10.1f}{r.p99:>10.1f}{r.mean:>10.1f}"
            f"{r.casts:>7}{r.casts_per_s:>9.0f}{r.stop_seconds:>8.2f}"
        )
    print()
    print(f"{'driver alone (send+poll+reply)':<33}{'calls':>7}{'p50 µs':>10}{'p99 µs':>10}")
    for url, lat in driver.items():
        print(f"{url:<33}{len(lat):>7}{percentile(lat, 50):>10.1f}{percentile(lat, 99):>10.1f}")
    print()
    print(
        f"{FLOOR} = oslo's own RPC client+server+executor+dispatcher with a null "
        f"transport (no queues, no JSON)"
    )
    print(f"inproc transport overhead (inproc p50 - floor p50): {inproc.p50 - floor.p50:6.1f} µs")
    print(f"inproc JSON wire fidelity (request + reply, encode + decode): {json_us:6.1f} µs")
    print()
    call_ratio = kombu.p50 / inproc.p50
    floor_ratio = kombu.p50 / floor.p50
    fake_ratio = fake.p50 / inproc.p50
    drv_ratio = percentile(driver["kombu+memory:////"], 50) / percentile(driver["inproc://"], 50)
    cast_ratio = inproc.casts_per_s / kombu.casts_per_s if kombu.casts_per_s else 0.0
    print(
        f"RPC call p50   kombu+memory / inproc = {call_ratio:7.1f}x"
        f"   (required >= {args.min_ratio:g}x; the floor itself: {floor_ratio:.1f}x)"
    )
    print(f"RPC call p50   fake / inproc         = {fake_ratio:7.1f}x")
    print(f"driver p50     kombu+memory / inproc = {drv_ratio:7.1f}x")
    print(f"casts/s        inproc / kombu+memory = {cast_ratio:7.1f}x")
    print(f"total {total:.1f} s")

    if args.json:
        print(
            json.dumps(
                {
                    url: {
                        "p50_us": r.p50,
                        "p99_us": r.p99,
                        "mean_us": r.mean,
                        "casts_per_s": r.casts_per_s,
                        "stop_s": r.stop_seconds,
                    }
                    for url, r in results.items()
                }
                | {
                    "driver_only": {
                        url: {"p50_us": percentile(lat, 50), "p99_us": percentile(lat, 99)}
                        for url, lat in driver.items()
                    },
                    "json_us": json_us,
                    "ratio_kombu_inproc": call_ratio,
                    "ratio_kombu_floor": floor_ratio,
                    "ratio_fake_inproc": fake_ratio,
                    "ratio_driver_kombu_inproc": drv_ratio,
                }
            )
        )

    if call_ratio < args.min_ratio:
        print(
            f"FAIL: inproc RPC call p50 is {call_ratio:.1f}x faster than kombu+memory; "
            f"required {args.min_ratio:g}x (oslo's floor alone is {floor_ratio:.1f}x)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
