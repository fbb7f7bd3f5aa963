"""The contract of a hypervisor ("virt") driver: namespace ``nubis.virt``.

nubis-compute loads the driver named by ``[compute] virt_driver`` and talks to the
hypervisor only through the methods below. Their docstrings are the contract: the
conformance suite (nubis.core.conformance.suites.virt) checks every installed driver
against them, and the compute manager relies on nothing else.

Construction
    ``Driver(conf)`` with the service's ``oslo_config.cfg.ConfigOpts``. A driver
    registers its own option group on *conf* in ``__init__`` (it owns its options, see
    ``list_opts`` in each plugin) and does no I/O there; it connects in
    :meth:`ComputeDriver.init_host`. There is no VirtAPI: everything a driver tells the
    manager goes through return values, exceptions and :mod:`events <nubis.core.virt.events>`.

The ``instance`` argument
    The manager passes its Instance object. A driver reads only ``uuid`` (the guest's
    identity on the hypervisor), ``name`` (the guest's name there), ``memory_mb``,
    ``vcpus``, ``root_gb``, ``image_ref`` (may be empty: a diskless guest), ``host``,
    ``node`` and ``power_state`` (and, for :meth:`~ComputeDriver.get_diagnostics`,
    ``launched_at``, which may be None; and, when spawn() unshelves an instance,
    ``system_metadata["shelved_image_id"]``, which then equals ``image_ref``: that image
    is deleted once the guest runs, so the guest's disk must not depend on its file); it
    never saves the object. Tests may pass any object with those attributes.
    ``context`` is the request context; drivers may ignore it.

Threads
    Methods are called from several threads at once (RPC workers, periodic tasks,
    live-migration threads). The manager never runs two operations on the *same*
    instance at the same time, except :meth:`live_migration_abort` during
    :meth:`live_migration` and :meth:`get_console_output` (a read) during any
    operation; everything else must be safe to call concurrently.

Errors
    Unknown guests raise :class:`~nubis.core.exception.InstanceNotFound` (except
    :meth:`destroy`, which succeeds, and :meth:`instance_exists`); a lost hypervisor
    connection raises :class:`~nubis.core.exception.HypervisorUnavailable`; a call
    before :meth:`init_host` raises :class:`~nubis.core.exception.VirtDriverNotReady`.
    No method of the contract may raise NotImplementedError: an optional ability is
    declared in :attr:`ComputeDriver.capabilities`, and an undeclared one raises the
    exception its method documents (e.g. LiveMigrationNotSupported).

Capabilities
    :attr:`ComputeDriver.capabilities` maps names from :data:`CAPABILITIES` to bools.
    The class declares what the driver can ever do; an instance may *withdraw* a
    capability its configuration cannot provide (the libvirt driver on a ``test:///``
    URI withdraws ``supports_live_migration``) but never add one. Unknown names make
    the plugin fail its contract check when it is loaded. The methods of pause,
    suspend, diagnostics and the host's uptime are in :mod:`.driver_power`, those of
    rescue in :mod:`.driver_rescue`.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from oslo_config import cfg

from nubis.core import exception
from nubis.core.images.store import Store, Stored
from nubis.core.virt import events as virt_events
from nubis.core.virt import power_state
from nubis.core.virt.driver_power import PowerAndDiagnostics
from nubis.core.virt.driver_rescue import RescueMethods

#: Every optional ability a driver may declare, and what declaring it promises.
CAPABILITIES: Mapping[str, str] = {
    "supports_live_migration": (
        "the live-migration methods work between two hosts running this driver, with "
        "progress, abort and rollback"
    ),
    "supports_reboot_soft": (
        "reboot(SOFT) asks the guest to restart itself before falling back to a power cycle"
    ),
    "supports_clean_shutdown": (
        "power_off(timeout>0) asks the guest to shut down before forcing it off"
    ),
    "supports_lifecycle_events": (
        "guest state changes are reported as LifecycleEvents to the registered listener"
    ),
    "supports_multiple_nodes": "get_available_nodes() may return more than one node",
    "supports_console_output": (
        "get_console_output() returns what the guest wrote to its serial console (the "
        "newest MAX_CONSOLE_BYTES at most), for running and stopped guests"
    ),
    "supports_rebuild": (
        "rebuild() gives an existing guest a fresh root disk from instance.image_ref in "
        "place; without it the compute manager destroys the guest and spawns it again"
    ),
    "supports_pause": (
        "pause() freezes a running guest in memory (PAUSED) and unpause() lets it run on"
    ),
    "supports_suspend": (
        "suspend() saves a running or paused guest's state and stops it, releasing its "
        "CPUs; resume() brings it back running as it was"
    ),
    "supports_diagnostics": (
        "get_diagnostics() reports a guest's state, vCPUs, memory, disks and NICs in the "
        "standard model (nubis.core.virt.diagnostics)"
    ),
    "supports_host_uptime": (
        "get_host_uptime() answers the host's uptime as the uptime command prints it"
    ),
    "supports_snapshot": (
        "snapshot() writes a standalone image of the guest's root disk (running, paused, "
        "suspended or off) into the image store this host shares with nubis-api"
    ),
    "supports_rescue": (
        "rescue() boots the guest from a rescue disk of an image with its own disks "
        "attached after it, and unrescue() gives it back its own definition"
    ),
}

#: The methods a driver declaring supports_live_migration must implement itself.
LIVE_MIGRATION_METHODS = (
    "check_can_live_migrate_destination",
    "check_can_live_migrate_source",
    "pre_live_migration",
    "live_migration",
    "live_migration_abort",
    "post_live_migration_at_destination",
    "rollback_live_migration_at_destination",
)

#: The methods a driver must implement itself for each capability that has any.
CAPABILITY_METHODS: Mapping[str, tuple[str, ...]] = {
    "supports_live_migration": LIVE_MIGRATION_METHODS,
    "supports_console_output": ("get_console_output",),
    "supports_rebuild": ("rebuild",),
    "supports_pause": ("pause", "unpause"),
    "supports_suspend": ("suspend", "resume"),
    "supports_diagnostics": ("get_diagnostics",),
    "supports_host_uptime": ("get_host_uptime",),
    "supports_snapshot": ("snapshot", "image_store"),
    "supports_rescue": ("rescue", "unrescue"),
}

#: The most console output :meth:`ComputeDriver.get_console_output` returns (Nova's cap).
MAX_CONSOLE_BYTES = 100 * 1024

#: The steps :meth:`ComputeDriver.snapshot` reports through ``update_task_state``
#: (Nova's task states): the guest's disk is captured and waits to be written, then is
#: being written into the image store.
SNAPSHOT_PENDING_UPLOAD = "image_pending_upload"
SNAPSHOT_UPLOADING = "image_uploading"

#: ``update_task_state(task_state, expected_state)`` given to snapshot().
UpdateTaskState = Callable[[str, str | None], None]

REBOOT_SOFT = "SOFT"
REBOOT_HARD = "HARD"
REBOOT_TYPES = (REBOOT_SOFT, REBOOT_HARD)

PostMethod = Callable[[Any, Any, str, bool, dict], None]
RecoverMethod = Callable[[Any, Any, str, dict], None]


@dataclasses.dataclass(frozen=True)
class InstanceInfo:
    """What :meth:`ComputeDriver.get_info` reports of one guest.

    ``state`` is a :mod:`~nubis.core.virt.power_state` constant; ``internal_id`` is the
    hypervisor's own handle of the guest (informational, may be None).
    """

    state: int
    internal_id: str | None = None

    def __post_init__(self) -> None:
        if self.state not in power_state.ALL:
            raise ValueError(f"unknown power state {self.state!r}")


class ComputeDriver(PowerAndDiagnostics, RescueMethods, abc.ABC):
    """Base class of hypervisor drivers; see the module docstring for the ground rules."""

    #: Optional abilities (names from :data:`CAPABILITIES`) -> whether this driver has them.
    capabilities: Mapping[str, bool] = {}

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self._events = virt_events.EventDispatcher(name=f"{type(self).__name__}-events")

    # --- the plugin's own contract check ---------------------------------------------

    @classmethod
    def contract_problems(cls) -> list[str]:
        """Return what is wrong with this driver class beyond its method signatures
        and its capability declaration.

        :mod:`nubis.core.plugins` runs the interface's version of this check on every
        class loaded from ``nubis.virt``, after its own check of the declared
        capabilities (names from :data:`CAPABILITIES`, bool values; see
        :func:`nubis.core.plugins.capability_problems`): a driver declaring a
        capability of :data:`CAPABILITY_METHODS` (``supports_live_migration``,
        ``supports_console_output``, ``supports_rebuild``, ``supports_snapshot``,
        ``supports_pause``, ...) must implement each of its methods itself.
        """
        caps = getattr(cls, "capabilities", None) or {}
        problems: list[str] = []
        if not isinstance(caps, Mapping):
            return problems
        for capability, methods in CAPABILITY_METHODS.items():
            if not caps.get(capability):
                continue
            inherited = [
                m
                for m in methods
                if inspect.getattr_static(cls, m, None)
                in (None, inspect.getattr_static(ComputeDriver, m))
            ]
            if inherited:
                problems.append(
                    f"declares {capability} but does not implement " + ", ".join(inherited)
                )
        return problems

    def has_capability(self, name: str) -> bool:
        """Return whether this driver (instance) has capability *name*.

        Raises ValueError for a name not in :data:`CAPABILITIES` (a typo must not read
        as "not supported").
        """
        if name not in CAPABILITIES:
            known = ", ".join(sorted(CAPABILITIES))
            raise ValueError(f"unknown capability {name!r}; known: {known}")
        return bool(self.capabilities.get(name, False))

    # --- host --------------------------------------------------------------------------

    @abc.abstractmethod
    def init_host(self, host: str) -> None:
        """Connect to the hypervisor and get ready to serve compute host *host*.

        Called once, before any other method, with the service's host name (the name
        other hosts know this one by, e.g. as a live-migration destination). Starts the
        threads the driver needs (event loop, event dispatch). Raises
        HypervisorUnavailable when the hypervisor cannot be reached at all, and
        ConfigurationError for an unusable configuration.
        """

    @abc.abstractmethod
    def cleanup_host(self, host: str) -> None:
        """Release the connection and stop the driver's threads; guests keep running.

        Called once when the service stops. No other method is called afterwards.
        """

    def is_hypervisor_available(self) -> bool:
        """Return whether the hypervisor connection is up right now.

        While it is False, methods that need the hypervisor raise HypervisorUnavailable;
        the change is also reported as a HypervisorStatusEvent. The manager disables its
        service while this is False. Drivers without a connection return True.
        """
        return True

    @abc.abstractmethod
    def get_host_ip_addr(self) -> str:
        """Return the IP address other hosts reach this compute host on (a str)."""

    # --- guests ------------------------------------------------------------------------

    @abc.abstractmethod
    def spawn(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        """Create the guest of *instance* on this host and start it.

        Returns once the guest runs (get_info(...).state is RUNNING). The guest has
        ``instance.memory_mb`` MiB of memory, ``instance.vcpus`` vCPUs and a serial
        console; its root disk is a copy-on-write overlay of the image ``image_ref``
        names, or none when ``image_ref`` is empty. Raises InstanceExists when a guest
        with this uuid is already on this host, and InstanceSpawnFailure (or the
        hypervisor's error) otherwise, having removed whatever it had created.
        """

    @abc.abstractmethod
    def destroy(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
        destroy_disks: bool = True,
    ) -> None:
        """Stop the guest at once (no guest shutdown) and remove it from this host.

        With *destroy_disks* its local disks are deleted too. Succeeds, doing nothing,
        when the guest is already gone: the manager retries deletes freely.
        """

    @abc.abstractmethod
    def power_off(self, instance: Any, timeout: float = 0, retry_interval: float = 0) -> None:
        """Power the guest off; returns once get_info(...).state is SHUTDOWN.

        With *timeout* > 0 and ``supports_clean_shutdown`` the guest is first asked to
        shut down (ACPI), again every *retry_interval* seconds, and forced off after
        *timeout* seconds; with *timeout* 0 it is forced off at once. A guest already
        off is left alone. Raises InstanceNotFound for an unknown guest.
        """

    @abc.abstractmethod
    def power_on(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        """Start a powered-off guest; returns once it is RUNNING.

        A running guest is left alone. Raises InstanceNotFound for an unknown guest.
        """

    @abc.abstractmethod
    def reboot(
        self,
        context: Any,
        instance: Any,
        reboot_type: str = REBOOT_SOFT,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        """Restart the guest; returns once it is RUNNING again.

        *reboot_type* ``"HARD"`` power-cycles it (works from any state, including off).
        ``"SOFT"`` asks the guest to restart itself when the driver declares
        ``supports_reboot_soft`` and falls back to HARD when the guest does not
        cooperate in a driver-configured time; without the capability SOFT is HARD.
        Raises InvalidRebootType for any other value and InstanceNotFound for an
        unknown guest. Call it with keywords.
        """

    @abc.abstractmethod
    def get_info(self, instance: Any) -> InstanceInfo:
        """Return the guest's :class:`InstanceInfo`; raises InstanceNotFound when absent."""

    def instance_exists(self, instance: Any) -> bool:
        """Return whether the guest of *instance* (by uuid) exists on this host."""
        try:
            self.get_info(instance)
        except exception.InstanceNotFound:
            return False
        return True

    @abc.abstractmethod
    def list_instances(self) -> list[str]:
        """Return the names of the guests this driver created on this host.

        Guests of other tools sharing the hypervisor are not listed; guests the manager
        does not know (orphans) are. Running and stopped guests alike.
        """

    @abc.abstractmethod
    def list_instance_uuids(self) -> list[str]:
        """Return the uuids of the guests :meth:`list_instances` lists, same order."""

    # --- nodes and resources -----------------------------------------------------------

    @abc.abstractmethod
    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        """Return the names of the hypervisor nodes this host manages (usually one).

        A name is stable across restarts and equals ``hypervisor_hostname`` in
        get_available_resource(name). *refresh* asks for a fresh answer instead of a
        cached one. More than one node only with ``supports_multiple_nodes``.
        """

    def node_is_available(self, nodename: str) -> bool:
        """Return whether *nodename* is one of :meth:`get_available_nodes`."""
        return nodename in self.get_available_nodes()

    @abc.abstractmethod
    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        """Return the resources of node *nodename* right now.

        A dict with exactly the keys of :data:`nubis.core.virt.hardware.RESOURCE_KEYS`
        (types and meanings there). Called by the periodic resource audit, so it must be
        cheap: a bounded number of hypervisor calls, not one per guest disk file.
        Raises ComputeHostNodeNotFound for a node this host does not manage.
        """

    # --- events ------------------------------------------------------------------------

    def register_event_listener(self, callback: virt_events.Listener | None) -> None:
        """Deliver this driver's events to *callback* (None: stop delivering).

        One listener at a time; registering replaces the previous one. Events are
        :class:`~nubis.core.virt.events.LifecycleEvent` (only with
        ``supports_lifecycle_events``) and
        :class:`~nubis.core.virt.events.HypervisorStatusEvent`. *callback(event)* runs
        in the driver's event thread, one event at a time in emission order, never in
        the thread of a driver call; it may call the driver and should return quickly.

        Events report what the hypervisor saw, not what the manager asked for: one
        operation may produce several (a libvirt start reports RESUMED then STARTED), a
        destroy reports STOPPED, and events may name guests the manager does not know
        (ignore them). The manager re-reads the state with get_info() before acting.
        """
        self._events.set_listener(callback)

    def emit_event(self, event: virt_events.Event) -> None:
        """Queue *event* for the registered listener; returns at once (drivers call this)."""
        self._events.emit(event)

    def flush_events(self, timeout: float = 5.0) -> bool:
        """Wait until every emitted event was delivered; False when *timeout* ran out."""
        return self._events.flush(timeout)

    # --- console output and rebuild (capabilities) -------------------------------------

    def get_console_output(self, instance: Any) -> str:
        """Return what the guest wrote to its serial console so far, oldest first.

        At most the newest :data:`MAX_CONSOLE_BYTES` bytes of it, decoded as UTF-8
        (undecodable bytes replaced); ``""`` when the guest wrote nothing (yet). The
        output of a stopped guest stays readable; destroy() removes it, and a rebuilt
        guest starts a new one. Needs ``supports_console_output`` (without it:
        ConsoleOutputNotSupported, whatever the guest); raises InstanceNotFound for
        an unknown guest.
        """
        raise exception.ConsoleOutputNotSupported(driver=type(self).__name__)

    def rebuild(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
        preserve_ephemeral: bool = False,
    ) -> None:
        """Rebuild the existing guest of *instance* in place; returns once it is RUNNING.

        The guest keeps its uuid, name, node and size; its root disk is replaced by a
        fresh copy-on-write overlay of ``instance.image_ref`` (which may name another
        image than the guest was built from; none when it is empty) and the guest boots
        from it, whether it was running or off. *preserve_ephemeral* keeps ephemeral
        disks (a driver that makes none ignores it). Raises InstanceNotFound for an
        unknown guest, and InstanceSpawnFailure (or the hypervisor's error) when the
        rebuilt guest cannot start. Needs ``supports_rebuild``; without it this raises
        RebuildNotSupported and the compute manager destroys the guest and spawns it
        again instead (same host, same resources).
        """
        raise exception.RebuildNotSupported(driver=type(self).__name__)

    # --- snapshot (capability supports_snapshot) ---------------------------------------

    def snapshot(
        self, context: Any, instance: Any, image_id: str, update_task_state: UpdateTaskState
    ) -> Stored:
        """Write a standalone image of the guest's root disk as image *image_id*'s file.

        The file is ``<images directory>/<image_id>`` in the image store this host
        shares with nubis-api (the directory the driver boots images from), written
        with :class:`nubis.core.images.store.Store` (``write`` or ``write_produced``):
        through a ``.part`` file renamed into place, mode 0640, with its size, MD5 and
        SHA-512 computed. Returns the store's :class:`~nubis.core.images.store.Stored`
        (the caller records it on the Image). The image stands on its own (no backing
        file), so a guest spawned from it, or its own guest rebuilt from it, boots what
        the disk held.

        The guest may be running, paused, suspended or off, and is left as it was
        (a driver may pause a running guest while it reads the disk). The steps are
        reported as Nova reports them: ``update_task_state(SNAPSHOT_PENDING_UPLOAD,
        None)`` once the disk is captured, then ``update_task_state(SNAPSHOT_UPLOADING,
        SNAPSHOT_PENDING_UPLOAD)`` before the file is written; what those raise (the
        instance was taken by another task, or deleted) stops the snapshot with nothing
        written. Raises InstanceNotFound for an unknown guest, FileExistsError when
        the image already has a file, and the underlying error when the disk cannot be
        read or written -- leaving no file behind. Needs ``supports_snapshot``;
        without it this raises SnapshotNotSupported.
        """
        raise exception.SnapshotNotSupported(
            driver=type(self).__name__, reason="it does not declare supports_snapshot"
        )

    def image_store(self) -> Store:
        """The image store this host shares with nubis-api: the directory the driver
        boots images from and :meth:`snapshot` writes to (``[api] images_path`` names
        the same one). The compute manager removes image files through it (a backup
        rotated out, a shelved image once its instance is unshelved, a snapshot whose
        image was deleted while it was written). Needs ``supports_snapshot``; without
        it this raises SnapshotNotSupported.
        """
        raise exception.SnapshotNotSupported(
            driver=type(self).__name__, reason="it does not declare supports_snapshot"
        )

    # --- live migration (capability supports_live_migration) ---------------------------
    #
    # A driver without the capability inherits these: each raises
    # LiveMigrationNotSupported. The sequence and migrate_data's keys are described in
    # nubis.core.virt.migration.

    def _no_live_migration(self) -> exception.LiveMigrationNotSupported:
        return exception.LiveMigrationNotSupported(
            driver=type(self).__name__, reason="it does not declare supports_live_migration"
        )

    def check_can_live_migrate_destination(
        self,
        context: Any,
        instance: Any,
        src_compute_info: Mapping[str, Any],
        dst_compute_info: Mapping[str, Any],
        block_migration: bool = False,
    ) -> dict[str, Any]:
        """On the destination: can *instance* come here? Return the dest_check_data dict.

        *src_compute_info* / *dst_compute_info* are the two nodes' resource dicts (as
        :meth:`get_available_resource` returned them, from the ComputeNode records).
        Checks what only the destination can know (same hypervisor type, a version not
        older than the source's, CPU compatibility, the destination reachable) and
        returns migrate_data with at least ``dest_host`` and ``block_migration`` set, plus
        whatever the source needs to reach this host. Raises MigrationPreCheckError with
        the reason, or LiveMigrationNotSupported.
        """
        raise self._no_live_migration()

    def check_can_live_migrate_source(
        self, context: Any, instance: Any, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        """On the source: can *instance* leave? Return migrate_data (dest_check_data, extended).

        Checks that the guest exists here and runs, that the destination is not this
        very host, and that its disks can move as requested. Raises InstanceNotFound,
        MigrationPreCheckError or LiveMigrationNotSupported.
        """
        raise self._no_live_migration()

    def pre_live_migration(
        self,
        context: Any,
        instance: Any,
        block_device_info: Any,
        network_info: Any,
        disk_info: Any,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """On the destination, just before the migration: prepare to receive the guest.

        Returns migrate_data (possibly extended). Raises MigrationPreCheckError when the
        destination cannot receive the guest after all.
        """
        raise self._no_live_migration()

    def live_migration(
        self,
        context: Any,
        instance: Any,
        dest: str,
        post_method: PostMethod,
        recover_method: RecoverMethod,
        block_migration: bool = False,
        migrate_data: dict[str, Any] | None = None,
    ) -> None:
        """On the source: move the running guest to host *dest* while it keeps running.

        Blocks until the migration has ended (the manager calls it in a thread of its
        own), reporting progress to ``migrate_data["progress_callback"]`` when present
        (see :mod:`nubis.core.virt.migration`). Then calls exactly one of:

        * ``post_method(context, instance, dest, block_migration, migrate_data)`` once
          the guest runs on *dest* and no longer exists here;
        * ``recover_method(context, instance, dest, migrate_data)`` on any failure,
          an abort, or the completion timeout -- the guest still runs here.

        ``migrate_data["result"]`` / ``["error"]`` say which and why. It does not raise
        for a failed migration (only what post_method or recover_method raise
        propagates); a driver without the capability raises LiveMigrationNotSupported
        without calling either.
        """
        raise self._no_live_migration()

    def live_migration_abort(self, instance: Any) -> None:
        """Ask the running live migration of *instance* to stop; returns at once.

        The thread in :meth:`live_migration` then calls recover_method with result
        ``"cancelled"``, unless the migration completed first. Raises
        NoActiveMigrationForInstance when none is running for it here.
        """
        raise self._no_live_migration()

    def post_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_migration: bool = False,
        block_device_info: Any = None,
    ) -> None:
        """On the destination, after success: take ownership of the guest that arrived.

        Afterwards the guest is listed, reported and operated here like any other.
        """
        raise self._no_live_migration()

    def rollback_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_device_info: Any,
        destroy_disks: bool = True,
        migrate_data: dict[str, Any] | None = None,
    ) -> None:
        """On the destination, after a failure: remove what pre_live_migration prepared.

        Removes any partial guest left here (the guest runs on the source). Succeeds
        when there is nothing to remove.
        """
        raise self._no_live_migration()
