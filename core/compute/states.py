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
    RESCUED = "rescued"
    SHELVED = "shelved"
    SHELVED_OFFLOADED = "shelved_offloaded"
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
    IMAGE_SNAPSHOT_PENDING = "image_snapshot_pending"
    IMAGE_SNAPSHOT = "image_snapshot"
    IMAGE_BACKUP = "image_backup"
    IMAGE_PENDING_UPLOAD = "image_pending_upload"
    IMAGE_UPLOADING = "image_uploading"
    SHELVING = "shelving"
    SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
    SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
    SHELVING_OFFLOADING = "shelving_offloading"
    UNSHELVING = "unshelving"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"
    RESCUING = "rescuing"
    UNRESCUING = "unrescuing"
    SOFT_DELETING = "soft-deleting"
    RESTORING = "restoring"


#: The task states of a rebuild: ``rebuilding`` (the compute API claimed the instance;
#: the compute host destroys the old guest in it) then ``rebuild_spawning`` (the new
#: guest is being made). A rebuild interrupted in either ends in ERROR with a fault.
REBUILD_TASK_STATES = (TaskState.REBUILDING, TaskState.REBUILD_SPAWNING)

#: The vm_states a rebuild starts from (Nova's): it ends ACTIVE, or STOPPED when it
#: started STOPPED.
REBUILDABLE_VM_STATES = (VMState.ACTIVE, VMState.STOPPED, VMState.ERROR)

#: The task states of pause, unpause, suspend and resume (:mod:`.api_power`). One that
#: never ends is cleared by the conductor's reconciler, the vm_state kept; a compute
#: service that restarts during one settles the vm_state from the guest's power state.
POWER_TASK_STATES = (
    TaskState.PAUSING,
    TaskState.UNPAUSING,
    TaskState.SUSPENDING,
    TaskState.RESUMING,
)

#: A HARD reboot (Nova's ALLOW_HARD_REBOOT / ALLOW_REBOOT): from these vm_states, and
#: while one of these tasks runs (it takes the instance over; the interrupted task's
#: last compare-and-swap then fails). It ends ACTIVE.
HARD_REBOOT_VM_STATES = (
    VMState.ACTIVE,
    VMState.STOPPED,
    VMState.PAUSED,
    VMState.SUSPENDED,
    VMState.ERROR,
)
HARD_REBOOT_TASK_STATES = (
    None,
    TaskState.REBOOTING,
    TaskState.REBOOTING_HARD,
    *POWER_TASK_STATES,
)


#: The task states of createImage and createBackup (:mod:`.api_snapshot`): the API
#: claims the instance in ``image_snapshot_pending`` (or ``image_backup``), the host
#: moves it through ``image_snapshot`` (a backup stays ``image_backup``) and the
#: driver's steps ``image_pending_upload`` -> ``image_uploading``; it ends with no task
#: and the vm_state it had. One that never ends is cleared by the reconciler.
SNAPSHOT_TASK_STATES = (
    TaskState.IMAGE_SNAPSHOT_PENDING,
    TaskState.IMAGE_SNAPSHOT,
    TaskState.IMAGE_BACKUP,
    TaskState.IMAGE_PENDING_UPLOAD,
    TaskState.IMAGE_UPLOADING,
)

#: The vm_states createImage, createBackup and shelve start from (Nova's).
SNAPSHOTTABLE_VM_STATES = (VMState.ACTIVE, VMState.STOPPED, VMState.PAUSED, VMState.SUSPENDED)

#: The task states of shelve, shelveOffload and unshelve (:mod:`.api_shelve`).
SHELVE_TASK_STATES = (
    TaskState.SHELVING,
    TaskState.SHELVING_IMAGE_PENDING_UPLOAD,
    TaskState.SHELVING_IMAGE_UPLOADING,
    TaskState.SHELVING_OFFLOADING,
    TaskState.UNSHELVING,
)

#: The vm_states a rescue starts from (Nova's): it ends RESCUED; unrescue (from RESCUED
#: only) ends ACTIVE.
RESCUABLE_VM_STATES = (VMState.ACTIVE, VMState.STOPPED, VMState.ERROR)

#: The task states of rescue and unrescue (:mod:`.api_rescue`). One interrupted (a
#: compute restart, or no progress for the reconciler's task_timeout) ends in ERROR
#: with a fault, as a failed one does: the guest may be half-way between its two
#: definitions. Rescuing it again, then unrescuing, gives the original guest back.
RESCUE_TASK_STATES = (TaskState.RESCUING, TaskState.UNRESCUING)

#: The task states of a soft delete and a restore (:mod:`.api_deferred_delete`); one
#: that never ends is cleared by the reconciler, the vm_state kept.
DEFERRED_DELETE_TASK_STATES = (TaskState.SOFT_DELETING, TaskState.RESTORING)

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
    *POWER_TASK_STATES,
    *SNAPSHOT_TASK_STATES,
    *SHELVE_TASK_STATES,
    *RESCUE_TASK_STATES,
    *DEFERRED_DELETE_TASK_STATES,
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
    CREATE_IMAGE = "createImage"
    BACKUP = "createBackup"
    SHELVE = "shelve"
    SHELVE_OFFLOAD = "shelveOffload"
    UNSHELVE = "unshelve"
    LOCK = "lock"
    UNLOCK = "unlock"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SUSPEND = "suspend"
    RESUME = "resume"
    RESCUE = "rescue"
    UNRESCUE = "unrescue"
    RESTORE = "restore"


#: ``Migration.migration_type`` of a live migration.
LIVE_MIGRATION = "live-migration"
