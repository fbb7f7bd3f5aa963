"""Membership queries at scale: ``get_all`` and per-member ``is_up`` on every driver.

For 100, 1,000 and 10,000 members (``--quick``: 100 and 1,000) and each of the
``db``, ``zk`` and ``mc`` drivers, in one run:

* the members are made directly, not by starting services: service rows inserted in
  bulk into a temporary SQLite database (all drivers read the group's records from
  it), ephemeral ZooKeeper nodes created by a client of the benchmark's own (they
  vanish when it ends), memcached keys set with ``set_many`` (deleted at the end);
* ``get_all``: the servicegroup API's ``get_all(group)`` (what the scheduler calls:
  the driver's batched query plus the API's forced-down filter), median of several
  runs, and the driver's own ``get_all`` alone;
* ``is_up``: the API's ``is_up`` called for every member in turn (service records
  fetched beforehand), as mean microseconds per call and total milliseconds.

Every answer is checked (all members up). Targets, printed PASS/FAIL: ``get_all``
over 10,000 members under 50 ms on ``db``; no driver's ``get_all`` more than 10x
``db``'s at the largest size. Exit status 1 when a target fails or a driver's server
is unreachable.

Run: ``.venv/bin/python bench/servicegroup_scale.py [--quick] [--postgresql]``
(``--postgresql`` also measures ``db`` on a throw-away database of the PostgreSQL at
127.0.0.1:5432, user postgres, trust authentication).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

warnings.simplefilter("ignore")

from oslo_utils import timeutils  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from nubis.core.conf import CONF  # noqa: E402

SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
DB_TARGET_MS = 50.0
DB_TARGET_SIZE = 10_000
MAX_RATIO = 10.0
BINARY = "nubis-compute"


@dataclass
class Result:
    driver: str
    members: int
    api_get_all_ms: float
    driver_get_all_ms: float
    is_up_us: float
    is_up_total_ms: float


def median_ms(function: Callable[[], Any], runs: int) -> float:
    function()  # warm-up
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def insert_services(topic: str, count: int) -> list[str]:
    """Insert *count* up services of *topic* in one statement; return their hosts."""
    from nubis.core.db import engine, models

    now = timeutils.utcnow()
    hosts = [f"{topic}-host-{i:05d}" for i in range(count)]
    rows = [
        {
            "uuid": str(uuid.uuid4()),
            "host": host,
            "binary": BINARY,
            "topic": topic,
            "report_count": 1,
            "last_seen_up": now,
            "disabled": False,
            "forced_down": False,
            "version": 1,
            "deleted": 0,
            "created_at": now,
        }
        for host in hosts
    ]
    with engine.get_engine().begin() as connection:
        connection.execute(insert(models.Service), rows)
    return hosts


# ------------------------------------------------------------------ member factories


class Members:
    """Makes *count* members of a group known to one driver's server."""

    name = ""

    def add(self, topic: str, hosts: list[str]) -> None:
        pass

    def refresh(self) -> None:
        """Keep members alive while the measurements of one size run."""

    def close(self) -> None:
        pass


class DbMembers(Members):
    name = "db"

    def __init__(self) -> None:
        self.topics: list[str] = []

    def add(self, topic: str, hosts: list[str]) -> None:
        self.topics.append(topic)

    def refresh(self) -> None:
        from sqlalchemy import update

        from nubis.core.db import engine, models

        with engine.get_engine().begin() as connection:
            connection.execute(
                update(models.Service)
                .where(models.Service.topic.in_(self.topics))
                .values(last_seen_up=timeutils.utcnow())
            )


class ZkMembers(Members):
    name = "zk"

    def __init__(self) -> None:
        from kazoo.client import KazooClient

        zk = CONF.zookeeper
        self.base = "/" + "/".join(s for p in (zk.chroot, zk.root) for s in p.split("/") if s)
        self.client = KazooClient(hosts=",".join(zk.hosts), timeout=30)
        self.client.start(timeout=zk.connect_timeout)

    def add(self, topic: str, hosts: list[str]) -> None:
        self.client.ensure_path(f"{self.base}/{topic}")
        pending = [
            self.client.create_async(f"{self.base}/{topic}/{host}", b"", ephemeral=True)
            for host in hosts
        ]
        for result in pending:
            result.get(timeout=60)

    def close(self) -> None:
        from kazoo.exceptions import NoNodeError

        self.client.stop()  # the ephemeral members go with the session
        self.client.start(timeout=10)
        try:
            chroot = CONF.zookeeper.chroot.strip("/")
            self.client.delete(f"/{chroot}" if chroot else self.base, recursive=True)
        except NoNodeError:
            pass
        self.client.stop()
        self.client.close()


class McMembers(Members):
    name = "mc"

    def __init__(self) -> None:
        from pymemcache.client.hash import HashClient

        self.client = HashClient(CONF.memcache.servers, no_delay=True, connect_timeout=2, timeout=5)
        self.keys: list[str] = []

    def add(self, topic: str, hosts: list[str]) -> None:
        keys = [f"{topic}:{host}" for host in hosts]
        failed = self.client.set_many({k: b"%f" % time.time() for k in keys}, expire=600)
        if failed:
            raise RuntimeError(f"memcached did not store {len(failed)} keys")
        self.keys.extend(keys)

    def close(self) -> None:
        for start in range(0, len(self.keys), 1000):
            for key in self.keys[start : start + 1000]:
                self.client.delete(key, noreply=True)
        self.client.close()


FACTORIES: dict[str, type[Members]] = {"db": DbMembers, "zk": ZkMembers, "mc": McMembers}


# ------------------------------------------------------------------ measurement


def measure(driver: str, members: Members, sizes: tuple[int, ...]) -> Iterator[Result]:
    from nubis.core.context import get_admin_context
    from nubis.core.objects.service import ServiceList
    from nubis.core.servicegroup.api import API

    CONF.set_override("driver", driver, group="servicegroup")
    api = API(CONF)
    try:
        for size in sizes:
            topic = f"bench{size}x{uuid.uuid4().hex[:6]}"
            hosts = insert_services(topic, size)
            members.add(topic, hosts)
            members.refresh()
            runs = 5 if size >= 10_000 else 15
            expected = sorted(hosts)
            got = api.get_all(topic)
            if got != expected:
                raise RuntimeError(
                    f"{driver}: get_all found {len(got)} of {size} members up; check its server"
                )
            api_ms = median_ms(lambda t=topic: api.get_all(t), runs)
            driver_ms = median_ms(lambda t=topic: api.driver.get_all(t), runs)
            records = list(ServiceList.get_by_topic(get_admin_context(), topic))
            began = time.perf_counter()
            up = sum(1 for record in records if api.is_up(record))
            total_ms = (time.perf_counter() - began) * 1000
            if up != size:
                raise RuntimeError(f"{driver}: is_up said {up} of {size} members are up")
            yield Result(driver, size, api_ms, driver_ms, total_ms * 1000 / size, total_ms)
    finally:
        api.driver.cleanup()


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """Yield the URL of an empty nubis database (a temporary SQLite file by default)."""
    from nubis.core.db import engine, migration

    with tempfile.TemporaryDirectory(prefix="nubis-bench-") as tmp:
        connection = url or f"sqlite:///{tmp}/bench.sqlite"
        CONF.set_override("connection", connection, group="database")
        try:
            migration.db_sync()
            yield connection
        finally:
            engine.reset()


@contextmanager
def postgresql_database() -> Iterator[str]:
    """Create a throw-away database on the local PostgreSQL and drop it afterwards."""
    import psycopg2

    name = f"nubis_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        try:
            yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        finally:
            from nubis.core.db import engine

            engine.reset()
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.close()


def run_drivers(sizes: tuple[int, ...], label: str, drivers: list[str]) -> list[Result]:
    results: list[Result] = []
    for driver in drivers:
        members: Members | None = None
        try:
            members = FACTORIES[driver]()
            for result in measure(driver, members, sizes):
                result.driver = label.format(driver=driver)
                results.append(result)
                print_row(result)
        except Exception as exc:
            print(f"  {label.format(driver=driver)}: UNAVAILABLE: {' '.join(str(exc).split())}")
            results.append(Result(label.format(driver=driver), -1, 0, 0, 0, 0))
        finally:
            if members is not None:
                members.close()
    return results


HEADER = (
    f"  {'driver':<8} {'members':>8} {'get_all API ms':>15} {'get_all driver ms':>18} "
    f"{'is_up us/call':>14} {'is_up all ms':>13}"
)


def print_row(r: Result) -> None:
    print(
        f"  {r.driver:<8} {r.members:>8,} {r.api_get_all_ms:>15.2f} {r.driver_get_all_ms:>18.2f} "
        f"{r.is_up_us:>14.1f} {r.is_up_total_ms:>13.1f}",
        flush=True,
    )


def verdicts(results: list[Result], sizes: tuple[int, ...]) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    unavailable = sorted({r.driver for r in results if r.members < 0})
    for name in unavailable:
        checks.append((False, f"{name}: not measured, its server was unreachable"))
    by = {(r.driver, r.members): r for r in results if r.members > 0}
    db = by.get(("db", DB_TARGET_SIZE))
    if DB_TARGET_SIZE in sizes:
        ok = db is not None and db.api_get_all_ms < DB_TARGET_MS
        value = f"{db.api_get_all_ms:.2f} ms" if db else "not measured"
        checks.append(
            (ok, f"db get_all over {DB_TARGET_SIZE:,} members < {DB_TARGET_MS:.0f} ms: {value}")
        )
    largest = max(sizes)
    base = by.get(("db", largest))
    for driver in sorted({r.driver for r in results if r.members > 0} - {"db"}):
        other = by.get((driver, largest))
        if base is None or other is None:
            continue
        ratio = other.api_get_all_ms / base.api_get_all_ms
        checks.append(
            (
                ratio <= MAX_RATIO,
                f"{driver} get_all over {largest:,} members <= {MAX_RATIO:.0f}x db: "
                f"{other.api_get_all_ms:.2f} ms = {ratio:.1f}x",
            )
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 members only")
    parser.add_argument(
        "--postgresql", action="store_true", help="also measure db on 127.0.0.1:5432"
    )
    parser.add_argument("--zookeeper", default="127.0.0.1:2181", help="ZooKeeper host:port")
    parser.add_argument("--memcached", default="127.0.0.1:11211", help="memcached host:port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    CONF([], project="nubis")
    from nubis.core import objects

    objects.register_all()
    CONF.set_override("report_interval", 10)
    CONF.set_override("service_down_time", 600)
    CONF.set_override("hosts", [args.zookeeper], group="zookeeper")
    CONF.set_override("chroot", f"/nubis-bench-{uuid.uuid4().hex[:8]}", group="zookeeper")
    CONF.set_override("servers", [args.memcached], group="memcache")
    sizes = QUICK_SIZES if args.quick else SIZES

    print(f"servicegroup scale, sizes {', '.join(f'{s:,}' for s in sizes)}; SQLite database")
    print(HEADER)
    with database(None):
        results = run_drivers(sizes, "{driver}", ["db", "zk", "mc"])
    if args.postgresql:
        print("db on PostgreSQL 127.0.0.1:5432 (throw-away database; not a target)")
        try:
            with postgresql_database() as url, database(url):
                run_drivers(sizes, "{driver}-pg", ["db"])
        except Exception as exc:
            print(f"  db-pg: UNAVAILABLE: {' '.join(str(exc).split())}")

    print()
    failed = 0
    for ok, text in verdicts(results, sizes):
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
        failed += not ok
    if DB_TARGET_SIZE not in sizes:
        print(f"(--quick: the {DB_TARGET_SIZE:,}-member db target is not measured)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
