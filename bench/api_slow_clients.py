"""nubis-api under slow clients: latency of ``GET /v2.1/servers`` from a normal client
while 50 slow clients hold connections, against the same with no slow client.

The server process runs nubis-api alone (local identity, SQLite with 20 servers of the
client's project, ``[api] threads = 16``). This process is the client side, on loopback
only:

* the normal client: sequential ``GET /v2.1/servers`` on a keep-alive connection;
* each slow client: a connection sending a request one header line every
  ``--interval`` seconds (``X-Slow-N: ...``), never ending it, for a bounded number of
  lines; when the server closes it (``[api] request_read_timeout``), it reconnects,
  until the measurement ends.

Printed: p50/p99 in milliseconds with 0 and with N slow clients, measured in the same
run, and their ratio. The target is p99 < 1 s with 50 slow clients (before nubis-api
read requests in its event loop, 16 slow clients took every worker thread and every
normal request timed out).

Run: .venv/bin/python bench/api_slow_clients.py [--slow 50] [--requests 300]
[--interval 2]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile, seed_servers, start_process, stop_process  # noqa: E402

PASSWORD = "bench-secret"
SERVERS = 20


def serve(ready: Any, stop: Any, workdir: str) -> None:
    """The server side: nubis-api on a seeded SQLite database; writes its URL to a file."""
    from nubis.core import objects, rpc
    from nubis.core.api.identity import IdentityStore
    from nubis.core.api.service import APIService
    from nubis.core.conf import CONF
    from nubis.core.context import get_admin_context
    from nubis.core.db import migration
    from nubis.core.objects.base import install_indirection

    rpc.register_opts(CONF)
    CONF([], project="nubis")
    for name, value, group in (
        ("state_path", workdir, None),
        ("transport_url", f"inproc:///bench-{uuid.uuid4().hex[:8]}", None),
        ("connection", f"sqlite:///{workdir}/nubis.sqlite", "database"),
        ("api", "local", "indirection"),
        ("listen", "127.0.0.1", "api"),
        ("port", 0, "api"),
        ("threads", 16, "api"),
    ):
        CONF.set_override(name, value, group=group)
    migration.db_sync()
    objects.register_all()
    install_indirection()
    store = IdentityStore()
    store.create_user("bench-user", PASSWORD, project="bench", roles=("member",))
    project = store.project("bench").id
    ctx = get_admin_context()
    seed_servers(ctx, project, SERVERS)
    api = APIService(CONF)
    api.start()
    Path(workdir, "url.json").write_text(json.dumps({"api": api.url, "port": api.port}))
    ready.set()
    stop.wait()
    api.stop()


def token(url: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "bench-user",
                        "domain": {"name": "Default"},
                        "password": PASSWORD,
                    }
                },
            },
            "scope": {"project": {"name": "bench", "domain": {"name": "Default"}}},
        }
    }
    response = requests.post(f"{url}/identity/v3/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    return str(response.headers["X-Subject-Token"])


class SlowClient(threading.Thread):
    """One connection trickling a request's header lines (see the module docstring)."""

    def __init__(self, port: int, number: int, interval: float, max_lines: int) -> None:
        super().__init__(name=f"slow-{number}", daemon=True)
        self.port = port
        self.number = number
        self.interval = interval
        self.max_lines = max_lines
        self.done = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.sendall(b"GET /v2.1/servers HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self.connected.set()
        return sock

    def run(self) -> None:
        sock = self._connect()
        try:
            for line in range(self.max_lines):
                if self.done.wait(self.interval):
                    return
                try:
                    sock.sendall(f"X-Slow-{self.number}: line {line}\r\n".encode())
                except OSError:  # closed by the server's read deadline
                    sock.close()
                    self.reconnects += 1
                    sock = self._connect()
        finally:
            sock.close()


def measure(url: str, auth: str, count: int) -> dict[str, float]:
    session = requests.Session()
    headers = {"X-Auth-Token": auth}
    for _ in range(50):  # warm up the connection and the caches
        session.get(f"{url}/v2.1/servers", headers=headers, timeout=60).raise_for_status()
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        response = session.get(f"{url}/v2.1/servers", headers=headers, timeout=60)
        samples.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=50, help="slow clients (default 50)")
    parser.add_argument("--requests", type=int, default=300, help="requests per measurement")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between a slow client's lines"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nubis-bench-slow-") as workdir:
        proc, stop = start_process(serve, workdir)
        try:
            info = json.loads(Path(workdir, "url.json").read_text())
            url, port = info["api"], int(info["port"])
            auth = token(url)
            alone = measure(url, auth, args.requests)
            slow = [SlowClient(port, n, args.interval, max_lines=1000) for n in range(args.slow)]
            for client in slow:
                client.start()
            for client in slow:
                client.connected.wait(10)
            time.sleep(args.interval * 1.5)  # every slow client has sent a line or two
            try:
                crowded = measure(url, auth, args.requests)
            finally:
                for client in slow:
                    client.done.set()
                for client in slow:
                    client.join(10)
        finally:
            stop_process(proc, stop)
    print(f"GET /v2.1/servers ({SERVERS} servers), {args.requests} sequential requests")
    print(f"  0 slow clients:  p50 {alone['p50']:7.1f} ms   p99 {alone['p99']:7.1f} ms")
    print(
        f"  {args.slow} slow clients: p50 {crowded['p50']:7.1f} ms   p99 {crowded['p99']:7.1f} ms"
        f"   (slow clients reconnected {sum(c.reconnects for c in slow)} times)"
    )
    print(
        f"  ratio with/without: p50 {crowded['p50'] / alone['p50']:.2f}x, "
        f"p99 {crowded['p99'] / alone['p99']:.2f}x; target p99 < 1000 ms: "
        f"{'met' if crowded['p99'] < 1000 else 'MISSED'}"
    )
    return 0 if crowded["p99"] < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
