"""The virt driver contract itself: capability validation, events, resources, progress."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from nubis.core import exception, plugins
from nubis.core.virt import driver, events, hardware, power_state
from nubis.core.virt import migration as lm


class Minimal(driver.ComputeDriver):
    """Implements every abstract method, declares nothing."""

    def init_host(self, host: str) -> None:
        pass

    def cleanup_host(self, host: str) -> None:
        pass

    def get_host_ip_addr(self) -> str:
        return "127.0.0.1"

    def spawn(self, context, instance, network_info=None, block_device_info=None):
        pass

    def destroy(
        self, context, instance, network_info=None, block_device_info=None, destroy_disks=True
    ):
        pass

    def power_off(self, instance, timeout=0, retry_interval=0):
        pass

    def power_on(self, context, instance, network_info=None, block_device_info=None):
        pass

    def reboot(
        self, context, instance, reboot_type="SOFT", network_info=None, block_device_info=None
    ):
        pass

    def get_info(self, instance: Any) -> driver.InstanceInfo:
        raise exception.InstanceNotFound(instance_id=instance.uuid)

    def list_instances(self) -> list[str]:
        return []

    def list_instance_uuids(self) -> list[str]:
        return []

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        return ["n1"]

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        return {}


NS = plugins.namespace("nubis.virt")


def test_the_namespace_is_in_the_table() -> None:
    assert NS.interface == "nubis.core.virt.driver:ComputeDriver"
    assert NS.option == "[compute] virt_driver"


def test_a_minimal_driver_conforms() -> None:
    assert plugins.contract_problems(NS, Minimal) == []


def test_unknown_capability_names_are_rejected_at_load() -> None:
    class Typo(Minimal):
        capabilities = {"supports_live_migraton": True, "supports_reboot_soft": True}

    problems = plugins.contract_problems(NS, Typo)
    assert len(problems) == 1
    assert "unknown capabilities supports_live_migraton" in problems[0]
    assert "known: supports_clean_shutdown" in problems[0]
    with pytest.raises(exception.PluginContractViolation, match="supports_live_migraton"):
        plugins.check("nubis.virt", "typo", Typo)


def test_capability_values_must_be_bools() -> None:
    class Vague(Minimal):
        capabilities = {"supports_reboot_soft": "yes"}

    assert plugins.contract_problems(NS, Vague) == [
        "capabilities must be bools: supports_reboot_soft"
    ]


def test_declaring_live_migration_requires_implementing_it() -> None:
    class Boastful(Minimal):
        capabilities = {"supports_live_migration": True}

        def live_migration(self, *args: Any, **kwargs: Any) -> None:
            pass

    (problem,) = plugins.contract_problems(NS, Boastful)
    assert problem.startswith("declares supports_live_migration but does not implement")
    assert "check_can_live_migrate_destination" in problem and " live_migration," not in problem


def test_declaring_console_output_or_rebuild_requires_implementing_it() -> None:
    class Promising(Minimal):
        capabilities = {"supports_console_output": True, "supports_rebuild": True}

    assert plugins.contract_problems(NS, Promising) == [
        "declares supports_console_output but does not implement get_console_output",
        "declares supports_rebuild but does not implement rebuild",
    ]

    class Keeping(Promising):
        def get_console_output(self, instance: Any) -> str:
            return ""

        def rebuild(self, context, instance, network_info=None, block_device_info=None,
                    preserve_ephemeral=False):  # fmt: skip
            pass

    assert plugins.contract_problems(NS, Keeping) == []


def test_undeclared_console_output_and_rebuild_raise_their_exceptions() -> None:
    drv = Minimal(conf=None)  # type: ignore[arg-type]
    with pytest.raises(exception.ConsoleOutputNotSupported) as info:
        drv.get_console_output(None)
    assert info.value.code == 501 and "the Minimal virt driver" in str(info.value)
    with pytest.raises(exception.RebuildNotSupported, match="Minimal"):
        drv.rebuild(None, None, preserve_ephemeral=True)


def test_a_plugin_cannot_override_the_interface_check() -> None:
    class Sneaky(Minimal):
        capabilities = {"supports_teleport": True}

        @classmethod
        def contract_problems(cls) -> list[str]:
            return []

    assert plugins.contract_problems(NS, Sneaky)


def test_undeclared_live_migration_raises_not_supported() -> None:
    drv = Minimal(conf=None)  # type: ignore[arg-type]
    with pytest.raises(exception.LiveMigrationNotSupported, match="Minimal"):
        drv.check_can_live_migrate_destination(None, None, {}, {})
    with pytest.raises(exception.LiveMigrationNotSupported):
        drv.live_migration(None, None, "h2", print, print)


def test_has_capability_rejects_typos() -> None:
    drv = Minimal(conf=None)  # type: ignore[arg-type]
    assert drv.has_capability("supports_live_migration") is False
    with pytest.raises(ValueError, match="unknown capability"):
        drv.has_capability("supports_live_migrations")


def test_instance_info_rejects_unknown_states() -> None:
    assert driver.InstanceInfo(power_state.RUNNING).state == 1
    with pytest.raises(ValueError):
        driver.InstanceInfo(2)


def test_lifecycle_event_rejects_unknown_transitions() -> None:
    event = events.LifecycleEvent("u1", events.STARTED)
    assert event.timestamp == pytest.approx(time.time(), abs=5)
    with pytest.raises(ValueError, match="unknown lifecycle transition"):
        events.LifecycleEvent("u1", "EXPLODED")


def test_events_are_delivered_in_order_from_another_thread(caplog) -> None:
    dispatcher = events.EventDispatcher(idle_exit=0.1)
    seen: list[tuple[str, int]] = []

    def listener(event: events.Event) -> None:
        assert isinstance(event, events.LifecycleEvent)
        if event.instance_uuid == "bad":
            raise RuntimeError("listener bug")
        seen.append((event.instance_uuid, threading.get_ident()))

    dispatcher.emit(events.LifecycleEvent("dropped", events.STARTED))  # no listener yet
    dispatcher.set_listener(listener)
    for name in ("a", "bad", "b", "c"):
        dispatcher.emit(events.LifecycleEvent(name, events.STARTED))
    assert dispatcher.flush(5)
    assert [s[0] for s in seen] == ["a", "b", "c"]
    assert threading.get_ident() not in {s[1] for s in seen}
    assert "listener failed" in caplog.text
    time.sleep(0.3)  # the idle thread exits; the next event starts a new one
    dispatcher.emit(events.LifecycleEvent("d", events.STOPPED))
    assert dispatcher.flush(5) and seen[-1][0] == "d"


def test_resource_problems_names_what_is_wrong() -> None:
    good = {
        "vcpus": 2,
        "memory_mb": 1024,
        "local_gb": 10,
        "vcpus_used": 0,
        "memory_mb_used": 0,
        "local_gb_used": 0,
        "hypervisor_type": "fake",
        "hypervisor_version": 1,
        "hypervisor_hostname": "n1",
        "cpu_info": hardware.cpu_info("x86_64", None, None, 1, 2, 1),
        "disk_available_least": 10,
        "supported_instances": [["x86_64", "fake", "hvm"]],
    }
    assert hardware.resource_problems(good) == []
    bad = dict(good, vcpus="2", extra=1, cpu_info="{")
    del bad["local_gb"]
    problems = hardware.resource_problems(bad)
    assert "unexpected keys: extra" in problems
    assert "missing keys: local_gb" in problems
    assert "vcpus must be an int, got '2'" in problems
    assert "cpu_info is not JSON" in problems


def test_migration_progress_percent_and_serialisable_data() -> None:
    assert lm.MigrationProgress(1.0, memory_total=200, memory_remaining=50).percent == 75.0
    assert lm.MigrationProgress(1.0).percent == 0.0
    data = {lm.DEST_HOST: "h2", lm.PROGRESS_CALLBACK: print}
    assert lm.serialisable(data) == {lm.DEST_HOST: "h2"}


def test_declaring_pause_suspend_diagnostics_or_uptime_requires_implementing_them() -> None:
    class Eager(Minimal):
        capabilities = {
            "supports_pause": True,
            "supports_suspend": True,
            "supports_diagnostics": True,
            "supports_host_uptime": True,
        }

        def pause(self, instance: Any) -> None:
            pass

    assert plugins.contract_problems(NS, Eager) == [
        "declares supports_pause but does not implement unpause",
        "declares supports_suspend but does not implement suspend, resume",
        "declares supports_diagnostics but does not implement get_diagnostics",
        "declares supports_host_uptime but does not implement get_host_uptime",
    ]
    undeclared = Minimal(conf=None)  # type: ignore[arg-type]
    with pytest.raises(exception.VirtOperationNotSupported, match="pause is not supported"):
        undeclared.pause(None)
