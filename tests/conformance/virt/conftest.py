"""The harness of the virt driver conformance suite.

The suite runs against every installed ``nubis.virt`` plugin, in every configuration
listed in :data:`CONFIGS` for it (a plugin not listed runs once with its defaults):

* ``fake`` -- the in-memory driver; a second fake host in the same process is the
  live-migration peer;
* ``libvirt-test`` -- libvirt's test driver on ``test:///<libvirt-test-node.xml>``
  (every connection a private simulated host);
* ``libvirt-qemu`` -- real diskless 64 MiB guests on the machine's ``qemu:///system``
  (kvm where /dev/kvm works, else qemu); its live-migration peer is a second libvirtd
  in its own mount namespace (tests/fixtures/libvirt_hosts.py). Needs libvirtd: skipped
  locally without it, failed under NUBIS_REQUIRE_SERVERS=1.

Each driver gets a private ConfigOpts with the plugin's own options registered (from
its ``oslo.config.opts`` entry point ``nubis.virt.<name>``). The ``virt`` fixture
gives a :class:`Harness`: it creates drivers and instances, turns a NotImplementedError
from a contract method into a failure that says so, and on teardown fails the test if
any guest it created is still there (after removing it).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import shutil
import tempfile
import time
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception, plugins
from nubis.core.virt import power_state
from tests.fixtures.libvirt_hosts import second_libvirt_host  # noqa: F401
from tests.fixtures.servers import libvirt_domain_type

NODE_XML = Path(__file__).with_name("libvirt-test-node.xml").resolve()
GUEST_MEMORY_MB = 64
WAIT = 15.0  # longest wait for a state or an event


@dataclasses.dataclass(frozen=True)
class VirtConfig:
    """One way of running a plugin under the suite.

    ``options(harness)`` returns ``{group: {option: value}}`` for the primary host;
    ``peer_options(harness)``, when set, the options of a second host to live-migrate to.
    """

    id: str
    plugin: str
    options: Callable[[Harness], dict[str, dict[str, Any]]]
    peer_options: Callable[[Harness], dict[str, dict[str, Any]]] | None = None
    marks: tuple[Any, ...] = ()


def _fake_options(_h: Harness) -> dict[str, dict[str, Any]]:
    return {"fake_driver": {"live_migration_seconds": 0.2}}


def _libvirt_test_options(_h: Harness) -> dict[str, dict[str, Any]]:
    return {"libvirt": {"virt_type": "test", "connection_uri": f"test://{NODE_XML}"}}


def _instances_dir(h: Harness) -> str:
    # QEMU runs as libvirt-qemu: the directory must be traversable by it.
    path = tempfile.mkdtemp(prefix="nubis-cf-", dir="/var/tmp")
    os.chmod(path, 0o755)
    h.add_cleanup(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def _libvirt_qemu_options(h: Harness) -> dict[str, dict[str, Any]]:
    h.request.getfixturevalue("libvirt_uri")  # skips (or fails in CI) without libvirtd
    return {
        "libvirt": {
            "virt_type": libvirt_domain_type(),
            "connection_uri": "qemu:///system",
            "instances_path": _instances_dir(h),
            "wait_soft_reboot_seconds": 1,
            # A diskless guest's memory is mostly zero pages: at full speed the copy is
            # over before the first progress sample, and libvirt answers no jobStats()
            # during the switch-over. 1 MiB/s stretches the copy to about 2 s.
            "live_migration_bandwidth": 1,
            "live_migration_progress_interval": 0.2,
            # libvirt 9.0 here now and then never ends an aborted job (see
            # nubis.plugins.virt.libvirt.migration); a normal abort takes ~2.5 s.
            "live_migration_abort_timeout": 6,
        }
    }


def _libvirt_qemu_peer_options(h: Harness) -> dict[str, dict[str, Any]]:
    second = h.request.getfixturevalue("second_libvirt_host")
    options = _libvirt_qemu_options(h)
    options["libvirt"].update(connection_uri=second.uri, live_migration_uri=second.uri)
    return options


CONFIGS: dict[str, list[VirtConfig]] = {
    "fake": [VirtConfig("fake", "fake", _fake_options, _fake_options)],
    "libvirt": [
        VirtConfig("libvirt-test", "libvirt", _libvirt_test_options),
        VirtConfig(
            "libvirt-qemu",
            "libvirt",
            _libvirt_qemu_options,
            _libvirt_qemu_peer_options,
            marks=(pytest.mark.libvirtd,),
        ),
    ],
}


def all_configs() -> list[Any]:
    """pytest params: every configuration of every installed nubis.virt plugin."""
    params = []
    for name in plugins.available("nubis.virt"):
        configs = CONFIGS.get(name) or [VirtConfig(f"{name}-default", name, lambda _h: {})]
        for config in configs:
            params.append(pytest.param(config, id=config.id, marks=config.marks))
    return params


def _plugin_options(plugin: str) -> list[tuple[str, list[cfg.Opt]]]:
    for ep in importlib.metadata.entry_points(group="oslo.config.opts"):
        if ep.name == f"nubis.virt.{plugin}":
            result: list[tuple[str, list[cfg.Opt]]] = list(ep.load()())
            return result
    return []


class ContractProxy:
    """Forwards to a driver; a NotImplementedError from it fails the test, saying why."""

    def __init__(self, driver: Any, label: str) -> None:
        self._driver = driver
        self._label = label

    @property
    def wrapped(self) -> Any:
        return self._driver

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._driver, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except NotImplementedError as exc:
                pytest.fail(
                    f"{self._label}.{name}() raised NotImplementedError ({exc}); the "
                    "contract forbids it: implement it or declare the capability it needs"
                )

        return call


class Harness:
    """Drivers and guests of one conformance test (see the module docstring)."""

    def __init__(self, config: VirtConfig, request: pytest.FixtureRequest) -> None:
        self.config = config
        self.request = request
        self.plugin_class = plugins.load_one("nubis.virt", config.plugin)
        self._drivers: list[tuple[Any, str]] = []
        self._instances: list[Any] = []
        self._cleanups: list[Callable[[], None]] = []
        self._primary: Any = None

    @property
    def label(self) -> str:
        return self.config.id

    def add_cleanup(self, func: Callable[[], None]) -> None:
        self._cleanups.append(func)

    def make_driver(self, options: dict[str, dict[str, Any]], host: str) -> Any:
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        for group, opts in _plugin_options(self.config.plugin):
            conf.register_opts(opts, group=group)
        for group, values in options.items():
            for name, value in values.items():
                conf.set_override(name, value, group=group)
        driver = self.plugin_class(conf)
        driver.init_host(host)
        self._drivers.append((driver, host))
        return ContractProxy(driver, self.label)

    @property
    def driver(self) -> Any:
        """The primary host's driver (created on first use)."""
        if self._primary is None:
            host = f"{self.config.id}-{uuid.uuid4().hex[:8]}"
            self._primary = self.make_driver(self.config.options(self), host)
        return self._primary

    def peer(self) -> Any:
        """A second host's driver, the live-migration destination."""
        if self.config.peer_options is None:
            pytest.fail(
                f"{self.label} declares supports_live_migration but the suite has no "
                "peer configuration for it: add peer_options to its VirtConfig"
            )
        host = f"{self.config.id}-peer-{uuid.uuid4().hex[:8]}"
        return self.make_driver(self.config.peer_options(self), host)

    def require(self, driver: Any, capability: str) -> None:
        if not driver.has_capability(capability):
            pytest.skip(f"{self.label} does not declare {capability}")

    def instance(self, host: str | None = None, **fields: Any) -> Any:
        """A stand-in Instance with the attributes the contract lets drivers read."""
        values = {
            "uuid": str(uuid.uuid4()),
            "name": f"nubis-cf-{uuid.uuid4().hex[:8]}",
            "memory_mb": GUEST_MEMORY_MB,
            "vcpus": 1,
            "root_gb": 0,
            "image_ref": "",
            "host": host,
            "node": None,
            "power_state": power_state.NOSTATE,
        }
        values.update(fields)
        instance = types.SimpleNamespace(**values)
        self._instances.append(instance)
        return instance

    def close(self) -> list[str]:
        """Remove leftover guests, clean the drivers up; return what was left over."""
        leftovers = []
        for driver, host in self._drivers:
            for instance in self._instances:
                try:
                    if driver.instance_exists(instance):
                        leftovers.append(f"{instance.uuid} on {host}")
                        driver.destroy(None, instance)
                except exception.NubisException:
                    pass
        for driver, host in self._drivers:
            driver.cleanup_host(host)
        for func in reversed(self._cleanups):
            func()
        return leftovers


@pytest.fixture(params=all_configs())
def virt(request: pytest.FixtureRequest) -> Iterator[Harness]:
    harness = Harness(request.param, request)
    try:
        yield harness
    finally:
        leftovers = harness.close()
    if leftovers:
        pytest.fail(f"{harness.label}: the test left guests behind: {', '.join(leftovers)}")


def wait_for(predicate: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    """Poll *predicate* every 20 ms; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(0.02)
