"""The records of a failed operation keep their order: the task of the instance is ended
after its fault, also when the fault had to wait to be written."""

from __future__ import annotations

from types import SimpleNamespace

from nubis.core.compute.states import TaskState, VMState
from nubis.core.context import get_admin_context
from nubis.plugins.managers.compute.bookkeeping import PendingRecords
from nubis.plugins.managers.compute.locks import KeyedLocks
from nubis.plugins.managers.compute.operations import Operations
from tests.unit.plugins.managers.compute.conftest import AwayConductor


class Instance(SimpleNamespace):
    """An instance whose saves are recorded (what the conductor would write)."""

    def save(self) -> None:
        self.saved.append((self.vm_state, self.task_state))


def _instance() -> Instance:
    return Instance(uuid="i1", vm_state=VMState.BUILDING, task_state=TaskState.SPAWNING, saved=[])


def _operations(pending: PendingRecords) -> Operations:
    return Operations("cmp1", KeyedLocks("instance"), pending)


def test_the_task_is_ended_at_once_when_nothing_waits(pending: PendingRecords) -> None:
    inst = _instance()
    _operations(pending).revert_task_state(get_admin_context(), inst, VMState.ERROR)
    assert inst.saved == [(VMState.ERROR, None)]
    assert len(pending) == 0


def test_the_task_waits_behind_a_fault_that_waits(pending: PendingRecords) -> None:
    # The fault could not be written (the conductor is away); the conductor is back by
    # the time the task is ended. Saving the task at once would show the instance in
    # ERROR with no fault until the fault is written.
    backend = AwayConductor()
    assert not pending.write("recording a fault on i1", backend.writer("fault"))
    inst = _instance()
    _operations(pending).revert_task_state(get_admin_context(), inst, VMState.ERROR)
    assert inst.saved == []
    assert pending.pending() == ["recording a fault on i1", "reverting the task state of i1"]
