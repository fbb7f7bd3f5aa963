"""nubis-api from a second process: ``GET /servers/detail`` with 1,000 servers, and
server create.

The server process runs the embedded default's services (conductor, scheduler, two fake
compute hosts on ``inproc://``, SQLite in WAL mode) and nubis-api (waitress, local
identity). It seeds 1,000 ACTIVE servers of one project. This process is the client
(``requests``, keep-alive connections).

Measured, each as latency p50/p99 of sequential requests and as requests/s with
``--threads`` concurrent clients:

* ``GET /v2.1/servers/detail`` (1,000 servers in one page, microversion 2.60), against
  a raw peer in the same server process on the same HTTP server (waitress, as
  nubis-api): a bare WSGI app that
  runs the same SQL query and dumps the rows as JSON (no auth, no policy, no objects,
  no views). The ratio nubis/raw is what the whole API stack costs on top of the query;
* ``POST /v2.1/servers`` (202 once the instance is recorded and handed to the
  conductor; the build goes on asynchronously).

Run: .venv/bin/python bench/api_servers.py [--requests N] [--threads T] [--quick]
"""

from __future__ import annotations

import argparse
import json
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

SERVERS = 1000
PASSWORD = "bench-secret"


def serve(ready: Any, stop: Any, workdir: str) -> None:
    """The server side: services, nubis-api, the raw peer; writes its URLs to a file."""
    from sqlalchemy import text

    from nubis.core import objects, rpc
    from nubis.core.api.http_server import HTTPServer
    from nubis.core.api.identity import IdentityStore
    from nubis.core.api.service import APIService
    from nubis.core.conf import CONF
    from nubis.core.context import get_admin_context
    from nubis.core.db import engine, migration
    from nubis.core.objects.base import install_indirection
    from nubis.core.service import Service
    from nubis.plugins.virt import fake

    rpc.register_opts(CONF)
    CONF([], project="nubis")
    for group, opts in fake.list_opts():
        CONF.register_opts(opts, group=group)
    tag = uuid.uuid4().hex[:8]
    for name, value, group in (
        ("state_path", workdir, None),
        ("transport_url", f"inproc:///bench-{tag}", None),
        ("periodic_enable", False, None),
        ("connection", f"sqlite:///{workdir}/nubis.sqlite", "database"),
        ("api", "local", "indirection"),
        ("virt_driver", "fake", "compute"),
        ("vcpus", 100000, "fake_driver"),
        ("memory_mb", 10**8, "fake_driver"),
        ("port", 0, "api"),
        ("threads", 16, "api"),
        # 1,000 servers of one project, and more created: no quota in the way
        ("instances", -1, "quota"),
        ("cores", -1, "quota"),
        ("ram", -1, "quota"),
    ):
        CONF.set_override(name, value, group=group)
    migration.db_sync()
    objects.register_all()
    install_indirection()
    services = [Service.create("conductor", host="cond"), Service.create("scheduler", host="sched")]
    services += [Service.create("compute", host=host) for host in ("cmp1", "cmp2")]
    for service in services:
        service.start()
    deadline = time.monotonic() + 60
    while len(objects.ComputeNodeList.get_all(get_admin_context())) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("the compute hosts did not report their nodes within 60 s")
        time.sleep(0.05)
    services[1].manager.refresh_host_states()  # the scheduler sees both nodes from the start

    store = IdentityStore()
    store.create_user("bench-admin", PASSWORD, project="bench-admin", roles=("admin",))
    store.create_user("bench-user", PASSWORD, project="bench", roles=("member",))
    project = store.project("bench").id
    ctx = get_admin_context()
    seed_servers(ctx, project, SERVERS)

    api = APIService(CONF)
    api.start()

    db = engine.get_engine()
    query = text("SELECT * FROM instances WHERE project_id = :p AND deleted = 0 ORDER BY id")

    def raw_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with db.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query, {"p": project})]
        body = json.dumps({"servers": rows}, default=str).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    raw = HTTPServer(
        raw_app,
        "127.0.0.1",
        0,
        threads=16,
        idle_timeout=120,
        read_timeout=30,
        max_connections=500,
        max_header_size=65536,
        max_body_size=1 << 20,
        ident="raw-peer",
    )
    threading.Thread(target=raw.serve, daemon=True).start()
    Path(workdir, "urls.json").write_text(
        json.dumps(
            {
                "api": api.url,
                "raw": f"http://127.0.0.1:{raw.port}",
            }
        )
    )
    ready.set()
    stop.wait()
    raw.stop(5)
    api.stop()
    for service in reversed(services):
        service.stop()


def token(url: str, user: str, project: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": PASSWORD}
                },
            },
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }
    response = requests.post(f"{url}/identity/v3/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    return str(response.headers["X-Subject-Token"])


def measure(call: Any, count: int, threads: int) -> dict[str, float]:
    """Latency of *count* sequential calls, then requests/s of *threads* clients."""
    call(requests.Session())
    session = requests.Session()
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        call(session)
        samples.append((time.perf_counter() - began) * 1000)
    per_thread = max(1, count // threads)
    errors: list[BaseException] = []

    def client() -> None:
        own = requests.Session()
        try:
            for _ in range(per_thread):
                call(own)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(600)
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return {
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "rps": per_thread * threads / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="requests per measurement")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients")
    parser.add_argument("--quick", action="store_true", help="20 requests per measurement")
    args = parser.parse_args()
    count = 20 if args.quick else args.requests

    workdir = tempfile.mkdtemp(prefix="nubis-bench-api-")
    print(f"starting the services and seeding {SERVERS} servers ...", flush=True)
    proc, stop = start_process(serve, workdir)
    try:
        urls = json.loads(Path(workdir, "urls.json").read_text())
        api = urls["api"]
        user = {
            "X-Auth-Token": token(api, "bench-user", "bench"),
            "OpenStack-API-Version": "compute 2.60",
        }

        def detail(session: requests.Session) -> None:
            response = session.get(f"{api}/v2.1/servers/detail", headers=user, timeout=60)
            assert response.status_code == 200 and len(response.json()["servers"]) >= SERVERS

        def raw(session: requests.Session) -> None:
            response = session.get(f"{urls['raw']}/", timeout=60)
            assert response.status_code == 200 and len(response.json()["servers"]) >= SERVERS

        body = {"server": {"name": "bench", "flavorRef": "bench.tiny", "networks": "none"}}

        def create(session: requests.Session) -> None:
            response = session.post(f"{api}/v2.1/servers", json=body, headers=user, timeout=60)
            assert response.status_code == 202, response.text

        results = {
            "GET /servers/detail (1,000 servers)": measure(detail, count, args.threads),
            "raw peer: same query + json.dumps": measure(raw, count, args.threads),
            "POST /servers": measure(create, count, args.threads),
        }
    finally:
        stop_process(proc, stop)

    print(
        f"\nnubis-api, client in a second process; {count} sequential requests, "
        f"then {args.threads} concurrent clients\n"
    )
    print(f"{'operation':<40} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9}")
    for name, row in results.items():
        print(f"{name:<40} {row['p50']:>9.1f} {row['p99']:>9.1f} {row['rps']:>9.1f}")
    nubis, peer = (
        results["GET /servers/detail (1,000 servers)"],
        results["raw peer: same query + json.dumps"],
    )
    print(
        f"\nGET /servers/detail nubis/raw: p50 {nubis['p50'] / peer['p50']:.1f}x, "
        f"req/s {peer['rps'] / nubis['rps']:.1f}x fewer"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
