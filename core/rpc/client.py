"""The versioned RPC client every rpcapi module builds on.

A subclass names its RPC API (``RPC_API``, the key in ``[upgrade_levels]`` and in
:data:`nubis.core.version.SERVICE_VERSION_HISTORY`), its ``TOPIC_OPTION`` and its
``VERSION``. The client's version cap comes from ``[upgrade_levels] <RPC_API>``:

* unset: no cap, send the newest version each method knows;
* ``X.Y``: an explicit cap;
* ``auto``: the newest version the oldest running service of that binary understands,
  looked up once through :attr:`RPCAPIClient.minimum_service_version`.

Methods pick the version they send with :meth:`RPCAPIClient.can_send_version` and
degrade (drop new arguments, or refuse with a clear error) when the cap is lower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import oslo_messaging as messaging
from oslo_config import cfg

from nubis.core import exception, metrics, rpc, version

LOG = logging.getLogger(__name__)

MinimumVersionLookup = Callable[[Any, str], int]


#: The ``[upgrade_levels]`` value that caps at what the oldest running service understands.
AUTO = "auto"


def upgrade_level(conf: cfg.ConfigOpts, rpc_api: str) -> str | None:
    """Return ``[upgrade_levels] <rpc_api>`` of *conf*: None (unset), ``auto`` or ``X.Y``.

    Raises ConfigurationError naming the option for any other value. The client uses it
    to cap its version and the start-up check (:mod:`nubis.core.conf.check`) to reject
    a bad value before anything starts.
    """
    value = getattr(conf.upgrade_levels, rpc_api)
    if not value:
        return None
    if value == AUTO:
        return AUTO
    parts = value.split(".")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise exception.ConfigurationError(
            option=f"[upgrade_levels] {rpc_api}",
            reason=f"{value!r} is neither 'auto' nor a version such as '1.2'",
        )
    major, minor = (int(p) for p in parts)
    return f"{major}.{minor}"


def _minimum_version_from_services(context: Any, binary: str) -> int:
    from nubis.core.objects.service import Service

    result: int = Service.get_minimum_version(context, binary)
    return result


class MeteredClient:
    """An oslo.messaging RPC client (or prepared call context) whose calls and casts
    are recorded in :mod:`nubis.core.metrics`: call latency and errors by *api* and
    method, casts by topic and method. ``prepare()`` returns another MeteredClient;
    everything else is the wrapped client's."""

    def __init__(self, client: Any, api: str) -> None:
        self._client = client
        self._api = api

    def prepare(self, **kwargs: Any) -> MeteredClient:
        return MeteredClient(self._client.prepare(**kwargs), self._api)

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        with metrics.rpc_call(self._api, method):
            return self._client.call(ctxt, method, **kwargs)

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        self._client.cast(ctxt, method, **kwargs)
        metrics.rpc_cast(str(self._client.target.topic), method)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class RPCAPIClient:
    """Base class of the rpcapi clients: target, version cap and the prepared client."""

    RPC_API: ClassVar[str]
    BINARY: ClassVar[str]
    TOPIC_OPTION: ClassVar[tuple[str, str] | None] = None
    TOPIC: ClassVar[str | None] = None
    VERSION: ClassVar[str] = "1.0"
    NAMESPACE: ClassVar[str | None] = None

    #: How ``auto`` finds the oldest running service version of a binary; tests and
    #: processes without the Service object may replace it.
    minimum_service_version: ClassVar[MinimumVersionLookup] = staticmethod(
        _minimum_version_from_services
    )

    def __init__(
        self,
        conf: cfg.ConfigOpts | None = None,
        topic: str | None = None,
        context: Any = None,
    ) -> None:
        self.conf = conf or cfg.CONF
        self.topic = topic or self._default_topic()
        target = messaging.Target(topic=self.topic, namespace=self.NAMESPACE, version=self.VERSION)
        self.version_cap = self._determine_version_cap(context)
        self.client: Any = MeteredClient(
            rpc.get_client(target, version_cap=self.version_cap, conf=self.conf), self.RPC_API
        )

    def _default_topic(self) -> str:
        if self.TOPIC_OPTION is not None:
            group, name = self.TOPIC_OPTION
            topic: str = getattr(getattr(self.conf, group), name)
            return topic
        if self.TOPIC is None:
            raise TypeError(f"{type(self).__name__} needs a topic")
        return self.TOPIC

    def _determine_version_cap(self, context: Any) -> str | None:
        cap = upgrade_level(self.conf, self.RPC_API)
        if cap != AUTO:
            return cap
        from nubis.core.context import get_admin_context

        service_version = type(self).minimum_service_version(
            context or get_admin_context(), self.BINARY
        )
        resolved = version.rpc_version_for(service_version, self.RPC_API)
        LOG.info(
            "[upgrade_levels] %s=auto: oldest %s is service version %s, capping RPC at %s",
            self.RPC_API,
            self.BINARY,
            service_version,
            resolved,
        )
        return resolved

    def can_send_version(self, version_: str) -> bool:
        """Return True when the cap allows sending *version_*."""
        return bool(self.client.can_send_version(version_))
