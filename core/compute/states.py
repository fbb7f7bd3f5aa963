"""The states an instance and a live migration go through (Nova's values).

They are the contract between whoever starts an operation (the compute API, the
conductor) and the compute manager that carries it out: :class:`VMState` and
:class:`TaskState` of an ``Instance``, :class:`MigrationStatus` of a live ``Migration``,
and the :class:`InstanceActionName` each user-visible operation is recorded under.
A caller that starts an operation may set the operation's task state before casting
(``stop_instance`` expects ``powering-off`` or no task); the manager sets it itself
otherwise. Who wins when the database and the hypervisor disagree about a guest's
power state is part of this contract too: :mod:`.power_sync`.
"""

from __future__ import annotations


class VMState:
    """``Instance.vm_state``: what the instance is, as far as the user is concerned."""

    ACTIVE = "active"
    BUILDING = "building"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    SOFT_DELETED = "soft-delete"
    DELETED = "deleted"
    ERROR = "error"


class TaskState:
    """``Instance.task_state``: the operation in progress (None: none)."""

    SCHEDULING = "scheduling"
    SPAWNING = "spawning"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    DELETING = "deleting"
    MIGRATING = "migrating"
    REBUILDING = "rebuilding"
    REBUILD_SPAWNING = "rebuild_spawning"


#: The task states of a rebuild: ``rebuilding`` (the compute API claimed the instance;
#: the compute host destroys the old guest in it) then ``rebuild_spawning`` (the new
#: guest is being made). A rebuild interrupted in either ends in ERROR with a fault.
REBUILD_TASK_STATES = (TaskState.REBUILDING, TaskState.REBUILD_SPAWNING)

#: The vm_states a rebuild starts from (Nova's): it ends ACTIVE, or STOPPED when it
#: started STOPPED.
REBUILDABLE_VM_STATES = (VMState.ACTIVE, VMState.STOPPED, VMState.ERROR)


#: Task states a delete may interrupt (a live migration must end or be aborted first).
#: The vm_states an administrator may reset an instance to (``os-resetState``).
RESETTABLE_VM_STATES = (VMState.ACTIVE, VMState.ERROR)

DELETABLE_TASK_STATES = (
    None,
    TaskState.DELETING,
    TaskState.SCHEDULING,
    TaskState.SPAWNING,
    TaskState.POWERING_OFF,
    TaskState.POWERING_ON,
    TaskState.REBOOTING,
    TaskState.REBOOTING_HARD,
    TaskState.REBUILDING,
    TaskState.REBUILD_SPAWNING,
)


class MigrationStatus:
    """``Migration.status`` of a live migration.

    The conductor creates the record ``accepted``; the source compute moves it through
    ``queued`` (the cast arrived) -> ``preparing`` (destination preparing) -> ``running``
    (the driver copies) -> ``completed``; or ends it ``failed`` (rolled back cleanly),
    ``cancelled`` (aborted, rolled back) or ``error`` (something unexpected; see the
    instance's faults).
    """

    ACCEPTED = "accepted"
    QUEUED = "queued"
    PREPARING = "preparing"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ERROR = "error"

    #: Statuses of a live migration that has not ended.
    IN_PROGRESS = frozenset({ACCEPTED, QUEUED, PREPARING, RUNNING})


class InstanceActionName:
    """``InstanceAction.action`` of each user-visible operation (Nova's names)."""

    CREATE = "create"
    START = "start"
    STOP = "stop"
    REBOOT = "reboot"
    DELETE = "delete"
    LIVE_MIGRATION = "live-migration"
    LIVE_MIGRATION_CANCEL = "live_migration_cancel"
    RESET_STATE = "resetState"
    REBUILD = "rebuild"


#: ``Migration.migration_type`` of a live migration.
LIVE_MIGRATION = "live-migration"
