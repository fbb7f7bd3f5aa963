"""The plugin scaffold: a complete out-of-tree plugin package for any namespace.

``nubis-manage plugins new NAMESPACE NAME`` (:mod:`nubis.core.cmd.manage_plugins`)
writes what :func:`files` returns: a ``pyproject.toml`` with the plugin's entry point,
its options under ``oslo.config.opts`` and its conformance environment under
``nubis.conformance.environments``; the plugin; its options (``conf.py``); the
environment (``conformance.py``, how the kit runs it); a README; and
``tests/test_conformance.py``, which runs the kit from the package's own ``pytest``.

Where a namespace allows a plugin that is small, generic and honest, the package holds
one that passes the kit as written (a filter, a weigher, a periodic task, a
membership driver on a shared directory, an in-process indirection, a static-token
API auth plugin). Where it does not -- a hypervisor driver, a manager, a message
transport -- it holds a *skeleton*: every method of the contract, with the
signature the contract checks, raising ``NotImplementedError`` (or absent, for a
manager's RPC methods), so that the kit fails it and names, method by method, what
is left to write.

docs/plugin-author-guide.md shows this module's output for every namespace; a test
keeps the two the same.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import keyword
import re
import string
import textwrap
from pathlib import Path

from nubis.core import plugins


@dataclasses.dataclass(frozen=True)
class Kind:
    """What the scaffold writes for one namespace."""

    namespace: str
    #: Short name, in the default distribution name (``nubis-<slug>-<name>``).
    slug: str
    #: What the plugin is, in words.
    what: str
    #: The plugin's module in the package, and the class name suffix (or "" for a
    #: function plugin, whose function is named after the plugin).
    module: str
    suffix: str
    #: Whether the package holds a skeleton that fails the kit until it is written.
    skeleton: bool
    implementation: str
    options: str
    environment: str
    own_tests: str = ""
    readme: str = ""


_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SCHEME = re.compile(r"[a-z][a-z0-9]*")
_DIST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


class ScaffoldError(ValueError):
    """The scaffold cannot write what was asked (one line saying why)."""


# --------------------------------------------------------------------------- templates
# string.Template: $name (entry point name), $cls, $module (import package), $group
# (option group), $namespace, $dist.

_FILTER = '''\
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

_FILTER_OPTS = """\
OPTS = [
    cfg.IntOpt(
        "reserved_ram_mb",
        default=0,
        min=0,
        help="RAM (MiB) a host must still have free after taking one instance.",
    ),
]
"""

_WEIGHER = '''\
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

_WEIGHER_OPTS = """\
OPTS = [
    cfg.FloatOpt(
        "multiplier",
        default=1.0,
        help="Factor of the normalised weight; negative stacks instances instead.",
    ),
]
"""

_PERIODIC = '''\
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

_PERIODIC_OPTS = """\
OPTS = [
    cfg.IntOpt(
        "warn_above",
        default=0,
        min=0,
        help="Warn about a node running more instances than this (0: never).",
    ),
]
"""

_SERVICEGROUP = '''\
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

_SERVICEGROUP_OPTS = """\
OPTS = [
    cfg.StrOpt(
        "directory",
        default="/var/lib/nubis/membership",
        help="The shared directory of membership files (must exist).",
    ),
]
"""

_INDIRECTION = '''\
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

_INDIRECTION_OPTS = """\
OPTS = [
    cfg.FloatOpt(
        "slow_call_seconds",
        default=1.0,
        min=0,
        help="Log a remotable method that takes longer than this.",
    ),
]
"""

_AUTH = '''\
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

_AUTH_OPTS = """\
OPTS = [
    cfg.StrOpt("token", secret=True, help="The token callers present (X-Auth-Token)."),
    cfg.StrOpt("user", default="operator", help="Who a caller with the token is."),
    cfg.StrOpt("project", default="operators", help="The project the caller acts in."),
    cfg.ListOpt("roles", default=["member", "reader"], help="The caller's roles."),
]
"""

_AUTH_TESTS = """

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

_MANAGER = '''\
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

_NO_OPTS = """\
OPTS: list[cfg.Opt] = []  # the plugin's options, when it has some
"""

_VIRT = '''\
"""``$name``: a hypervisor driver (namespace ``nubis.virt``) -- a SKELETON.

Every method of the contract (:class:`nubis.core.virt.driver.ComputeDriver`, whose
docstrings are normative) is here with the signature the plugin core checks, and
raises NotImplementedError until you write it: the conformance kit fails each test
naming the method that raised. init_host, cleanup_host and get_host_ip_addr are
written already. Declare a capability in ``capabilities`` only once its methods work
(supports_live_migration needs every method of LIVE_MIGRATION_METHODS, and the
target's ``peer_options`` extra: see conformance.py).
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

_VIRT_OPTS = """\
OPTS = [
    cfg.StrOpt("host_ip", help="The address other hosts reach this one on."),
]
"""

_TRANSPORT = '''\
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

_TRANSPORT_OPTS = """\
OPTS = [
    cfg.FloatOpt("connect_timeout", default=5.0, min=0, help="Seconds to reach the broker."),
]
"""

# --------------------------------------------------------------------------- environments

_ENV_HEAD = '''\
"""How the nubis conformance kit runs ``$namespace:$name``.

Registered under the entry point group ``nubis.conformance.environments`` (see
pyproject.toml): the kit loads it when it runs, and only then. It answers the kit's
hook with this plugin's targets -- the ways to run it -- and None for any other
plugin.
"""

from __future__ import annotations

'''

_ENV_PLAIN = (
    _ENV_HEAD
    + """\
from typing import Any

from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    return [Target("$name")]
"""
)

_ENV_PERIODIC = (
    _ENV_HEAD
    + """\
from typing import Any

from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    # "service": the service whose manager runs the task; without it the kit cannot
    # run the task for real, and the verdict is incomplete.
    return [Target("$name", extras={"service": "compute"})]
"""
)

_ENV_SERVICEGROUP = (
    _ENV_HEAD
    + '''\
import contextlib
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nubis.core.conformance import Target


def options(request: Any) -> dict[str, dict[str, Any]]:
    """A membership directory of the test's own, removed afterwards."""
    directory = tempfile.mkdtemp(prefix="$name-conformance-")
    request.addfinalizer(lambda: shutil.rmtree(directory, ignore_errors=True))
    return {"$group": {"directory": directory}}


def _directory() -> Path:
    from nubis.core.conf import CONF

    return Path(CONF.$group.directory)


@contextlib.contextmanager
def fault(deployment: Any) -> Iterator[None]:
    """The "server" goes away: the directory is moved aside, then put back."""
    directory = _directory()
    away = directory.with_name(directory.name + ".away")
    directory.rename(away)
    try:
        yield
    finally:
        away.rename(directory)


def left_behind(deployment: Any, host: str) -> str:
    """The member's file, if it is still there ("" when gone)."""
    group = _directory() / urllib.parse.quote(deployment.topic, safe="")
    path = group / urllib.parse.quote(host, safe="")
    return str(path) if path.exists() else ""


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    return [Target("$name", options, {"fault": fault, "left_behind": left_behind})]
'''
)

_ENV_VIRT = (
    _ENV_HEAD
    + '''\
from typing import Any

from nubis.core.conformance import Target


def options(request: Any) -> dict[str, dict[str, Any]]:
    """The driver's options for one test (its hypervisor, a directory of its own...)."""
    return {"$group": {"host_ip": "127.0.0.1"}}


def peer_options(request: Any) -> dict[str, dict[str, Any]]:
    """The options of a second host, the live-migration destination."""
    return {"$group": {"host_ip": "127.0.0.1"}}


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    # "peer_options": without a second host the live-migration tests cannot run, and a
    # driver declaring supports_live_migration gets the verdict incomplete.
    return [Target("$name", options, {"peer_options": peer_options})]
'''
)

_ENV_TRANSPORT = (
    _ENV_HEAD
    + """\
from typing import Any

from nubis.core.conformance import Target


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    if (namespace, plugin) != ("$namespace", "$name"):
        return None  # someone else's plugin
    # "url": the transport URL of your broker (a str, or callable(request) -> str).
    return [Target("$name", extras={"url": "$name://"})]
"""
)


# fmt: off
def _kinds() -> dict[str, Kind]:
    return {
        k.namespace: k
        for k in (
            Kind(
                "nubis.scheduler.filters", "filter", "scheduler filter", "filter", "Filter",
                False, _FILTER, _FILTER_OPTS, _ENV_PLAIN,
            ),
            Kind(
                "nubis.scheduler.weighers", "weigher", "scheduler weigher", "weigher", "Weigher",
                False, _WEIGHER, _WEIGHER_OPTS, _ENV_PLAIN,
            ),
            Kind(
                "nubis.periodic_tasks", "periodic", "compute periodic task", "task", "",
                False, _PERIODIC, _PERIODIC_OPTS, _ENV_PERIODIC,
            ),
            Kind(
                "nubis.servicegroup", "servicegroup", "membership (servicegroup) driver",
                "driver", "Driver", False, _SERVICEGROUP, _SERVICEGROUP_OPTS, _ENV_SERVICEGROUP,
            ),
            Kind(
                "nubis.indirection", "indirection", "indirection API", "indirection",
                "Indirection", False, _INDIRECTION, _INDIRECTION_OPTS, _ENV_PLAIN,
            ),
            Kind(
                "nubis.api.auth", "auth", "nubis-api authentication plugin", "auth", "Auth",
                False, _AUTH, _AUTH_OPTS, _ENV_PLAIN, own_tests=_AUTH_TESTS,
            ),
            Kind(
                "nubis.managers", "manager", "service manager", "manager", "Manager",
                True, _MANAGER, _NO_OPTS, _ENV_PLAIN,
            ),
            Kind(
                "nubis.virt", "virt", "hypervisor (virt) driver", "driver", "Driver",
                True, _VIRT, _VIRT_OPTS, _ENV_VIRT,
            ),
            Kind(
                "oslo.messaging.drivers", "transport", "message transport", "driver", "Driver",
                True, _TRANSPORT, _TRANSPORT_OPTS, _ENV_TRANSPORT,
            ),
        )
    }
# fmt: on


KINDS = _kinds()

# --------------------------------------------------------------------------- the package

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A nubis $what: $name"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["nubis>=$nubis_version"]

[project.optional-dependencies]
# The conformance kit runs in pytest.
test = ["nubis[conformance]", "pytest>=8"]

# The plugin: a deployment chooses it by this name.
[project.entry-points."$namespace"]
$name = "$module.$impl:$attr"

# Its options, under <namespace>.<plugin>: the kit and oslo-config-generator find them.
[project.entry-points."oslo.config.opts"]
"$namespace.$name" = "$module.conf:list_opts"

# How the conformance kit runs it: loaded by the kit, only when the kit runs.
[project.entry-points."nubis.conformance.environments"]
$module = "$module.conformance"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_INIT = '''\
"""A nubis $what: $name ($namespace)."""
'''

_CONF = '''\
"""The [$group] options of the $name plugin."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "$group"

$opts

def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the options on *conf* (again: harmless)."""
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The options, for oslo-config-generator and the conformance kit."""
    return [(GROUP, list(OPTS))]
'''

_TESTS = '''\
"""The conformance kit against this package's plugin, from this package's ``pytest``.

The kit's pytest plugin (installed with nubis) attaches the suite of the plugin's
namespace below this module; the plugin's own tests go beside it.
"""

#: Read by the kit: run the suite of $namespace against plugin $name.
NUBIS_CONFORMANCE = ["$namespace:$name"]
'''

_README = """\
# $dist

A nubis $what, `$name` in the namespace `$namespace`, packaged as its own
distribution. Written by `nubis-manage plugins new $namespace $name`.
$status
## Files

* `src/$module/$impl.py` -- the plugin.
* `src/$module/conf.py` -- its options, group `[$group]` (entry point `oslo.config.opts`
  `$namespace.$name`).
* `src/$module/conformance.py` -- how the conformance kit runs it (entry point group
  `nubis.conformance.environments`).
* `tests/test_conformance.py` -- runs the kit from this package's `pytest`.

## Install, check, run the kit

```sh
pip install -e '.[test]'
nubis-manage plugins list --namespace $namespace     # $name ... ok
nubis-conformance --namespace $namespace --plugin $name
pytest                                              # the same suite, and your own tests
```

`nubis-conformance` exits 0 only when every test passed (or was waived) and every
capability the plugin declares was exercised; `incomplete` fails too, saying which
test did not run and which `Target` extra would run it.

## Use it

$usage

The plugin-author guide (docs/plugin-author-guide.md in nubis) explains the contract,
capabilities, waivers and the kit.
"""

_USAGE = {
    "nubis.scheduler.filters": "```ini\n[scheduler]\nenabled_filters = compute,ram,$name\n```",
    "nubis.scheduler.weighers": "```ini\n[scheduler]\nweighers = ram,$name\n```",
    "nubis.periodic_tasks": (
        "```ini\n[compute]\nperiodic_tasks = update_available_resource,sync_power_states,"
        "reap_orphans,$name\n```"
    ),
    "nubis.servicegroup": (
        "```ini\n[servicegroup]\ndriver = $name\n\n[$group]\ndirectory = /srv/nubis/membership\n```"
    ),
    "nubis.indirection": "```ini\n[indirection]\napi = $name\n```",
    "nubis.api.auth": "```ini\n[api]\nauth_strategy = $name\n\n[$group]\ntoken = ...\n```",
    "nubis.managers": "```ini\n[$service]\nmanager = $name\n```",
    "nubis.virt": "```ini\n[compute]\nvirt_driver = $name\n```",
    "oslo.messaging.drivers": "```ini\n[DEFAULT]\ntransport_url = $name://broker.example:1234/\n```",
}

_SKELETON_STATUS = """
**A skeleton.** A $what cannot be written generically: the package installs and loads,
but the conformance kit fails it and names what to write ($todo). Write it until
`nubis-conformance` passes.
"""

_HONEST_STATUS = """
It works as written and passes the conformance kit; make it yours from there.
"""

_TODO = {
    "nubis.managers": "each RPC method of the service's API it does not serve yet",
    "nubis.virt": "each method that raised NotImplementedError",
    "oslo.messaging.drivers": "each method that raised NotImplementedError",
}

# --------------------------------------------------------------------------- building


@dataclasses.dataclass(frozen=True)
class Package:
    """What :func:`files` writes, and where."""

    namespace: str
    name: str
    dist: str
    module: str
    kind: Kind
    files: dict[str, str]


def class_name(name: str, suffix: str) -> str:
    """``my_thing`` + ``Filter`` -> ``MyThingFilter``."""
    return "".join(part.capitalize() for part in name.split("_") if part) + suffix


def check_name(namespace: str, name: str) -> None:
    """Raise ScaffoldError unless *name* can be a plugin of *namespace*."""
    if namespace == "oslo.messaging.drivers":
        if not _SCHEME.fullmatch(name):
            raise ScaffoldError(
                f"transport name {name!r} is the scheme of transport_url: lower-case "
                "letters and digits, starting with a letter"
            )
    elif not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"plugin name {name!r}: use lower-case letters, digits and '_', starting with "
            "a letter (it is written in configuration files, and a periodic task's "
            "function is named after it)"
        )


def files(namespace: str, name: str, dist: str | None = None) -> Package:
    """The package for plugin *name* of *namespace*: ``{relative path: text}``."""
    try:
        ns = plugins.namespace(namespace)
    except Exception as exc:
        raise ScaffoldError(str(exc)) from None
    kind = KINDS.get(ns.name)
    if kind is None:  # pragma: no cover - every namespace has one (a test says so)
        raise ScaffoldError(f"the scaffold has nothing for {namespace}")
    check_name(ns.name, name)
    dist = dist or f"nubis-{kind.slug}-{name.replace('_', '-')}"
    if not _DIST.fullmatch(dist):
        raise ScaffoldError(f"distribution name {dist!r} is not a valid project name")
    module = re.sub(r"[^A-Za-z0-9]+", "_", dist).lower()
    cls = class_name(name, kind.suffix) if kind.suffix else name
    group = f"{name}_{kind.slug}"
    values = {
        "name": name,
        "namespace": ns.name,
        "dist": dist,
        "module": module,
        "cls": cls,
        "group": group,
        "what": kind.what,
        "impl": kind.module,
        "attr": cls,
        "nubis_version": _nubis_version(),
        "service": "scheduler",
        "rpcapi": "nubis.core.scheduler.rpcapi",
        "version": _scheduler_rpc_version(),
        "stubs": _stubs(ns) if ns.name in ("nubis.virt", "oslo.messaging.drivers") else "",
    }

    def fill(template: str) -> str:
        return string.Template(template).substitute(values)

    values["todo"] = _TODO.get(ns.name, "")
    values["opts"] = fill(kind.options)
    values["usage"] = fill(_USAGE[ns.name])
    values["status"] = fill(_SKELETON_STATUS if kind.skeleton else _HONEST_STATUS)
    src = f"src/{module}"
    result = {
        "pyproject.toml": fill(_PYPROJECT),
        "README.md": fill(_README),
        f"{src}/__init__.py": fill(_INIT),
        f"{src}/conf.py": fill(_CONF),
        f"{src}/{kind.module}.py": fill(kind.implementation),
        f"{src}/conformance.py": fill(kind.environment),
        "tests/test_conformance.py": fill(_TESTS) + fill(kind.own_tests),
    }
    return Package(ns.name, name, dist, module, kind, result)


def write(package: Package, directory: Path) -> list[Path]:
    """Write *package* into *directory* (new, or empty); return the files written."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(f"{directory} exists and is not an empty directory")
    written = []
    for relative, text in package.files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _nubis_version() -> str:
    try:
        version = importlib.metadata.version("nubis")
    except importlib.metadata.PackageNotFoundError:
        return "0.1"
    return ".".join(version.split(".")[:2])


def _scheduler_rpc_version() -> str:
    from nubis.core.scheduler import rpcapi

    return str(rpcapi.SchedulerAPI.VERSION)


def _define(method: str, signature: inspect.Signature) -> str:
    """``def method(...):`` on one line, or one parameter a line when that is too long."""
    line = f"    def {method}{signature}:".replace("'", '"')
    if len(line) <= 100:
        return line
    params: list[str] = []
    for param in signature.parameters.values():
        if params and param.kind is not param.POSITIONAL_ONLY and "/" not in params:
            if any(p.kind is p.POSITIONAL_ONLY for p in signature.parameters.values()):
                params.append("/")
        params.append(str(param).replace("'", '"'))
    body = "".join(f"        {p},\n" for p in params)
    return f"    def {method}(\n{body}    ):"


def _stubs(ns: plugins.Namespace) -> str:
    """A method raising NotImplementedError for each abstract method of *ns*'s interface
    (but those the template writes), with the signature the plugin core checks."""
    interface = plugins.resolve_interface(ns)
    written = {"init_host", "cleanup_host", "get_host_ip_addr"}
    out = []
    for method in sorted(getattr(interface, "__abstractmethods__", ())):
        if method in written:
            continue
        doc = (inspect.getdoc(getattr(interface, method)) or "").split("\n\n")[0]
        doc = " ".join(doc.split())
        lines = [_define(method, plugins.contract_parameters(ns, method))]
        if doc:
            wrapped = textwrap.wrap(f'"""{doc}"""', 84)
            lines += [f"        {line}" for line in wrapped]
        lines.append(f'        raise NotImplementedError("{method}(): not written yet")')
        out.append("\n".join(lines))
    return "\n" + "\n\n".join(out) + "\n" if out else ""
