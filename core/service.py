"""Service: what every nubis binary runs — one manager, served over RPC.

:meth:`Service.create` composes a service from configuration: the manager plugin named
by ``[<service>] manager``, the topic from ``[<service>] topic``, and the reporting and
periodic settings from ``[DEFAULT]``.

:meth:`Service.start` runs, in order: the basic configuration check, ``init_host``, the
service record (get or create, tolerating a sibling that raced us), ``pre_start_hook``,
the RPC server on ``Target(topic, server=host)`` with the manager and the base RPC API
as endpoints, ``post_start_hook``, the servicegroup join, and the periodic tasks after
a fuzzy initial delay.

:meth:`Service.stop` stops consuming, drains in-flight calls (bounded by
``graceful_shutdown_timeout``), stops the periodic tasks and state reports and runs
``cleanup_host``. In a binary the :class:`~nubis.core.launcher.Launcher` bounds the
stop of the whole process by the same timeout and abandons what is still running then.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from nubis.core import exception, periodic, plugins, rpc, version
from nubis.core.context import get_admin_context
from nubis.core.manager import Manager
from nubis.core.rpc.baseapi import BaseRPCEndpoint

LOG = logging.getLogger(__name__)


class Service:
    """A manager served over RPC on one topic and host, with periodic work."""

    def __init__(
        self,
        host: str,
        binary: str,
        topic: str,
        manager: Manager,
        report_interval: float | None = None,
        periodic_enable: bool | None = None,
        periodic_fuzzy_delay: float | None = None,
        periodic_interval_max: float | None = None,
        conf: cfg.ConfigOpts | None = None,
    ) -> None:
        self.conf = conf or cfg.CONF
        self.host = host
        self.binary = binary
        self.topic = topic
        self.manager = manager
        manager.service = self
        self.report_interval = (
            self.conf.report_interval if report_interval is None else report_interval
        )
        self.periodic_enable = (
            self.conf.periodic_enable if periodic_enable is None else periodic_enable
        )
        self.periodic_fuzzy_delay = (
            self.conf.periodic_fuzzy_delay if periodic_fuzzy_delay is None else periodic_fuzzy_delay
        )
        self.periodic_interval_max = (
            self.conf.periodic_interval_max
            if periodic_interval_max is None
            else periodic_interval_max
        )
        self.service_ref: Any = None
        self.rpcserver: messaging.RPCServer | None = None
        self.periodic_runner: periodic.PeriodicRunner | None = None
        self.servicegroup_api: Any = None
        self._started = False
        self._stopped = threading.Event()

    @classmethod
    def create(
        cls,
        service: str,
        host: str | None = None,
        binary: str | None = None,
        topic: str | None = None,
        manager: str | type[Manager] | None = None,
        report_interval: float | None = None,
        periodic_enable: bool | None = None,
        periodic_fuzzy_delay: float | None = None,
        periodic_interval_max: float | None = None,
        conf: cfg.ConfigOpts | None = None,
    ) -> Service:
        """Compose the *service* (``compute``, ``conductor``, ...) from configuration.

        Arguments given explicitly win over the configuration. *manager* may be a
        plugin name or a Manager subclass.
        """
        conf = conf or cfg.CONF
        group = getattr(conf, service)
        host = host or conf.host
        manager_cls: type[Manager]
        if manager is None or isinstance(manager, str):
            manager_cls = plugins.load_one(
                "nubis.managers", manager or group.manager, f"[{service}] manager"
            )
        else:
            plugins.check("nubis.managers", manager.__name__, manager)
            manager_cls = manager
        return cls(
            host=host,
            binary=binary or f"nubis-{service}",
            topic=topic or group.topic,
            manager=manager_cls(host=host, conf=conf),
            report_interval=report_interval,
            periodic_enable=periodic_enable,
            periodic_fuzzy_delay=periodic_fuzzy_delay,
            periodic_interval_max=periodic_interval_max,
            conf=conf,
        )

    # --- start ---------------------------------------------------------------------

    def start(self) -> None:
        """Bring the service up; see the module docstring for the order of steps."""
        LOG.info("starting %s on %s (topic %s)", self.binary, self.host, self.topic)
        self._basic_config_check()
        self.manager.init_host()
        self.service_ref = self._get_or_create_service_record()
        self.manager.pre_start_hook()
        target = messaging.Target(topic=self.topic, server=self.host)
        endpoints = [
            self.manager,
            *self.manager.additional_endpoints,
            BaseRPCEndpoint(self.binary, self.host),
        ]
        self.rpcserver = rpc.get_server(target, endpoints, conf=self.conf)
        self.rpcserver.start()
        self.manager.post_start_hook()
        self._join_servicegroup()
        if self.periodic_enable:
            self.periodic_runner = periodic.PeriodicRunner(
                self.manager.periodic_tasks(),
                initial_delay=periodic.fuzzy_delay(self.periodic_fuzzy_delay),
                interval_max=self.periodic_interval_max,
            )
            self.periodic_runner.start()
        self._started = True
        LOG.info("%s on %s is up", self.binary, self.host)

    def _basic_config_check(self) -> None:
        # The full start-up check runs in the binary before anything starts; this is
        # the last guard for services created directly (tests, embedding).
        if not self.host:
            raise exception.ConfigurationError(option="[DEFAULT] host", reason="is empty")
        if not self.topic:
            raise exception.ConfigurationError(option=f"{self.binary} topic", reason="is empty")

    def _get_or_create_service_record(self) -> Any:
        from nubis.core import objects
        from nubis.core.objects.service import Service as ServiceRecord

        objects.register_all()
        context = get_admin_context()
        record = ServiceRecord.get_by_host_and_binary(context, self.host, self.binary)
        if record is None:
            record = ServiceRecord(context)
            record.host = self.host
            record.binary = self.binary
            record.topic = self.topic
            record.report_count = 0
            record.version = version.SERVICE_VERSION
            try:
                record.create()
            except exception.ServiceBinaryExists:
                # A sibling process with the same host and binary created it first.
                record = ServiceRecord.get_by_host_and_binary(context, self.host, self.binary)
        elif record.version != version.SERVICE_VERSION:
            record.version = version.SERVICE_VERSION
            record.save()
        return record

    def _join_servicegroup(self) -> None:
        from nubis.core.servicegroup import api as servicegroup

        self.servicegroup_api = servicegroup.API(self.conf)
        self.servicegroup_api.join(self.host, self.topic, self)

    # --- stop ----------------------------------------------------------------------

    def stop(self, graceful: bool = True) -> None:
        """Stop consuming, drain in-flight calls, stop periodic work, cleanup_host."""
        if not self._started or self._stopped.is_set():
            return
        LOG.info("stopping %s on %s", self.binary, self.host)
        if self.rpcserver is not None:
            self.rpcserver.stop()
            if graceful:
                self._drain()
        if self.periodic_runner is not None:
            self.periodic_runner.stop()
        if self.servicegroup_api is not None:
            self.servicegroup_api.leave(self.host, self.topic, self)
        self.manager.cleanup_host()
        self._stopped.set()
        LOG.info("%s on %s stopped", self.binary, self.host)

    def _drain(self) -> None:
        assert self.rpcserver is not None
        timeout = self.conf.graceful_shutdown_timeout or None
        waiter = threading.Thread(target=self.rpcserver.wait, name="nubis-drain", daemon=True)
        waiter.start()
        waiter.join(timeout)
        if waiter.is_alive():
            LOG.warning(
                "%s: in-flight calls still running after graceful_shutdown_timeout=%s s; "
                "stopping without them",
                self.binary,
                timeout,
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the service has stopped; return False on timeout."""
        return self._stopped.wait(timeout)

    def reset(self) -> None:
        """Apply reloaded configuration (SIGHUP): the manager re-reads what it caches."""
        self.manager.reset()

    @property
    def is_running(self) -> bool:
        return self._started and not self._stopped.is_set()
