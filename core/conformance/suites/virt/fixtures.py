"""The harness of the virt suite: drivers, guests and the checks on teardown."""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception
from nubis.core.conformance import harness, targets
from nubis.core.virt import power_state

GUEST_MEMORY_MB = 64
WAIT = 15.0  # longest wait for a state or an event


class Harness:
    """Drivers and guests of one virt conformance test."""

    def __init__(self, run: harness.TargetRun, request: pytest.FixtureRequest) -> None:
        self.run = run
        self.request = request
        self.plugin_class = run.plugin
        self._drivers: list[tuple[Any, str]] = []
        self._instances: list[Any] = []
        self._primary: Any = None

    @property
    def label(self) -> str:
        return self.run.label

    def make_driver(self, options: targets.Options, host: str) -> Any:
        """A driver of the plugin under test, after init_host(*host*).

        Its private ConfigOpts gets the kit's config file (groups it does not have are
        left out), then *options*.
        """
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        harness.register_plugin_opts(conf, "nubis.virt", self.run.subject.name)
        name = self.run.subject.name
        hint = f"publish it under the oslo.config.opts entry point nubis.virt.{name}"
        try:
            targets.apply(conf, self.run.config_file_options, hint, skip_unknown_groups=True)
            targets.apply(conf, options, hint)
            problem = None
        except ValueError as exc:
            problem = str(exc)
        if problem is not None:
            pytest.fail(f"{self.label}: {problem}", pytrace=False)
        driver = self.plugin_class(conf)
        self.run.note_instance(driver)
        proxy = harness.ContractProxy(driver, self.label)
        proxy.init_host(host)
        self._drivers.append((driver, host))
        return proxy

    @property
    def driver(self) -> Any:
        """The primary host's driver (created on first use)."""
        if self._primary is None:
            host = f"{self.run.target.id}-{uuid.uuid4().hex[:8]}"
            self._primary = self.make_driver(self.run.target.resolve_options(self.request), host)
        return self._primary

    def peer(self) -> Any:
        """A second host's driver, the live-migration destination."""
        source = self.run.target.extra("peer_options")
        if source is None:
            self.run.missing(
                f"{self.label} declares supports_live_migration but its target gives no "
                "peer_options (a second host to migrate to)",
                extra="peer_options",
            )
        peer = source(self.request) if callable(source) else source
        host = f"{self.run.target.id}-peer-{uuid.uuid4().hex[:8]}"
        return self.make_driver(peer or {}, host)

    def require(self, driver: Any, capability: str) -> None:
        """Skip unless the plugin declares *capability* and *driver* did not withdraw it."""
        self.run.require(capability, getattr(driver, "wrapped", driver))

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
        """Remove leftover guests, check destroy's idempotency, clean the drivers up.

        Returns the problems found (leftover guests, a destroy of a gone guest that
        raised, a guest still there after destroy).
        """
        problems = []
        for driver, host in self._drivers:
            for instance in self._instances:
                try:
                    exists = driver.instance_exists(instance)
                except exception.NubisException:
                    continue  # the hypervisor went away in the test; nothing to check
                except NotImplementedError:
                    harness.not_implemented("instance_exists()")
                    problems.append(
                        "instance_exists() raised NotImplementedError: the harness cannot "
                        "check for leftover guests"
                    )
                    break
                if exists:
                    problems.append(f"guest {instance.uuid} left behind on {host}")
                    try:
                        driver.destroy(None, instance)
                    except Exception as exc:  # noqa: BLE001 - reported, cleanup goes on
                        problems.append(f"destroy({instance.uuid}) on {host} raised {exc!r}")
                        continue
                try:
                    driver.destroy(None, instance)  # gone: must succeed, doing nothing
                except Exception as exc:  # noqa: BLE001 - reported below
                    problems.append(
                        f"destroy() of guest {instance.uuid}, already gone from {host}, "
                        f"raised {type(exc).__name__}: {exc} (the contract says it succeeds)"
                    )
                if driver.instance_exists(instance):
                    problems.append(f"guest {instance.uuid} still on {host} after destroy()")
        for driver, host in self._drivers:
            try:
                driver.cleanup_host(host)
            except NotImplementedError:
                harness.not_implemented("cleanup_host()")
                problems.append(f"cleanup_host({host}) raised NotImplementedError")
        return problems


@pytest.fixture
def nubis_virt(
    nubis_target: harness.TargetRun, request: pytest.FixtureRequest
) -> Iterator[Harness]:
    virt = Harness(nubis_target, request)
    try:
        yield virt
    finally:
        problems = virt.close()
    if problems and not harness.call_failed(request.node):
        pytest.fail(f"{virt.label}: {'; '.join(problems)}", pytrace=False)


def wait_for(predicate: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    harness.wait_for(predicate, timeout, what)
