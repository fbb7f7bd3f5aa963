"""What a compute periodic task may use of the compute service that runs it.

A periodic task plugin (namespace ``nubis.periodic_tasks``, see :mod:`nubis.core.periodic`)
listed in ``[compute] periodic_tasks`` is called as ``task(manager, context)`` with the
manager of nubis-compute, which is a :class:`ComputeHost`. This module is that
manager's contract towards such tasks, as :mod:`nubis.core.virt.driver` is the virt
driver's: the docstrings below are the contract, the compute manager implements it,
and a task relies on nothing else of the manager. The default tasks (the resource
audit, the power-state sync, orphan reaping) are written on it alone.

Getting the host
    A task may be listed in another service's ``periodic_tasks`` by mistake: start with
    :func:`compute_host_of`, which raises a ConfigurationError naming the task when the
    manager is not a ComputeHost.

What is here, and what is not
    Only what the running compute service alone knows or can do: its identity
    (:attr:`~ComputeHost.host`, :attr:`~ComputeHost.conf`), its virt driver, its
    resource tracking (audit one node, delete a node's record, stop counting a guest),
    what it is moving right now, the per-instance lock its operations take, and its
    stop operation. The database is read and written through :mod:`nubis.core.objects`
    as anywhere else -- ``InstanceList.get_by_host(context, host.host)`` for the
    instances of this host, ``MigrationList.get_in_progress_by_host_and_node`` for
    migrations, ``InstanceFault.from_exception(context, uuid, exc, host.host).create()``
    to record a fault -- and the hypervisor through :attr:`~ComputeHost.driver`
    (contract: :class:`nubis.core.virt.driver.ComputeDriver`). The power-state rules are
    in :mod:`nubis.core.compute.power_sync`.

Threads
    A task runs in the periodic runner's thread pool, concurrently with RPC operations,
    live migrations, the driver's event listener and other tasks (never with another
    run of itself). Every method may be called from any thread.

Blocking
    No method waits without a bound; each says what it waits for. A *remotable call*
    goes through the indirection API (the conductor, on nubis-compute) and is bounded by
    ``[DEFAULT] rpc_response_timeout``; it raises what that API raises (e.g. a messaging
    timeout) besides what a method lists. Operations wait at most 30 s for an instance's
    lock or a node's resource-tracker lock and then fail with LockTimeout, so a task
    that holds a lock holds it for short, bounded work only.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
from typing import Any

from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt.driver import ComputeDriver

__all__ = ["AuditResult", "ComputeHost", "compute_host_of"]


@dataclasses.dataclass
class AuditResult:
    """What the audit of one node found (:meth:`ComputeHost.audit_node`)."""

    #: The node's ComputeNode as saved.
    node: Any
    #: Whether this audit created the ComputeNode.
    created: bool
    #: Whether it saved an existing ComputeNode (some field changed).
    saved: bool
    #: The names of the fields it created or changed.
    changed: list[str]
    #: Instances of this host on the node (deleted ones excluded).
    instances: int
    #: Live migrations in progress into or out of the node.
    migrations: int
    #: Uuids of the guests counted that no instance of this host is (sorted; empty
    #: unless the audit counted orphans).
    orphans: list[str]
    #: Wall-clock seconds the audit took.
    seconds: float


class ComputeHost(abc.ABC):
    """The compute service of one host -- one virt driver, one or more hypervisor
    nodes -- as a periodic task sees it."""

    #: The name of this compute host: ``Service.host`` of its nubis-compute, and the
    #: ``host`` of its instances and of the ComputeNodes of its nodes. Never changes.
    host: str

    #: The :class:`oslo_config.cfg.ConfigOpts` the service runs with. Read options from
    #: it (``conf.compute.orphan_action``); never set them. Mutable options may change
    #: between two runs of a task (SIGHUP), so read them at each run.
    conf: cfg.ConfigOpts

    #: The virt driver ``[compute] virt_driver`` names, initialised (its ``init_host``
    #: ran). Use only the :class:`~nubis.core.virt.driver.ComputeDriver` contract; while
    #: ``is_hypervisor_available()`` is False, most of its methods raise
    #: HypervisorUnavailable. Do not register an event listener on it: the service's is
    #: the only one.
    driver: ComputeDriver

    @abc.abstractmethod
    def audit_node(
        self,
        context: Any,
        nodename: str,
        *,
        count_orphans: bool = True,
        host_instances: list[Any] | None = None,
        guest_uuids: list[str] | None = None,
    ) -> AuditResult:
        """Audit node *nodename*: count what its guests use and create or save its
        ComputeNode.

        Asks the driver for the node's resources (``get_available_resource``), reads
        the instances of this host on the node and the node's in-progress live
        migrations and, with *count_orphans*, counts the guests the driver runs that no
        instance of this host is (the driver does not say which node a guest runs on:
        a host with several nodes counts them on one of them only). Then, under the
        node's resource-tracker lock, folds in the claims and deletions made while it
        read, and creates the node's ComputeNode (at a node's first audit, or after
        :meth:`delete_compute_node`; its uuid is stable per host and node name) or
        saves the fields that changed. Builds and incoming live migrations on the node
        are admitted against what it counts.

        *host_instances* (every instance of this host, all nodes:
        ``InstanceList.get_by_host``) and *guest_uuids* (``driver.list_instance_uuids()``)
        may be given by a caller that audits several nodes, so that they are read once;
        they are read here otherwise.

        Returns an :class:`AuditResult`. Raises InvalidDriverResources when the
        driver's answer lacks resource keys, ComputeHostNodeNotFound (from the driver)
        for a node this host does not manage, HypervisorUnavailable, and LockTimeout
        when the node's lock is not had within 30 s (a claim or another audit holds
        it). Blocks for the driver's calls, at most four remotable reads, that lock
        wait, and at most one remotable create or save.
        """

    @abc.abstractmethod
    def delete_compute_node(self, context: Any, node: Any) -> None:
        """Delete *node*, a ComputeNode of this host, and stop tracking its resources.

        For a node the driver no longer reports (``driver.get_available_nodes(refresh=
        True)``); deleting one it still reports is harmless but undone by that node's
        next audit, which creates the record again with the same uuid. A record already
        gone is not an error. Raises ValueError when *node* belongs to another host;
        when the remotable delete fails, raises its error and keeps tracking the node.
        Blocks for that one remotable call.
        """

    @abc.abstractmethod
    def forget_instance(self, context: Any, instance_uuid: str) -> None:
        """Stop counting the guest of *instance_uuid* on every node of this host.

        For a guest removed outside the service's operations (e.g. an orphan destroyed
        through the driver): what it used is given back at once -- the usage fields of
        the ComputeNode are saved if they changed -- instead of at the node's next
        audit. A uuid that no node counts is ignored. Raises LockTimeout when a node's
        resource-tracker lock is not had within 30 s. Blocks, per node that counted the
        guest, for that lock wait and at most one remotable save.
        """

    @abc.abstractmethod
    def in_flight_instances(self) -> set[str]:
        """Return the uuids of the instances this host is moving right now.

        Builds holding a resource claim, live migrations arriving (claimed by
        ``pre_live_migration``) and live migrations leaving (queued or running with
        this host as the source). Their guests and records change under the operation
        that holds them -- a guest may run here before any instance of this host names
        it, or an instance may name this host while its guest is elsewhere -- so a task
        judges none of them (not an orphan, not out of sync). A snapshot: an operation
        may start or end right after. Never raises; does not block (internal locks are
        held for microseconds).
        """

    @abc.abstractmethod
    def instance_lock(
        self, instance_uuid: str, wanted_by: str, timeout: float
    ) -> contextlib.AbstractContextManager[None]:
        """Return a context manager that holds the lock of instance *instance_uuid*.

        The lock the service's operations on that instance take (build, start, stop,
        reboot, delete, the start of a live migration and its post-migration step on
        the destination), as do the power-state sync and the lifecycle-event listener:
        while a task holds it, none of those runs on the instance. A live migration
        that is copying does not hold it (see :meth:`in_flight_instances` and the
        instance's ``task_state``).

        *wanted_by* says who holds or waits (it appears in LockTimeout messages, yours
        and those of whoever waits behind you). *timeout* is how many seconds entering
        the block waits: 0 or less takes it only if it is free right now. Re-entrant
        within one thread: holding it, a task may call :meth:`force_stop_instance` on
        the instance without waiting. Entering raises LockTimeout, naming the holders,
        when the lock is not had in time; it blocks at most *timeout* seconds. An
        operation that waits behind you fails after 30 s.
        """

    @abc.abstractmethod
    def force_stop_instance(self, context: Any, instance: Any) -> None:
        """Power *instance*'s guest off at once and record the instance stopped, by
        the service's stop operation.

        What the power-state sync does when an active instance's guest is off, or a
        stopped instance's guest runs. It runs as the ``stop_instance`` RPC operation
        does -- under the instance's lock, recorded as a ``stop`` action with a
        ``compute_stop_instance`` event, ``task_state`` powering-off then None, the
        guest's power state recorded -- except that the guest is not asked to shut
        down first (driver ``power_off`` with timeout 0), and that it accepts an
        instance whose ``vm_state`` is active, stopped, paused or suspended (not
        error) with no task or powering-off.

        Like a cast, it reports failure in the records rather than to the caller: a
        refused transition (another task took the instance, or its vm_state changed)
        is logged, recorded on the event and changes nothing; any other error is
        logged, recorded as an InstanceFault and on the event, and ``task_state`` goes
        back to None. Raises only LockTimeout, when the instance's lock is not had
        within 30 s (at once if the calling thread holds it). Blocks for that lock
        wait, the driver's forced power-off, and a few remotable calls (two saves, the
        action and event records).
        """

    @abc.abstractmethod
    def offload_shelved_instance(self, context: Any, instance: Any) -> None:
        """Offload the shelved *instance* from this host, by the service's
        ``shelve_offload_instance`` operation (what the ``offload_shelved_instances``
        periodic task does once ``[DEFAULT] shelved_offload_time`` has passed).

        Under the instance's lock, recorded as a ``shelveOffload`` action with a
        ``compute_shelve_offload_instance`` event: from ``shelved`` with no task (or
        ``shelving_offloading``), the guest is powered off at once and destroyed with
        its disks, this host stops counting it, and the instance becomes
        ``shelved_offloaded`` with no host or node. Reports failure in the records as
        :meth:`force_stop_instance` does, and raises only LockTimeout likewise.
        """


def compute_host_of(manager: Any, task: str) -> ComputeHost:
    """Return *manager* (what periodic task *task* was called with) as a ComputeHost.

    Raises ConfigurationError naming ``[<service>] periodic_tasks`` and the task when
    it is not one: the task was listed in another service's periodic tasks.
    """
    if not isinstance(manager, ComputeHost):
        raise exception.ConfigurationError(
            option=f"[{getattr(manager, 'service_name', '?')}] periodic_tasks",
            reason=f"{task} runs only on a compute manager; {type(manager).__name__} is "
            "not a nubis.core.compute.host.ComputeHost",
        )
    return manager
