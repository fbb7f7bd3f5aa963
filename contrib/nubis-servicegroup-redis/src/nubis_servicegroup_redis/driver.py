"""``redis``: liveness from one sorted set per group on Redis (namespace ``nubis.servicegroup``).

Contract:

* A group (topic) is the sorted set ``<key_prefix>:<group>``; a joined member is an
  element named by its host whose score is the time of its last report, taken from
  the Redis server's own clock (``TIME``), so the clocks of members and observers never
  meet. A reporter thread per member (a :class:`~nubis.core.servicegroup.reporter.ReportLoop`)
  reports at once and then every ``report_interval`` seconds; a report is one script
  call that stamps the member, drops elements older than twice ``service_down_time``
  and lets the set expire after that long without reports, so nothing is left behind
  by members that vanished without leaving.
* A member is up while its score is younger than ``service_down_time`` by the server's
  clock: :meth:`~RedisDriver.is_up` is one round trip (``TIME`` and ``ZSCORE`` in one
  pipeline); :meth:`~RedisDriver.get_all` is one round trip too (``TIME`` and the whole
  set) and needs no database. :meth:`~RedisDriver.get_updated_time` is the newer of
  the score and the database's ``last_seen_up``.
* Joining twice is harmless; :meth:`~RedisDriver.leave` stops the reports and removes
  the element, so the member is down at once.
* No call waits forever: a request waits at most ``connect_timeout`` + ``timeout``
  seconds and is tried once more on a broken connection (a Redis restart leaves the
  pooled connections dead), so at most twice that. redis-py's pool is shared by all
  threads.
* While Redis is unreachable queries answer "down" (``is_up`` False, ``get_all`` empty)
  and reports fail; the loss is logged once (error) and the return once (info),
  whichever of reports and queries notices first.
"""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

import redis
from oslo_config import cfg
from redis.backoff import NoBackoff
from redis.retry import Retry

from nubis.core import exception
from nubis.core.servicegroup.driver import ServiceGroupDriver
from nubis.core.servicegroup.reachability import Reachability
from nubis.core.servicegroup.reporter import ReportLoop
from nubis_servicegroup_redis import conf as redis_conf

LOG = logging.getLogger(__name__)

# KEYS[1]: the group's set; ARGV[1]: the member; ARGV[2]: seconds an element is kept.
# The server's clock stamps the report; stale elements go and the set expires with them.
REPORT_SCRIPT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local keep = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], t, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - keep)
redis.call('PEXPIRE', KEYS[1], math.ceil(keep * 1000))
return 1
"""


def _server_time(reply: Any) -> float:
    """Seconds since the epoch from a ``TIME`` reply (redis-py gives (seconds, micros))."""
    seconds, micros = reply
    return int(seconds) + int(micros) / 1_000_000


class RedisDriver(ServiceGroupDriver):
    """Membership from ``<key_prefix>:<group>`` sorted sets scored by report time."""

    #: State reports go to Redis, not to the service record.
    capabilities: dict[str, bool] = {"reports_through_conductor": False}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        redis_conf.register_opts(conf)
        opts = conf.redis_servicegroup
        self.prefix = str(opts.key_prefix)
        if not self.prefix:
            raise exception.ConfigurationError(
                option="[redis_servicegroup] key_prefix",
                reason="must not be empty; e.g. nubis:servicegroup",
            )
        connect_timeout, timeout = float(opts.connect_timeout), float(opts.timeout)
        #: The longest one driver call waits for Redis (two attempts).
        self.request_timeout = 2 * (connect_timeout + timeout)
        try:
            self.client: redis.Redis = redis.Redis.from_url(
                opts.url,
                socket_connect_timeout=connect_timeout,
                socket_timeout=timeout,
                # One more try on a dead pooled connection, none on a timeout (a server
                # that does not answer would only double the wait).
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                decode_responses=True,
                client_name="nubis-servicegroup",
            )
        except ValueError as exc:
            raise exception.ConfigurationError(
                option="[redis_servicegroup] url",
                reason=f"{exception.one_line(exc)}; e.g. redis://127.0.0.1:6379/0",
            ) from None
        self._report_script = self.client.register_script(REPORT_SCRIPT)
        where = self.client.connection_pool.connection_kwargs
        address = where.get("path") or f"{where.get('host')}:{where.get('port')}"
        self.reachability = Reachability(
            f"Redis at {address}",
            "members reporting to it count as down until it returns",
            LOG,
        )
        self._lock = threading.Lock()
        self._reporters: dict[tuple[str, str], ReportLoop] = {}

    def key(self, group: str) -> str:
        """The sorted set of *group*."""
        return f"{self.prefix}:{group}"

    def _call(self, what: str, func: Any) -> tuple[bool, Any]:
        """Run one request; return (succeeded, result) and track reachability."""
        try:
            result = func()
        except redis.RedisError as exc:
            # NoScriptError and friends are answers, not an unreachable server.
            if isinstance(exc, redis.ResponseError):
                LOG.error("Redis refused %s: %s", what, exception.one_line(exc))
                return False, None
            self.reachability.lose(f"{what}: {type(exc).__name__}: {exception.one_line(exc)}")
            return False, None
        self.reachability.regain()
        return True, result

    @property
    def down_time(self) -> float:
        return float(self.conf.service_down_time)

    # --- reporting -----------------------------------------------------------------------

    def report(self, member: str, group: str) -> bool:
        """Stamp *member* of *group* with the server's time; return whether it worked."""
        keep = 2 * self.down_time
        ok, _ = self._call(
            f"report of {member} in {group}",
            lambda: self._report_script(keys=[self.key(group)], args=[member, keep]),
        )
        return ok

    def join(self, member: str, group: str, service: Any = None) -> None:
        interval = getattr(service, "report_interval", None) or self.conf.report_interval
        with self._lock:
            if (member, group) in self._reporters:
                return
            loop = ReportLoop(
                f"nubis-redis-report-{group}",
                float(interval),
                lambda: self.report(member, group),
                join_timeout=self.request_timeout + 1,
            )
            self._reporters[(member, group)] = loop
        loop.start()

    def leave(self, member: str, group: str, service: Any = None) -> None:
        with self._lock:
            loop = self._reporters.pop((member, group), None)
        if loop is not None:
            loop.stop()
        self._call(
            f"leave of {member} in {group}", lambda: self.client.zrem(self.key(group), member)
        )

    def reporter(self, member: str, group: str) -> ReportLoop | None:
        """The reporter of a joined member (for tests and diagnostics)."""
        return self._reporters.get((member, group))

    # --- queries -------------------------------------------------------------------------

    def _score(self, service_ref: Any) -> tuple[float | None, float | None]:
        """(last report, server time now) of a service, in seconds; (None, None) if unknown."""
        if not service_ref.host or not service_ref.topic:
            return None, None
        pipe = self.client.pipeline(transaction=False)
        pipe.time()
        pipe.zscore(self.key(service_ref.topic), service_ref.host)
        ok, replies = self._call(f"is_up of {service_ref.host}", pipe.execute)
        if not ok:
            return None, None
        now, score = _server_time(replies[0]), replies[1]
        return (None if score is None else float(score)), now

    def is_up(self, service_ref: Any) -> bool:
        score, now = self._score(service_ref)
        return score is not None and now is not None and now - score < self.down_time

    def get_all(self, group: str) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        pipe.time()
        pipe.zrange(self.key(group), 0, -1, withscores=True)
        ok, replies = self._call(f"get_all of {group}", pipe.execute)
        if not ok:
            return []
        oldest = _server_time(replies[0]) - self.down_time
        return sorted(str(host) for host, score in replies[1] if float(score) > oldest)

    def get_updated_time(self, service_ref: Any) -> datetime.datetime | None:
        """The newer of Redis's last report time and the database's last_seen_up."""
        db_time: datetime.datetime | None = service_ref.last_seen_up
        if db_time is not None and db_time.tzinfo is None:
            db_time = db_time.replace(tzinfo=datetime.UTC)
        score, _now = self._score(service_ref)
        if score is None:
            return db_time
        redis_time = datetime.datetime.fromtimestamp(score, tz=datetime.UTC)
        return db_time if db_time is not None and db_time > redis_time else redis_time

    def cleanup(self) -> None:
        with self._lock:
            loops = list(self._reporters.values())
            self._reporters.clear()
        for loop in loops:
            loop.stop()
        try:
            self.client.close()
        except redis.RedisError as exc:
            LOG.debug("closing the Redis client: %s", exc)
