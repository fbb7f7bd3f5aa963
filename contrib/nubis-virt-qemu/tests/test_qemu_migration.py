"""Live migration between two qemu hosts on this machine (two drivers, two state dirs).

The guests boot the test image, which prints a dot to its serial console about every
second: after a migration the dots go on in the *destination's* console, so the guest
really kept running there. Migrations are held to 1 MiB/s (see conftest.DEFAULTS) so
that they take long enough to be watched, cancelled and timed out.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from nubis_virt_qemu.driver import QemuDriver
from qemu_testlib import BOOT_MESSAGE, Events, console, qemu_pids, wait_until

from nubis.core import exception
from nubis.core.virt import events, power_state
from nubis.core.virt import migration as lm

pytestmark = pytest.mark.timeout(120)

BOOT_WAIT = 20.0


class Outcome:
    """What live_migration reported: the post/recover calls and the progress samples."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.progress: list[lm.MigrationProgress] = []
        self.data: dict[str, Any] = {}
        self.seconds = 0.0

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _args in self.calls]


def prepare(src: QemuDriver, dst: QemuDriver, inst: Any) -> dict[str, Any]:
    """The pre-checks and pre_live_migration, as the manager runs them."""
    src_node, dst_node = src.get_available_nodes()[0], dst.get_available_nodes()[0]
    data = dst.check_can_live_migrate_destination(
        None, inst, src.get_available_resource(src_node), dst.get_available_resource(dst_node)
    )
    data = src.check_can_live_migrate_source(None, inst, data)
    return dst.pre_live_migration(None, inst, None, None, None, data)


def migrate(
    src: QemuDriver,
    inst: Any,
    data: dict[str, Any],
    on_progress: Callable[[lm.MigrationProgress], None] | None = None,
) -> Outcome:
    outcome = Outcome()

    def progress(sample: lm.MigrationProgress) -> None:
        outcome.progress.append(sample)
        if on_progress is not None:
            on_progress(sample)

    data[lm.PROGRESS_CALLBACK] = progress
    began = time.monotonic()
    src.live_migration(
        None,
        inst,
        data[lm.DEST_HOST],
        lambda *args: outcome.calls.append(("post", args)),
        lambda *args: outcome.calls.append(("recover", args)),
        migrate_data=data,
    )
    outcome.seconds = time.monotonic() - began
    outcome.data = data
    return outcome


def dots(driver: QemuDriver, uuid: str) -> int:
    return console(driver, uuid).count(b".")


def test_a_running_guest_moves_with_its_disk_and_keeps_running(
    make_host: Callable[..., QemuDriver], instance: Callable[..., Any]
) -> None:
    # TCG: the firmware boots the test image in ~0.1 s there (~10 s under nested KVM).
    src = make_host("src", instances_path_shared=True, accel="tcg")
    dst = make_host("dst", instances_path_shared=True, accel="tcg")
    src_events, dst_events = Events(), Events()
    src.register_event_listener(src_events)
    dst.register_event_listener(dst_events)
    inst = instance(image_ref="boot.img")
    src.spawn(None, inst)
    assert wait_until(lambda: dots(src, inst.uuid) >= 1, BOOT_WAIT), console(src, inst.uuid)
    [src_pid] = qemu_pids(inst.uuid)

    data = prepare(src, dst, inst)
    assert data["qemu_migration_uri"].startswith("tcp:127.0.0.1:")
    assert not dst.list_instance_uuids(), "an incoming guest is listed before it arrived"
    outcome = migrate(src, inst, data)

    assert outcome.kinds == ["post"], outcome.data.get(lm.ERROR)
    assert outcome.data[lm.RESULT] == lm.RESULT_COMPLETED
    assert outcome.progress and outcome.progress[0].memory_total >= 64 * 1024**2
    assert all(p.memory_processed + p.memory_remaining == p.memory_total for p in outcome.progress)
    dst.post_live_migration_at_destination(None, inst, None)
    assert power_state.name(dst.get_info(inst).state) == "running"
    assert dst.list_instance_uuids() == [inst.uuid] and src.list_instance_uuids() == []
    [dst_pid] = qemu_pids(inst.uuid)
    assert dst_pid != src_pid and not os.path.exists(f"/proc/{src_pid}")
    # The guest runs on: its dots now appear in the destination's console only.
    assert BOOT_MESSAGE not in console(dst, inst.uuid)
    assert wait_until(lambda: dots(dst, inst.uuid) >= 2, 10), console(dst, inst.uuid)
    assert src.flush_events(10) and dst.flush_events(10)
    assert src_events.transitions(inst.uuid) == [events.STARTED, events.MIGRATION_COMPLETED]
    assert dst_events.transitions(inst.uuid) == []
    # The disk (shared storage) is the destination's now; destroy there deletes it.
    disk = os.path.join(dst.conf.qemu.instances_path, inst.uuid, "disk")
    assert os.path.exists(disk)
    dst.destroy(None, inst)
    assert not os.path.exists(disk)
    print(
        f"live migration of a 64 MiB guest at 1 MiB/s: {outcome.seconds:.2f} s, "
        f"{len(outcome.progress)} progress samples"
    )


def test_it_moves_back_and_forth(
    make_host: Callable[..., QemuDriver], instance: Callable[..., Any]
) -> None:
    a = make_host("a", live_migration_bandwidth=0)
    b = make_host("b", live_migration_bandwidth=0)
    inst = instance()
    a.spawn(None, inst)
    for src, dst in ((a, b), (b, a), (a, b)):
        outcome = migrate(src, inst, prepare(src, dst, inst))
        assert outcome.kinds == ["post"], outcome.data.get(lm.ERROR)
        dst.post_live_migration_at_destination(None, inst, None)
        assert power_state.name(dst.get_info(inst).state) == "running"
        assert not src.instance_exists(inst)
    b.destroy(None, inst)
    assert qemu_pids(inst.uuid) == []


def test_an_aborted_migration_leaves_the_guest_running_on_the_source(
    make_host: Callable[..., QemuDriver], instance: Callable[..., Any]
) -> None:
    src, dst = make_host("src"), make_host("dst")
    inst = instance()
    src.spawn(None, inst)
    [src_pid] = qemu_pids(inst.uuid)
    data = prepare(src, dst, inst)
    outcome = migrate(src, inst, data, on_progress=lambda _s: src.live_migration_abort(inst))
    assert outcome.kinds == ["recover"]
    assert outcome.data[lm.RESULT] == lm.RESULT_CANCELLED
    assert "aborted by request" in outcome.data[lm.ERROR]
    dst.rollback_live_migration_at_destination(None, inst, None, None, migrate_data=data)
    assert qemu_pids(inst.uuid) == [src_pid], "the incoming QEMU is still there"
    assert power_state.name(src.get_info(inst).state) == "running"
    assert not dst.instance_exists(inst)
    with pytest.raises(exception.NoActiveMigrationForInstance):
        src.live_migration_abort(inst)
    # Nothing is left in the way of the next attempt.
    again = migrate(src, inst, prepare(src, dst, inst))
    assert again.kinds == ["post"], again.data.get(lm.ERROR)
    dst.post_live_migration_at_destination(None, inst, None)
    dst.destroy(None, inst)


def test_the_completion_timeout_cancels_the_migration(
    make_host: Callable[..., QemuDriver], instance: Callable[..., Any]
) -> None:
    # 0.2 s per GiB, 1 GiB counted: far less than the copy at 1 MiB/s needs.
    src = make_host("src", live_migration_completion_timeout=0.2)
    dst = make_host("dst")
    inst = instance()
    src.spawn(None, inst)
    data = prepare(src, dst, inst)
    outcome = migrate(src, inst, data)
    assert outcome.kinds == ["recover"]
    assert outcome.data[lm.RESULT] == lm.RESULT_FAILED
    assert "completion timeout" in outcome.data[lm.ERROR]
    dst.rollback_live_migration_at_destination(None, inst, None, None, migrate_data=data)
    assert power_state.name(src.get_info(inst).state) == "running"
    assert len(qemu_pids(inst.uuid)) == 1
    src.destroy(None, inst)


def test_a_destination_that_dies_fails_the_migration(
    make_host: Callable[..., QemuDriver], instance: Callable[..., Any]
) -> None:
    src, dst = make_host("src"), make_host("dst")
    inst = instance()
    src.spawn(None, inst)
    [src_pid] = qemu_pids(inst.uuid)
    data = prepare(src, dst, inst)

    def kill_destination(_sample: lm.MigrationProgress) -> None:
        for pid in qemu_pids(inst.uuid):
            if pid != src_pid:
                os.kill(pid, signal.SIGKILL)

    outcome = migrate(src, inst, data, on_progress=kill_destination)
    assert outcome.kinds == ["recover"]
    assert outcome.data[lm.RESULT] == lm.RESULT_FAILED and outcome.data[lm.ERROR]
    dst.rollback_live_migration_at_destination(None, inst, None, None, migrate_data=data)
    assert wait_until(lambda: power_state.name(src.get_info(inst).state) == "running", 10), (
        "the guest does not run on the source after the failed migration"
    )
    assert qemu_pids(inst.uuid) == [src_pid]
    src.destroy(None, inst)


def test_what_cannot_move_is_refused_before_anything_starts(
    make_host: Callable[..., QemuDriver], instance: Callable[..., Any]
) -> None:
    src, dst = make_host("src"), make_host("dst")  # instances_path not shared
    inst = instance(image_ref="boot.img")
    src.spawn(None, inst)
    data = dst.check_can_live_migrate_destination(
        None, inst, src.get_available_resource("src"), dst.get_available_resource("dst")
    )
    with pytest.raises(exception.MigrationPreCheckError, match="local disk"):
        src.check_can_live_migrate_source(None, inst, data)
    with pytest.raises(exception.MigrationPreCheckError, match="block migration"):
        dst.check_can_live_migrate_destination(None, inst, {}, {}, block_migration=True)
    tcg_source = {
        **src.get_available_resource("src"),
        "supported_instances": [["x86_64", "other", "hvm"]],
    }
    with pytest.raises(exception.MigrationPreCheckError, match="cannot move between"):
        dst.check_can_live_migrate_destination(None, inst, tcg_source, {})
    with pytest.raises(exception.MigrationPreCheckError, match="no usable qemu_guest"):
        dst.pre_live_migration(None, inst, None, None, None, data)
    src.power_off(inst)
    with pytest.raises(exception.MigrationPreCheckError, match="not running"):
        src.check_can_live_migrate_source(None, inst, data)
    assert qemu_pids(inst.uuid) == [] and not dst.instance_exists(inst)
    src.destroy(None, inst)
