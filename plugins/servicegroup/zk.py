"""``zk``: liveness from ephemeral ZooKeeper nodes (kazoo).

Contract:

* A joined member is the ephemeral node ``<chroot><root>/<group>/<host>`` owned by this
  driver's ZooKeeper session (``[zookeeper]`` options). :meth:`~ZooKeeperDriver.is_up`
  is that node's existence; :meth:`~ZooKeeperDriver.get_all` lists the children of
  ``<chroot><root>/<group>`` in one request. The chroot is a path prefix the driver
  applies (and creates when missing), so it needs no preparation on the server.
* :meth:`~ZooKeeperDriver.join` returns at once. A keeper thread creates the node as
  soon as the client is connected, checks it again every ``report_interval`` and creates
  it anew after a session expiry or a ZooKeeper restart: kazoo's connection listener
  only wakes the keeper and never calls ZooKeeper itself. A node left by another
  session (a restarted service whose old session has not expired yet) is replaced, so
  the member does not vanish when that session ends. Joining twice is harmless.
* :meth:`~ZooKeeperDriver.leave` deletes the node; :meth:`~ZooKeeperDriver.cleanup`
  closes the session, which removes any node left at once.
* No call waits forever: every request waits at most ``[zookeeper] connect_timeout``,
  and while the client is not connected queries answer at once as "down" (``is_up``
  False, ``get_all`` empty, ``get_updated_time`` the database's time).
* Losing ZooKeeper (connection lost, session expired, a request failing) is logged once
  as an error, and its return once as an info line naming the members re-registered.
  kazoo's own per-attempt messages are demoted to debug.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    KazooException,
    NodeExistsError,
    NoNodeError,
)
from kazoo.retry import KazooRetry
from oslo_config import cfg

from nubis.core.servicegroup.driver import ServiceGroupDriver
from nubis.core.servicegroup.reachability import Reachability

LOG = logging.getLogger(__name__)

# Longest pause between two reconnection attempts while ZooKeeper is away.
RECONNECT_MAX_DELAY = 2.0


class _KazooLog(logging.LoggerAdapter):
    """kazoo's logger: its per-attempt warnings become debug lines, errors stay errors.

    The driver reports the loss and the return of ZooKeeper itself, once each.
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level < logging.ERROR:
            level = min(level, logging.DEBUG)
        super().log(level, msg, *args, **kwargs)


def _join_path(*parts: str) -> str:
    segments = [s for part in parts for s in part.split("/") if s]
    return "/" + "/".join(segments)


def _segment(value: str, what: str) -> str:
    if not value or "/" in value:
        raise ValueError(f"zk servicegroup driver: {what} {value!r} must be non-empty, no '/'")
    return value


class ZooKeeperDriver(ServiceGroupDriver):
    """Membership from ephemeral nodes under ``<chroot><root>/<group>/``."""

    capabilities: dict[str, bool] = {}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        zk = conf.zookeeper
        self.hosts = ",".join(h.strip() for h in zk.hosts if h.strip())
        self.base = _join_path(zk.chroot, zk.root)
        self.timeout = float(zk.connect_timeout)
        self.session_timeout = float(zk.session_timeout)
        self.interval = float(conf.report_interval)
        self.reachability = Reachability(
            f"ZooKeeper at {self.hosts}",
            "members of this process count as down until it returns and they re-register",
            LOG,
        )
        self._lock = threading.Lock()
        self._members: set[tuple[str, str]] = set()
        self._client: KazooClient | None = None
        self._keeper: threading.Thread | None = None
        self._live = threading.Event()
        self._started = 0.0
        self._wake = threading.Event()
        self._stopping = threading.Event()

    # --- paths ----------------------------------------------------------------------

    def group_path(self, group: str) -> str:
        return f"{self.base}/{_segment(group, 'group')}"

    def member_path(self, member: str, group: str) -> str:
        return f"{self.group_path(group)}/{_segment(member, 'member')}"

    # --- the client and the keeper ----------------------------------------------------

    def _connected_client(self, wait: bool = True) -> KazooClient | None:
        """Return the client if it is connected now, starting it on first use.

        Callers that *wait* wait for the first connection, but only until
        connect_timeout after the client started; afterwards nothing waits for one.
        """
        with self._lock:
            if self._stopping.is_set():
                return None
            client = self._client
            if client is None:
                client = self._client = self._new_client()
                self._started = time.monotonic()
                self._live = client.start_async()
                self._keeper = threading.Thread(
                    target=self._keep, name="nubis-zk-keeper", daemon=True
                )
                self._keeper.start()
        if wait and not client.connected:
            remaining = self._started + self.timeout - time.monotonic()
            if remaining > 0 and not self._live.wait(remaining):
                self.reachability.lose(f"no connection within {self.timeout:g} s")
        return client if client.connected else None

    def _new_client(self) -> KazooClient:
        client = KazooClient(
            hosts=self.hosts,
            timeout=self.session_timeout,
            connection_retry=KazooRetry(
                max_tries=-1, delay=0.1, backoff=2, max_delay=RECONNECT_MAX_DELAY
            ),
            logger=_KazooLog(logging.getLogger("kazoo.client")),
        )
        client.add_listener(self._on_state)
        return client

    def _on_state(self, state: str) -> None:
        # Runs in kazoo's thread: never call ZooKeeper here, only hand over to the keeper.
        if state == KazooState.LOST:
            self.reachability.lose("session expired or closed")
        elif state == KazooState.SUSPENDED:
            self.reachability.lose("connection lost")
        elif state == KazooState.CONNECTED:
            self._wake.set()

    def _keep(self) -> None:
        """Create the members' nodes when needed, on every wake-up and report_interval."""
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            client = self._client
            if client is None or not client.connected:
                if client is not None and time.monotonic() - self._started > self.timeout:
                    self.reachability.lose(f"no connection within {self.timeout:g} s")
                continue
            with self._lock:
                members = sorted(self._members)
            created: list[str] = []
            kept: list[str] = []
            try:
                for member, group in members:
                    done = self._register(client, member, group)
                    (created if done else kept).append(f"{group}/{member}")
            except (KazooException, client.handler.timeout_exception) as exc:
                self.reachability.lose(f"{type(exc).__name__} {exc}".strip())
                continue
            except Exception:  # keep the keeper alive whatever happens
                LOG.exception("ZooKeeper membership keeper: unexpected error")
                continue
            detail = [f"re-registered {', '.join(created)}"] if created else []
            detail += [f"still registered {', '.join(kept)}"] if kept else []
            self.reachability.regain("; ".join(detail))

    def _register(self, client: KazooClient, member: str, group: str) -> bool:
        """Make sure *member*'s node exists and belongs to this session.

        Return True when the node was created now, False when it was there already.
        """
        with self._lock:
            if (member, group) not in self._members:
                return False  # left meanwhile
        path = self.member_path(member, group)
        session_id = client.client_id[0] if client.client_id else None
        stat = client.exists_async(path).get(timeout=self.timeout)
        if stat is not None and stat.ephemeralOwner == session_id:
            return False
        if stat is not None:
            LOG.info(
                "%s is held by ZooKeeper session 0x%x, not ours; replacing it",
                path,
                stat.ephemeralOwner,
            )
            try:
                client.delete_async(path, version=stat.version).get(timeout=self.timeout)
            except (NoNodeError, BadVersionError):
                pass
        try:
            client.create_async(path, b"", ephemeral=True, makepath=True).get(timeout=self.timeout)
        except NodeExistsError:
            self._wake.set()  # someone raced us; look again at once
            return False
        LOG.debug("registered %s in ZooKeeper", path)
        return True

    # --- the driver contract -------------------------------------------------------------

    def join(self, member: str, group: str, service: Any = None) -> None:
        self.member_path(member, group)  # validate the names now
        with self._lock:
            self._members.add((member, group))
        self._connected_client(wait=False)
        self._wake.set()

    def leave(self, member: str, group: str, service: Any = None) -> None:
        with self._lock:
            self._members.discard((member, group))
            client = self._client
        if client is None or not client.connected:
            return  # the node goes with the session at cleanup
        path = self.member_path(member, group)
        try:
            stat = client.exists_async(path).get(timeout=self.timeout)
            if stat is not None and client.client_id and stat.ephemeralOwner == client.client_id[0]:
                client.delete_async(path, version=stat.version).get(timeout=self.timeout)
        except NoNodeError:
            pass
        except (KazooException, client.handler.timeout_exception) as exc:
            LOG.warning(
                "could not delete %s from ZooKeeper (%s); it goes with the session", path, exc
            )

    def _stat(self, member: str | None, group: str | None) -> Any:
        """Return the ZnodeStat of a member's node, None if absent or unknown."""
        if not member or not group:
            return None
        client = self._connected_client()
        if client is None:
            return None
        try:
            return client.exists_async(self.member_path(member, group)).get(timeout=self.timeout)
        except (KazooException, client.handler.timeout_exception) as exc:
            self.reachability.lose(f"{type(exc).__name__} {exc}".strip())
            return None

    def is_up(self, service_ref: Any) -> bool:
        return self._stat(service_ref.host, service_ref.topic) is not None

    def get_all(self, group: str) -> list[str]:
        path = self.group_path(group)
        client = self._connected_client()
        if client is None:
            return []
        try:
            children = client.get_children_async(path).get(timeout=self.timeout)
        except NoNodeError:
            return []
        except (KazooException, client.handler.timeout_exception) as exc:
            self.reachability.lose(f"{type(exc).__name__} {exc}".strip())
            return []
        return sorted(children)

    def get_updated_time(self, service_ref: Any) -> datetime.datetime | None:
        """The newer of the node's creation time and the database's ``last_seen_up``."""
        db_time: datetime.datetime | None = service_ref.last_seen_up
        stat = self._stat(service_ref.host, service_ref.topic)
        if stat is None:
            return db_time
        created = datetime.datetime.fromtimestamp(stat.ctime / 1000.0, tz=datetime.UTC)
        if db_time is None:
            return created
        if db_time.tzinfo is None:
            db_time = db_time.replace(tzinfo=datetime.UTC)
        return max(created, db_time)

    def cleanup(self) -> None:
        with self._lock:
            self._stopping.set()
            self._members.clear()
            client, self._client = self._client, None
            keeper, self._keeper = self._keeper, None
        self._wake.set()
        if keeper is not None:
            keeper.join(self.timeout * 2 + 1)
        if client is not None:
            client.remove_listener(self._on_state)
            try:
                client.stop()
                client.close()
            except Exception as exc:  # a writer that would not stop; nothing left to do
                LOG.warning("closing the ZooKeeper client: %s", exc)
