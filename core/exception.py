"""nubis exceptions.

Every exception nubis raises on purpose derives from :class:`NubisException`. Its
message is one line that names what was wrong and, where it can, what would be right.
Exceptions in this module may cross the message bus: oslo.messaging re-raises them on
the caller as the same class because ``nubis.core.exception`` is an allowed remote
exception module (see :mod:`nubis.core.rpc`).
"""

from typing import Any


class NubisException(Exception):
    """Base class: formats ``msg_fmt`` with the keyword arguments given.

    Subclasses set ``msg_fmt`` and, when the error maps to an HTTP status for the API,
    ``code``. A message passed explicitly wins over ``msg_fmt``.
    """

    msg_fmt = "An unknown error occurred."
    code = 500

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                # A missing keyword is a programming error, but the caller still
                # deserves the template rather than a second exception.
                message = self.msg_fmt
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


def one_line(exc: BaseException) -> str:
    """Return *exc* as one line: its message without the remote traceback oslo.messaging
    appends to exceptions that crossed the bus, with whitespace folded."""
    text = getattr(exc, "message", None) if isinstance(exc, NubisException) else None
    if not text:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else type(exc).__name__
    return " ".join(text.split())


class ConfigurationError(NubisException):
    """A configuration value is unusable; raised by the start-up check."""

    msg_fmt = "%(option)s: %(reason)s"


class PluginNotFound(NubisException):
    msg_fmt = (
        "no plugin '%(name)s' in %(namespace)s (chosen by %(option)s); available: %(available)s"
    )


class PluginLoadFailed(NubisException):
    msg_fmt = "plugin '%(name)s' in %(namespace)s failed to load: %(reason)s"


class PluginContractViolation(NubisException):
    msg_fmt = "plugin '%(name)s' in %(namespace)s does not implement %(interface)s: %(reason)s"


class UnknownNamespace(NubisException):
    msg_fmt = "unknown plugin namespace '%(namespace)s'; known: %(known)s"


class ServiceTimeout(NubisException):
    msg_fmt = "%(what)s did not answer within %(timeout)s s"


class DBNotAllowed(NubisException):
    msg_fmt = (
        "%(binary)s must not access the database directly (called from %(caller)s); "
        "remotable methods go through the conductor indirection API"
    )


class NotFound(NubisException):
    code = 404
    msg_fmt = "Resource could not be found."


class Invalid(NubisException):
    code = 400
    msg_fmt = "Unacceptable parameters."


class IncompatibleObjectVersion(NubisException):
    msg_fmt = "version %(objver)s of %(objname)s is not supported; supported up to %(supported)s"


class ObjectActionError(NubisException):
    msg_fmt = "object action %(action)s failed: %(reason)s"


class UnexpectedTaskStateError(NubisException):
    code = 409
    msg_fmt = "instance %(instance_uuid)s: expected task_state %(expected)s but found %(actual)s"


class UnexpectedDeletingTaskStateError(UnexpectedTaskStateError):
    pass


class ServiceNotFound(NotFound):
    msg_fmt = "service %(service_id)s could not be found"


class HostBinaryNotFound(ServiceNotFound):
    msg_fmt = "no %(binary)s service on host %(host)s"


class ServiceBinaryExists(NubisException):
    code = 409
    msg_fmt = "a %(binary)s service already exists on host %(host)s"


class ComputeHostNotFound(NotFound):
    msg_fmt = "compute host %(host)s could not be found"


class ComputeNodeNotFound(ComputeHostNotFound):
    msg_fmt = "compute node %(compute_id)s could not be found"


class ComputeHostNodeNotFound(ComputeHostNotFound):
    msg_fmt = "compute host %(host)s has no node %(nodename)s"


class ComputeNodeExists(NubisException):
    code = 409
    msg_fmt = "compute node %(nodename)s on host %(host)s (uuid %(uuid)s) already exists"


class InstanceNotFound(NotFound):
    msg_fmt = "instance %(instance_id)s could not be found"


class InstanceExists(NubisException):
    code = 409
    msg_fmt = "instance %(instance_uuid)s already exists"


class UnexpectedVMStateError(NubisException):
    code = 409
    msg_fmt = "instance %(instance_uuid)s: expected vm_state %(expected)s but found %(actual)s"


class MarkerNotFound(NotFound):
    msg_fmt = "marker %(marker)s could not be found"


class InvalidFilter(Invalid):
    msg_fmt = "%(table)s cannot be filtered by %(name)s; filterable: %(allowed)s"


class InvalidSortKey(Invalid):
    msg_fmt = "cannot sort by %(key)s; allowed: %(allowed)s"


class InvalidRegexp(Invalid):
    msg_fmt = (
        "%(pattern)s is not a regular expression nubis can match (%(reason)s); "
        "use RE2 syntax: no backreferences or lookaround"
    )


class MigrationNotFound(NotFound):
    msg_fmt = "migration %(migration_id)s could not be found"


class FlavorNotFound(NotFound):
    msg_fmt = "flavor %(flavor_id)s could not be found"


class FlavorNotFoundByName(FlavorNotFound):
    msg_fmt = "flavor with name %(flavor_name)s could not be found"


class TooManyInstances(NubisException):
    code = 403
    msg_fmt = (
        "Quota exceeded for %(overs)s: Requested %(req)s, but already used %(used)s of "
        "%(allowed)s %(overs)s"
    )


class InstanceGroupNotFound(NotFound):
    msg_fmt = "Instance group %(group_uuid)s could not be found."


class InstanceGroupIdExists(NubisException):
    code = 409
    msg_fmt = "Instance group %(group_uuid)s already exists."


class InstanceGroupMemberExists(NubisException):
    """A server is in one server group at most."""

    code = 409
    msg_fmt = "instance %(instance_uuid)s is already in a server group"


class ServerGroupLimitExceeded(NubisException):
    code = 403
    msg_fmt = "Quota exceeded, too many server groups."


class GroupMemberLimitExceeded(NubisException):
    code = 403
    msg_fmt = "Quota exceeded, too many servers in group"


class FlavorExtraSpecsNotFound(NotFound):
    msg_fmt = "Flavor %(flavor_id)s has no extra specs with key %(extra_specs_key)s."


class FlavorAccessNotFound(NotFound):
    msg_fmt = "Flavor access not found for %(flavor_id)s / %(project_id)s combination."


class FlavorAccessExists(NubisException):
    code = 409
    msg_fmt = (
        "Flavor access already exists for flavor %(flavor_id)s and project "
        "%(project_id)s combination."
    )


class MetadataItemNotFound(NotFound):
    msg_fmt = "Metadata item was not found: no key %(key)s"


class MetadataLimitExceeded(NubisException):
    code = 403
    msg_fmt = "Quota exceeded for metadata items: a server may have at most %(allowed)s"


class KeyPairExists(NubisException):
    code = 409
    msg_fmt = "Key pair '%(key_name)s' already exists."


class KeyPairNotFound(NotFound):
    msg_fmt = "Keypair %(name)s not found for user %(user_id)s"


class InvalidKeypair(Invalid):
    msg_fmt = "Keypair data is invalid: %(reason)s"


class FlavorExists(NubisException):
    code = 409
    msg_fmt = "flavor with name %(name)s already exists"


class FlavorIdExists(NubisException):
    code = 409
    msg_fmt = "flavor with ID %(flavor_id)s already exists"


class InstanceActionNotFound(NotFound):
    msg_fmt = "no action for request %(request_id)s on instance %(instance_uuid)s"


class InstanceActionEventNotFound(NotFound):
    msg_fmt = "action %(action_id)s has no event %(event)s"


# --- virt drivers (nubis.core.virt) ----------------------------------------------------


class VirtDriverNotReady(NubisException):
    msg_fmt = "virt driver %(driver)s is not ready: %(reason)s"


class HypervisorUnavailable(NubisException):
    msg_fmt = "hypervisor %(uri)s is unavailable: %(reason)s"


class InvalidRebootType(Invalid):
    msg_fmt = "reboot type %(reboot_type)s is not one of SOFT, HARD"


class InstanceSpawnFailure(NubisException):
    msg_fmt = "instance %(instance_uuid)s could not be spawned: %(reason)s"


class LiveMigrationNotSupported(NubisException):
    code = 400
    msg_fmt = "live migration is not supported by %(driver)s: %(reason)s"


class MigrationPreCheckError(NubisException):
    code = 400
    msg_fmt = "live migration pre-check failed for instance %(instance_uuid)s: %(reason)s"


class NoActiveMigrationForInstance(NotFound):
    msg_fmt = "instance %(instance_uuid)s has no live migration in progress"


class DatabaseUnavailable(NubisException):
    msg_fmt = "cannot use the database %(connection)s ([database] connection): %(reason)s"


class ServiceUnavailable(NubisException):
    """A backend the request needs (message bus, database) is away; try again later."""

    code = 503
    msg_fmt = "%(what)s is unavailable, try again later: %(reason)s"


class InstanceBuildTimeout(NubisException):
    """A build made no progress within its bounded time (the fault of its ERROR)."""

    msg_fmt = "build of instance %(instance_uuid)s did not complete: %(reason)s"


# --- compute manager and resource tracker ----------------------------------------------


class ComputeResourcesUnavailable(NubisException):
    code = 409
    msg_fmt = "node %(node)s of host %(host)s cannot take instance %(instance_uuid)s: %(reason)s"


class InvalidDriverResources(NubisException):
    msg_fmt = "virt driver %(driver)s reported unusable resources for node %(node)s: %(problems)s"


class LockTimeout(NubisException):
    msg_fmt = (
        "%(wanted_by)s could not take the lock of %(lock)s within %(timeout)s s; "
        "%(holder)s holds it"
    )


class NoValidHost(NubisException):
    code = 400
    msg_fmt = "no valid host was found: %(reason)s"


class MaxRetriesExceeded(NoValidHost):
    msg_fmt = "exceeded maximum number of retries: %(reason)s"


class InstanceIsLocked(NubisException):
    code = 409
    msg_fmt = "Instance %(instance_uuid)s is locked"


class InstanceInvalidState(NubisException):
    code = 409
    msg_fmt = (
        "cannot %(action)s instance %(instance_uuid)s while it is %(state)s; "
        "it must be %(expected)s"
    )


class ComputeServiceUnavailable(NubisException):
    code = 409
    msg_fmt = "compute service of %(host)s is unavailable at this time"


class InstanceNotReady(NubisException):
    """The instance cannot do this yet (no host, still building) or right now (its
    compute service is down); the user may ask again later."""

    code = 409
    msg_fmt = "instance %(instance_id)s is not ready: %(reason)s"


class ConsoleOutputNotSupported(NubisException):
    """The virt driver of the instance's host keeps no console output (Nova: 501)."""

    code = 501
    msg_fmt = "console output is not supported by the %(driver)s virt driver"


class RebuildNotSupported(NubisException):
    """A driver without ``supports_rebuild`` was asked to rebuild a guest itself."""

    msg_fmt = "the %(driver)s virt driver has no rebuild of its own (supports_rebuild)"


class SnapshotNotSupported(NubisException):
    """A driver without ``supports_snapshot`` was asked to snapshot a guest (createImage,
    createBackup and shelve record it as their action's fault)."""

    code = 409
    msg_fmt = "snapshots are not supported by the %(driver)s virt driver: %(reason)s"


class InstanceSnapshotFailure(NubisException):
    """A virt driver could not take the snapshot of a guest (the fault of the action)."""

    msg_fmt = "snapshot of instance %(instance_uuid)s failed: %(reason)s"


class UnshelveInstanceInvalidState(NubisException):
    code = 409
    msg_fmt = (
        "Specifying an availability zone or a host when unshelving server "
        "%(instance_uuid)s with status %(state)s is not supported. The server status "
        "must be SHELVED_OFFLOADED."
    )


class UnshelveHostNotInAZ(NubisException):
    code = 409
    msg_fmt = "Host %(host)s is not in the availability zone %(availability_zone)s."


class InstanceRebuildFailure(NubisException):
    """A rebuild did not complete (the fault of the ERROR it ends in)."""

    msg_fmt = "rebuild of instance %(instance_uuid)s did not complete: %(reason)s"


class ServiceTooOld(NubisException):
    """An operation needs an RPC version that ``[upgrade_levels]`` (or a service of an
    older release still running) does not allow yet."""

    code = 409
    msg_fmt = (
        "%(what)s needs %(rpc_api)s RPC %(version)s, but messages are capped at %(cap)s "
        "([upgrade_levels] %(rpc_api)s, or a service of an older release still runs)"
    )


class MigrationNotFoundForInstance(NotFound):
    msg_fmt = "migration %(migration_id)s is not a migration of instance %(instance_uuid)s"


class InvalidMigrationState(NubisException):
    code = 409
    msg_fmt = (
        "cannot %(method)s %(migration_id)s of instance %(instance_uuid)s: the "
        "migration is %(state)s"
    )


class ImageNotFound(NotFound):
    msg_fmt = "image %(image_id)s could not be found"


class ImageExists(NubisException):
    code = 409
    msg_fmt = "an image named %(name)s already exists"


class InvalidImage(Invalid):
    msg_fmt = "%(path)s cannot be imported: %(reason)s"


class ImageStatusConflict(NubisException):
    code = 409
    msg_fmt = "image %(image_id)s is %(status)s; this needs it %(expected)s"


class ImageInUse(NubisException):
    code = 409
    msg_fmt = (
        "image %(image_id)s is the base of instance %(instance_uuid)s; delete the instances "
        "that use it first"
    )


class ImageNameAmbiguous(NubisException):
    code = 409
    msg_fmt = "%(count)s images are named %(name)s; give the image's id instead"


class ImageProtected(NubisException):
    code = 403
    msg_fmt = "image %(image_id)s is protected; set protected to false before deleting it"


class ImageTooLarge(NubisException):
    code = 413
    msg_fmt = "the image data is larger than [api] max_image_size (%(limit)s bytes)"


class IdentityUserNotFound(NotFound):
    msg_fmt = "user %(user)s could not be found"


class IdentityUserExists(NubisException):
    code = 409
    msg_fmt = "a user named %(name)s already exists"


class IdentityProjectNotFound(NotFound):
    msg_fmt = "project %(project)s could not be found"


class IdentityProjectExists(NubisException):
    code = 409
    msg_fmt = "a project named %(name)s already exists"


class IdentityProjectInUse(NubisException):
    code = 409
    msg_fmt = "project %(project)s still has %(what)s; delete them first"


class IdentityRoleNotFound(NotFound):
    msg_fmt = "role %(role)s could not be found"


class IdentityRoleExists(NubisException):
    code = 409
    msg_fmt = "a role named %(name)s already exists"


class AggregateNotFound(NotFound):
    msg_fmt = "Aggregate %(aggregate_id)s could not be found."


class AggregateNameExists(NubisException):
    code = 409
    msg_fmt = "Aggregate %(aggregate_name)s already exists."


class AggregateHostNotFound(NotFound):
    msg_fmt = "Aggregate %(aggregate_id)s has no host %(host)s."


class AggregateHostExists(NubisException):
    code = 409
    msg_fmt = "Aggregate %(aggregate_id)s already has host %(host)s."


class InvalidAggregateAction(Invalid):
    """A change of an aggregate its state refuses (HTTP 400: update, set_metadata,
    delete)."""

    msg_fmt = "Cannot %(action)s aggregate %(aggregate_id)s: %(reason)s"


class InvalidAggregateHostAction(InvalidAggregateAction):
    """Adding or removing a host that would break a rule of availability zones (HTTP 409,
    as Nova answers add_host and remove_host)."""

    code = 409


class TaskAlreadyRunning(NubisException):
    code = 409
    msg_fmt = "Task %(task_name)s is already running (or ran) on host %(host)s for this period"


class TaskNotRunning(NubisException):
    code = 409
    msg_fmt = "Task %(task_name)s is not running on host %(host)s for this period"


class VirtOperationNotSupported(NubisException):
    """The virt driver of the instance's host cannot do this (it does not declare the
    capability): Nova's NotImplementedError, HTTP 501."""

    code = 501
    msg_fmt = "%(operation)s is not supported by the %(driver)s virt driver"


class InstanceRescueFailure(NubisException):
    """A rescue did not complete (the fault of the ERROR it ends in)."""

    msg_fmt = "rescue of instance %(instance_uuid)s did not complete: %(reason)s"


class InstanceUnRescueFailure(NubisException):
    """An unrescue did not complete (the fault of the ERROR it ends in)."""

    msg_fmt = "unrescue of instance %(instance_uuid)s did not complete: %(reason)s"
