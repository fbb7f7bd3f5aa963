"""The scaffold's plugin templates, one per namespace (``string.Template`` text, with
``$cls``, ``$name`` and the like filled in by :mod:`nubis.core.conformance.scaffold`):
the plugin module and its options of each namespace."""

# string.Template: $name (entry point name), $cls, $module (import package), $group
# (option group), $namespace, $dist.

FILTER = '''\
"""``$name``: a scheduler filter (namespace ``nubis.scheduler.filters``).

Passes the hosts whose compute service is up and enabled and that keep
``[$group] reserved_ram_mb`` of RAM free after taking one instance of the request.
Replace the rule in :meth:`$cls.host_passes` with yours; keep it a function of the
host state, the request and configuration alone: no I/O, no state on ``self`` (the
scheduler calls it from several threads), and never change its arguments.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from $module import conf as plugin_conf
from nubis.core.scheduler.filters import BaseHostFilter
from nubis.core.scheduler.host_state import HostState


class $cls(BaseHostFilter):
    """Enough free RAM, less a reserve, on a host that is up and enabled."""

    #: The RequestSpec fields host_passes reads: lets the scheduler keep verdicts.
    spec_fields = ("memory_mb",)

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        plugin_conf.register_opts(conf)

    def host_passes(self, host_state: HostState, spec: Any, /) -> bool:
        if not host_state.service_up or host_state.service_disabled:
            return False
        reserve = self.conf.$group.reserved_ram_mb
        return bool(host_state.free_ram_mb - (spec.memory_mb or 0) >= reserve)
'''

FILTER_OPTS = """\
OPTS = [
    cfg.IntOpt(
        "reserved_ram_mb",
        default=0,
        min=0,
        help="RAM (MiB) a host must still have free after taking one instance.",
    ),
]
"""

WEIGHER = '''\
"""``$name``: a scheduler weigher (namespace ``nubis.scheduler.weighers``).

Weighs a host by its free vCPUs, overcommit included, so that instances spread over
the hosts; ``[$group] multiplier`` scales it (negative: stack instead). Replace
:meth:`$cls.weigh` with your rule; it must return a finite number for every host,
must not block, and must not change its arguments.
"""

from __future__ import annotations

import math
from typing import Any

from oslo_config import cfg

from $module import conf as plugin_conf
from nubis.core.scheduler.host_state import HostState
from nubis.core.scheduler.weighers import BaseHostWeigher


class $cls(BaseHostWeigher):
    """Free vCPUs (overcommit included): higher wins."""

    #: The RequestSpec fields weigh reads (none): lets the scheduler keep weights.
    spec_fields: tuple[str, ...] = ()

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        plugin_conf.register_opts(conf)

    @property
    def multiplier(self) -> float:
        return float(self.conf.$group.multiplier)

    def weigh(self, host_state: HostState, spec: Any, /) -> float:
        capacity = host_state.vcpus * host_state.cpu_allocation_ratio
        return float(capacity - host_state.vcpus_used)

    @staticmethod
    def check_options(conf: cfg.ConfigOpts) -> list[str]:
        """The start-up check of this plugin's options (nubis.core.plugins.option_problems)."""
        plugin_conf.register_opts(conf)
        multiplier = conf.$group.multiplier
        if not math.isfinite(multiplier):
            return [f"[$group] multiplier: must be a finite number, not {multiplier}"]
        return []
'''

WEIGHER_OPTS = """\
OPTS = [
    cfg.FloatOpt(
        "multiplier",
        default=1.0,
        help="Factor of the normalised weight; negative stacks instances instead.",
    ),
]
"""

PERIODIC = '''\
"""``$name``: a compute periodic task (namespace ``nubis.periodic_tasks``).

Runs on nubis-compute when ``[compute] periodic_tasks`` lists ``$name``: counts the
instances on each node of this host and warns about a node that runs more than
``[$group] warn_above`` of them (0: never). The task talks to the compute service
only through :class:`nubis.core.compute.host.ComputeHost` (its docstrings are the
contract) and to the database through :mod:`nubis.core.objects`.
"""

from __future__ import annotations

import logging
from typing import Any

from $module import conf as plugin_conf
from nubis.core import objects
from nubis.core.compute.host import compute_host_of
from nubis.core.periodic import periodic_task

LOG = logging.getLogger(__name__)


@periodic_task(spacing=300)
def $name(manager: Any, context: Any) -> dict[str, int]:
    """Count the instances on each node of this host (see the module docstring)."""
    host = compute_host_of(manager, "$name")  # a clear error on any other service
    plugin_conf.register_opts(host.conf)
    counts: dict[str, int] = {}
    for instance in objects.InstanceList.get_by_host(context, host.host):
        node = str(instance.node)
        counts[node] = counts.get(node, 0) + 1
    limit = host.conf.$group.warn_above
    for node, count in sorted(counts.items()):
        if limit and count > limit:
            LOG.warning("%s runs %d instances on node %s (> %d)", host.host, count, node, limit)
    return counts
'''

PERIODIC_OPTS = """\
OPTS = [
    cfg.IntOpt(
        "warn_above",
        default=0,
        min=0,
        help="Warn about a node running more instances than this (0: never).",
    ),
]
"""

SERVICEGROUP = '''\
"""``$name``: membership in a shared directory (namespace ``nubis.servicegroup``).

A group (topic) is a directory ``<[$group] directory>/<group>``; a joined member is a
file in it named after its host, whose modification time is its last report. A
member is up while that time is younger than ``service_down_time``. The directory
plays the part of a membership server: every service that shares it (one host, or a
shared file system) sees the same members; when it is gone (unmounted, moved), the
loss is logged once, members count as down, and its return is logged once.

To put membership on your own server, keep the shape -- a report loop per joined
member, one batched query for get_all, Reachability for the log-once rule -- and
replace the file operations.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from oslo_config import cfg

from $module import conf as plugin_conf
from nubis.core.servicegroup.driver import ServiceGroupDriver
from nubis.core.servicegroup.reachability import Reachability
from nubis.core.servicegroup.reporter import ReportLoop

LOG = logging.getLogger(__name__)


class $cls(ServiceGroupDriver):
    """Members are files of ``<directory>/<group>``, stamped by their reports."""

    # Optional abilities, by name from the namespace's table: reports go to the
    # directory, not to the service record.
    capabilities = {"reports_through_conductor": False}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        plugin_conf.register_opts(conf)
        self.directory = Path(conf.$group.directory)
        self.reachability = Reachability(
            f"membership directory {self.directory}", "members count as down", LOG
        )
        self._lock = threading.Lock()
        self._loops: dict[tuple[str, str], ReportLoop] = {}

    def _path(self, group: str, member: str | None = None) -> Path:
        path = self.directory / urllib.parse.quote(group, safe="")
        return path / urllib.parse.quote(member, safe="") if member is not None else path

    def _reached(self) -> bool:
        """Whether the directory is there (the server answers); logs a change once."""
        if self.directory.is_dir():
            self.reachability.regain()
            return True
        self.reachability.lose(f"{self.directory} is not a directory")
        return False

    def report(self, member: str, group: str) -> bool:
        """Stamp *member* in *group* with the time now; False when the directory is gone."""
        if not self._reached():
            return False
        try:
            self._path(group).mkdir(exist_ok=True)  # never the directory itself
            self._path(group, member).touch()
        except OSError as exc:
            self.reachability.lose(str(exc))
            return False
        return True

    def join(self, member: str, group: str, service: Any = None, /) -> None:
        interval = getattr(service, "report_interval", None) or self.conf.report_interval
        with self._lock:
            if (member, group) in self._loops:
                return  # joining twice is harmless
            loop = ReportLoop(
                f"$name-report-{group}", float(interval), lambda: self.report(member, group)
            )
            self._loops[(member, group)] = loop
        loop.start()

    def leave(self, member: str, group: str, service: Any = None, /) -> None:
        with self._lock:
            loop = self._loops.pop((member, group), None)
        if loop is not None:
            loop.stop()
        try:
            self._path(group, member).unlink(missing_ok=True)
        except OSError as exc:
            self.reachability.lose(str(exc))

    def _stamp(self, host: str, group: str) -> float | None:
        if not self._reached():
            return None
        try:
            return os.stat(self._path(group, host)).st_mtime
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.reachability.lose(str(exc))
            return None

    def is_up(self, service_ref: Any, /) -> bool:
        stamp = self._stamp(service_ref.host, service_ref.topic)
        return stamp is not None and time.time() - stamp < float(self.conf.service_down_time)

    def get_all(self, group: str, /) -> list[str]:
        if not self._reached():
            return []
        oldest = time.time() - float(self.conf.service_down_time)
        try:
            entries = list(os.scandir(self._path(group)))
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.reachability.lose(str(exc))
            return []
        up = []
        for entry in entries:
            try:
                if entry.stat().st_mtime > oldest:
                    up.append(urllib.parse.unquote(entry.name))
            except FileNotFoundError:
                continue  # left while we looked
        return sorted(up)

    def get_updated_time(self, service_ref: Any, /) -> datetime.datetime | None:
        stamp = self._stamp(service_ref.host, service_ref.topic)
        if stamp is None:
            return super().get_updated_time(service_ref)
        return datetime.datetime.fromtimestamp(stamp, tz=datetime.UTC)

    def cleanup(self) -> None:
        with self._lock:
            loops, self._loops = list(self._loops.values()), {}
        for loop in loops:
            loop.stop()
'''

SERVICEGROUP_OPTS = """\
OPTS = [
    cfg.StrOpt(
        "directory",
        default="/var/lib/nubis/membership",
        help="The shared directory of membership files (must exist).",
    ),
]
"""

INDIRECTION = '''\
"""``$name``: an indirection API (namespace ``nubis.indirection``).

Runs remotable object methods in this process, through the same code the conductor
runs them with (:mod:`nubis.core.objects.actions`): each method runs on a clone of the
caller's object and only its changes come back, so a failing method leaves the
caller's object as it was. Calls slower than ``[$group] slow_call_seconds`` are
logged. To run them elsewhere, send the same five calls there instead.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from oslo_versionedobjects import base as ovo_base

from $module import conf as plugin_conf
from nubis.core import exception
from nubis.core.conf import CONF
from nubis.core.objects import actions

LOG = logging.getLogger(__name__)


class $cls(ovo_base.VersionedObjectIndirectionAPI):
    """Remotable methods in this process, with slow calls logged."""

    def __init__(self) -> None:
        super().__init__()
        plugin_conf.register_opts(CONF)

    def _timed(self, what: str, began: float) -> None:
        took = time.monotonic() - began
        if took > CONF.$group.slow_call_seconds:
            LOG.warning("remotable %s took %.2f s", what, took)

    def object_action(
        self, context: Any, objinst: Any, objmethod: str, args: Any, kwargs: Any, /
    ) -> Any:
        began = time.monotonic()
        try:
            return actions.object_action(context, objinst.obj_clone(), objmethod, args, kwargs)
        finally:
            self._timed(f"{objinst.obj_name()}.{objmethod}", began)

    def object_class_action(
        self, context: Any, objname: str, objmethod: str, objver: str, args: Any, kwargs: Any, /
    ) -> Any:
        return self.object_class_action_versions(
            context, objname, objmethod, {objname: objver}, args, kwargs
        )

    def object_class_action_versions(
        self,
        context: Any,
        objname: str,
        objmethod: str,
        object_versions: dict[str, str],
        args: Any,
        kwargs: Any,
        /,
    ) -> Any:
        began = time.monotonic()
        try:
            return actions.object_class_action_versions(
                context, objname, objmethod, object_versions, args, kwargs
            )
        finally:
            self._timed(f"{objname}.{objmethod}", began)

    def object_backport_versions(
        self, context: Any, objinst: Any, object_versions: dict[str, str], /
    ) -> Any:
        # Asked for an object newer than this process knows: nobody else to ask here.
        raise exception.IncompatibleObjectVersion(
            objname=objinst["nubis_object.name"] if isinstance(objinst, dict) else objinst,
            objver=objinst.get("nubis_object.version") if isinstance(objinst, dict) else "?",
            supported=object_versions,
        )
'''

INDIRECTION_OPTS = """\
OPTS = [
    cfg.FloatOpt(
        "slow_call_seconds",
        default=1.0,
        min=0,
        help="Log a remotable method that takes longer than this.",
    ),
]
"""

AUTH = '''\
"""``$name``: nubis-api authentication by one static token (namespace ``nubis.api.auth``).

A caller presenting ``X-Auth-Token: <[$group] token>`` acts as ``[$group] user`` in
``[$group] project`` with ``[$group] roles``; any other caller is not identified
(the API answers 401 outside its public routes). For a lab or a CI cloud, not for
people: replace :meth:`$cls.middleware` with your identity service's check.
"""

from __future__ import annotations

import hmac
from typing import Any

from oslo_config import cfg

from $module import conf as plugin_conf
from nubis.core.api import auth


class $cls(auth.AuthPlugin):
    """One static token, one identity."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        plugin_conf.register_opts(conf)

    def middleware(self, app: auth.WSGIApp, /) -> auth.WSGIApp:
        opts = self.conf.$group

        def identify(environ: dict[str, Any], start_response: Any) -> Any:
            token = environ.get("HTTP_X_AUTH_TOKEN", "").encode()
            if opts.token and hmac.compare_digest(token, opts.token.encode()):
                auth.set_identity(
                    environ,
                    user_id=opts.user,
                    user_name=opts.user,
                    project_id=opts.project,
                    project_name=opts.project,
                    roles=opts.roles,
                )
            else:
                auth.set_invalid(environ)
            return app(environ, start_response)

        return identify

    def www_authenticate(self) -> str | None:
        return 'Token realm="nubis $name: send X-Auth-Token"'

    @staticmethod
    def check_options(conf: cfg.ConfigOpts) -> list[str]:
        """The start-up check of this plugin's options (nubis.core.plugins.option_problems)."""
        plugin_conf.register_opts(conf)
        if not conf.$group.token:
            return ["[$group] token: not set; nobody could call the API"]
        return []
'''

AUTH_OPTS = """\
OPTS = [
    cfg.StrOpt("token", secret=True, help="The token callers present (X-Auth-Token)."),
    cfg.StrOpt("user", default="operator", help="Who a caller with the token is."),
    cfg.StrOpt("project", default="operators", help="The project the caller acts in."),
    cfg.ListOpt("roles", default=["member", "reader"], help="The caller's roles."),
]
"""

AUTH_TESTS = """

from oslo_config import cfg  # noqa: E402 - the plugin's own tests below the kit's line

from $module.auth import $cls  # noqa: E402


def test_the_token_is_the_identity_and_nothing_else_is() -> None:
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    plugin = $cls(conf)
    conf.set_override("token", "s3cret", group="$group")
    seen: dict[str, str] = {}

    def app(environ: dict[str, str], start_response: object) -> list[bytes]:
        seen.clear()
        seen.update(environ)
        return [b""]

    wsgi = plugin.middleware(app)
    wsgi({"HTTP_X_AUTH_TOKEN": "s3cret"}, None)
    assert seen["HTTP_X_IDENTITY_STATUS"] == "Confirmed"
    assert seen["HTTP_X_USER_NAME"] == "operator"
    wsgi({"HTTP_X_AUTH_TOKEN": "guess"}, None)
    assert seen["HTTP_X_IDENTITY_STATUS"] == "Invalid"
    assert $cls.check_options(conf) == []
"""

MANAGER = '''\
"""``$name``: a manager for nubis-$service (namespace ``nubis.managers``) -- a SKELETON.

A manager serves every method of its service's RPC API ($rpcapi).
This one serves none yet: the conformance kit fails it and names each RPC method it
must serve, with the arguments the method is sent with. Write them one by one until the kit passes.
To manage another service, change ``service_name`` and the version of ``target``
(the version of that service's RPC API this manager serves).
"""

from __future__ import annotations

import oslo_messaging as messaging

from nubis.core.manager import Manager


class $cls(Manager):
    """See the module docstring."""

    service_name = "$service"
    target = messaging.Target(version="$version")
'''

NO_OPTS = """\
OPTS: list[cfg.Opt] = []  # the plugin's options, when it has some
"""

VIRT = '''\
"""``$name``: a hypervisor driver (namespace ``nubis.virt``) -- a SKELETON.

Every method of the contract (:class:`nubis.core.virt.driver.ComputeDriver`, whose
docstrings are normative) is here with the signature the plugin core checks, and
raises NotImplementedError until you write it: the conformance kit fails each test
naming the method that raised. init_host, cleanup_host and get_host_ip_addr are
written already. Declare a capability in ``capabilities`` only once its methods work
(supports_live_migration needs every method of LIVE_MIGRATION_METHODS, and the
target's ``peer_options`` extra: see conformance.py; supports_console_output needs
get_console_output, supports_rebuild needs rebuild).
"""

from __future__ import annotations

from oslo_config import cfg

from $module import conf as plugin_conf
from nubis.core.virt import hardware
from nubis.core.virt.driver import ComputeDriver


class $cls(ComputeDriver):
    """See the module docstring."""

    capabilities = {
        "supports_live_migration": False,
        "supports_reboot_soft": False,
        "supports_clean_shutdown": False,
        "supports_lifecycle_events": False,
        "supports_multiple_nodes": False,
        "supports_console_output": False,
        "supports_rebuild": False,
    }

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)  # no I/O here: connect in init_host
        plugin_conf.register_opts(conf)
        self.host: str | None = None

    def init_host(self, host, /):
        self.host = host

    def cleanup_host(self, host, /):
        self.host = None

    def get_host_ip_addr(self):
        return hardware.host_ip(self.conf.$group.host_ip)
$stubs'''

VIRT_OPTS = """\
OPTS = [
    cfg.StrOpt("host_ip", help="The address other hosts reach this one on."),
]
"""

TRANSPORT = '''\
"""``$name://``: a message transport (namespace ``oslo.messaging.drivers``) -- a SKELETON.

oslo.messaging loads this driver for a ``transport_url`` of scheme ``$name``. Every
method of oslo.messaging's driver contract (``oslo_messaging._drivers.base.BaseDriver``)
is here with the signature the plugin core checks, and raises NotImplementedError
until you write it; the conformance kit's transport suite (the same cases RabbitMQ
passes) fails naming the method that raised.
"""

from __future__ import annotations

from typing import Any

from oslo_messaging._drivers import base

from $module import conf as plugin_conf


class $cls(base.BaseDriver):
    """See the module docstring."""

    def __init__(
        self, conf: Any, url: Any, default_exchange: Any = None, allowed_remote_exmods: Any = None
    ) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        plugin_conf.register_opts(conf)
$stubs'''

TRANSPORT_OPTS = """\
OPTS = [
    cfg.FloatOpt("connect_timeout", default=5.0, min=0, help="Seconds to reach the broker."),
]
"""
