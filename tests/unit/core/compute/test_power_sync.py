"""The power-state rules (nubis.core.compute.power_sync) and the ComputeHost contract
they are applied through (nubis.core.compute.host), without a manager or a database:
the rule table row by row, what syncing an instance would do, and sync_instance on a
minimal ComputeHost written here from the contract alone."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core import exception
from nubis.core.compute import host as compute_host
from nubis.core.compute import power_sync
from nubis.core.compute.host import ComputeHost, compute_host_of
from nubis.core.compute.power_sync import (
    IGNORED,
    IN_SYNC,
    POWER_STATE_UPDATED,
    POWERED_OFF,
    SKIPPED_BUSY,
    SKIPPED_ELSEWHERE,
    SKIPPED_TASK,
    STOPPED,
)
from nubis.core.compute.states import TaskState, VMState
from nubis.core.manager import Manager
from nubis.core.virt import power_state
from nubis.core.virt.driver import InstanceInfo

VM_STATES = [
    VMState.ACTIVE,
    VMState.BUILDING,
    VMState.PAUSED,
    VMState.SUSPENDED,
    VMState.STOPPED,
    VMState.SOFT_DELETED,
    VMState.DELETED,
    VMState.ERROR,
    None,
]
POWER_STATES = sorted(power_state.ALL)
RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED, NOSTATE = (
    power_state.RUNNING,
    power_state.PAUSED,
    power_state.SHUTDOWN,
    power_state.CRASHED,
    power_state.SUSPENDED,
    power_state.NOSTATE,
)

#: The table of the module docstring, one entry per row: (vm_state, powers, action).
TABLE = [
    (VMState.ACTIVE, [SHUTDOWN, CRASHED, SUSPENDED], STOPPED),
    (VMState.ACTIVE, [PAUSED, NOSTATE], IGNORED),
    (VMState.STOPPED, [RUNNING, PAUSED, SUSPENDED], POWERED_OFF),
    (VMState.PAUSED, [SHUTDOWN, CRASHED], STOPPED),
    (VMState.DELETED, [RUNNING, PAUSED, CRASHED, SUSPENDED], IGNORED),
    (VMState.SOFT_DELETED, [RUNNING, PAUSED, CRASHED, SUSPENDED], IGNORED),
    (VMState.BUILDING, POWER_STATES, IN_SYNC),
    (VMState.ERROR, POWER_STATES, IN_SYNC),
    (VMState.RESCUED, POWER_STATES, IN_SYNC),
]
CALLS_FOR = {(vm, p): action for vm, powers, action in TABLE for p in powers}


@pytest.mark.parametrize(
    ("vm_state", "vm_power", "action"),
    [(vm, p, action) for vm, powers, action in TABLE for p in powers],
    ids=lambda v: power_state.name(v) if isinstance(v, int) else str(v),
)
def test_each_row_of_the_rule_table(vm_state: str, vm_power: int, action: str) -> None:
    assert power_sync.vm_state_action(vm_state, vm_power) == action


def test_every_pair_the_table_does_not_name_is_in_sync() -> None:
    for vm_state, vm_power in itertools.product(VM_STATES, POWER_STATES):
        expected = CALLS_FOR.get((vm_state, vm_power), IN_SYNC)
        assert power_sync.vm_state_action(vm_state, vm_power) == expected, (
            vm_state,
            power_state.name(vm_power),
        )
    # The pairs left to the default are the ones the states agree on.
    assert power_sync.vm_state_action(VMState.ACTIVE, RUNNING) == IN_SYNC
    assert power_sync.vm_state_action(VMState.STOPPED, SHUTDOWN) == IN_SYNC
    assert power_sync.vm_state_action(VMState.STOPPED, NOSTATE) == IN_SYNC
    assert power_sync.vm_state_action(VMState.DELETED, SHUTDOWN) == IN_SYNC
    assert power_sync.vm_state_action(VMState.SOFT_DELETED, NOSTATE) == IN_SYNC


def test_a_shelved_instance_is_never_corrected() -> None:
    # shelved: its guest is off (or gone, offloaded); whatever the hypervisor says,
    # only power_state is recorded
    for vm_power in power_state.ALL:
        assert power_sync.vm_state_action(VMState.SHELVED, vm_power) == IN_SYNC
        assert power_sync.vm_state_action(VMState.SHELVED_OFFLOADED, vm_power) == IN_SYNC


class Record:
    """An instance record: the fields the rules read, refresh() and a guarded save()."""

    def __init__(self, **fields: Any) -> None:
        self.uuid = "3f1e7f0e-0000-4000-8000-000000000001"
        self.host = "h1"
        self.vm_state: str | None = VMState.ACTIVE
        self.task_state: str | None = None
        self.power_state = RUNNING
        self.__dict__.update(fields)
        self.stored = dict(self.__dict__)
        self.saves: list[dict[str, Any]] = []

    def refresh(self) -> None:
        stored = self.stored
        self.__dict__.update({k: v for k, v in stored.items() if k not in ("stored", "saves")})

    def save(self, expected_task_state: list[str | None] | None = None) -> None:
        if expected_task_state is not None and self.stored["task_state"] not in (
            expected_task_state
        ):
            raise exception.UnexpectedTaskStateError(
                instance_uuid=self.uuid,
                expected=expected_task_state,
                actual=self.stored["task_state"],
            )
        self.saves.append({"power_state": self.power_state})
        self.stored.update(power_state=self.power_state, vm_state=self.vm_state)


class Driver:
    """Reports one guest power state per uuid; a missing uuid is a missing guest."""

    def __init__(self, states: dict[str, int]) -> None:
        self.states = states

    def get_info(self, instance: Any) -> InstanceInfo:
        if instance.uuid not in self.states:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return InstanceInfo(state=self.states[instance.uuid])


class MinimalHost(ComputeHost):
    """A ComputeHost written from the contract alone, enough for sync_instance."""

    def __init__(self, driver: Driver) -> None:
        self.host = "h1"
        self.conf: Any = None
        self.driver: Any = driver
        self.lock = threading.RLock()
        self.stops: list[str] = []

    def audit_node(self, context: Any, nodename: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def delete_compute_node(self, context: Any, node: Any) -> None:
        raise NotImplementedError

    def forget_instance(self, context: Any, instance_uuid: str) -> None:
        raise NotImplementedError

    def in_flight_instances(self) -> set[str]:
        return set()

    @contextlib.contextmanager
    def instance_lock(self, instance_uuid: str, wanted_by: str, timeout: float) -> Iterator[None]:
        got = self.lock.acquire(timeout=timeout) if timeout > 0 else self.lock.acquire(False)
        if not got:
            raise exception.LockTimeout(
                lock=instance_uuid, wanted_by=wanted_by, timeout=timeout, holder="someone"
            )
        try:
            yield
        finally:
            self.lock.release()

    def force_stop_instance(self, context: Any, instance: Any) -> None:
        self.stops.append(instance.uuid)
        instance.vm_state = VMState.STOPPED
        instance.save()

    def offload_shelved_instance(self, context: Any, instance: Any) -> None:
        raise NotImplementedError


def sync(host: MinimalHost, record: Record) -> str:
    return power_sync.sync_instance(host, None, record)


def test_outcome_for_says_what_a_sync_would_do() -> None:
    assert power_sync.outcome_for(Record(host="h2"), "h1", SHUTDOWN) == SKIPPED_ELSEWHERE
    busy = Record(task_state=TaskState.REBOOTING)
    assert power_sync.outcome_for(busy, "h1", SHUTDOWN) == SKIPPED_TASK
    assert power_sync.outcome_for(Record(), "h1", SHUTDOWN) == STOPPED
    assert power_sync.outcome_for(Record(vm_state=VMState.STOPPED), "h1", RUNNING) == POWERED_OFF
    assert power_sync.outcome_for(Record(), "h1", PAUSED) == POWER_STATE_UPDATED
    assert power_sync.outcome_for(Record(power_state=PAUSED), "h1", PAUSED) == IN_SYNC
    assert power_sync.outcome_for(Record(), "h1", RUNNING) == IN_SYNC


def test_sync_instance_on_a_host_written_from_the_contract() -> None:
    record = Record()
    host = MinimalHost(Driver({record.uuid: RUNNING}))
    assert sync(host, record) == IN_SYNC and record.saves == []

    host.driver.states[record.uuid] = SHUTDOWN
    assert sync(host, record) == STOPPED
    assert host.stops == [record.uuid]
    assert record.saves[0] == {"power_state": SHUTDOWN}

    # Active with its guest gone: NOSTATE is recorded, the rest is left to the user.
    missing = Record(uuid="3f1e7f0e-0000-4000-8000-000000000002")
    assert sync(host, missing) == POWER_STATE_UPDATED
    assert missing.saves == [{"power_state": NOSTATE}] and host.stops == [record.uuid]
    assert sync(host, missing) == IN_SYNC


def test_sync_instance_skips_what_it_must_not_judge() -> None:
    record = Record()
    host = MinimalHost(Driver({record.uuid: SHUTDOWN}))
    # Held by another thread: skipped at once.
    held, release = threading.Event(), threading.Event()

    def operation() -> None:
        with host.instance_lock(record.uuid, "an operation", 5):
            held.set()
            release.wait(5)

    worker = threading.Thread(target=operation)
    worker.start()
    try:
        assert held.wait(5)
        assert sync(host, record) == SKIPPED_BUSY
    finally:
        release.set()
        worker.join(5)
    # A task started after the instance was listed: the refreshed record says so.
    record.stored["task_state"] = TaskState.POWERING_ON
    assert sync(host, record) == SKIPPED_TASK
    assert host.stops == [] and record.saves == []


def test_compute_host_of_refuses_other_managers() -> None:
    with pytest.raises(exception.ConfigurationError, match="runs only on a compute manager") as e:
        compute_host_of(Manager("c"), "my_task")
    assert "[] periodic_tasks" in str(e.value) and "my_task" in str(e.value)
    host = MinimalHost(Driver({}))
    assert compute_host_of(host, "my_task") is host


def test_the_contract_is_abstract_and_exported() -> None:
    assert set(compute_host.__all__) == {"AuditResult", "ComputeHost", "compute_host_of"}
    assert set(ComputeHost.__abstractmethods__) == {
        "audit_node",
        "delete_compute_node",
        "forget_instance",
        "in_flight_instances",
        "instance_lock",
        "force_stop_instance",
        "offload_shelved_instance",
    }
    for name in power_sync.__all__:
        assert hasattr(power_sync, name), name
    with pytest.raises(TypeError):
        ComputeHost()  # type: ignore[abstract]
