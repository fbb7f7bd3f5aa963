"""The rescue part of the virt driver contract (capability ``supports_rescue``).

:class:`~nubis.core.virt.driver.ComputeDriver` inherits :class:`RescueMethods`: the
docstrings below are the contract as much as those of :mod:`.driver`, whose ground
rules (the ``instance`` argument, threads, errors) apply. A driver that does not
declare the capability inherits the methods, which raise VirtOperationNotSupported; one
that declares it implements both itself
(:data:`~nubis.core.virt.driver.CAPABILITY_METHODS`).

A rescued guest is the same guest (uuid, name, node, size, listed once by
``list_instances``) booted from a *rescue disk* -- a fresh copy-on-write overlay of the
rescue image -- with its own disks attached after it, so that whoever logs into the
rescue system finds the broken root disk as the second disk, unchanged. The guest's
own definition is kept aside on the host until :meth:`~RescueMethods.unrescue` puts
it back; :meth:`~nubis.core.virt.driver.ComputeDriver.destroy` of a rescued guest
removes both, and the rescue disk.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception

__all__ = ["RescueMethods"]


class RescueMethods:
    """Rescue and unrescue; see the module docstring."""

    def rescue(self, context: Any, instance: Any, rescue_image_ref: str | None) -> None:
        """Boot the guest of *instance* from a rescue disk of image *rescue_image_ref*,
        with its own disks attached after it; returns once it is RUNNING.

        *rescue_image_ref* names an image as ``instance.image_ref`` does (the manager
        passes the instance's own image when the user named none); empty or None makes
        a rescue guest without a rescue disk (a diskless guest's rescue). The guest
        may be running or off: a running one is stopped at once (the manager asks it
        to shut down first). Its own definition is kept so that :meth:`unrescue` can
        restore it; rescuing a guest already rescued boots a fresh rescue disk and
        keeps the definition kept the first time. Raises InstanceNotFound for an
        unknown guest and the hypervisor's error (or FileNotFoundError for an image
        the host does not have) when the rescue guest cannot start -- the guest is
        then left off, with its own definition when the driver could restore it.
        Needs ``supports_rescue`` (without it: VirtOperationNotSupported, whatever the
        guest).
        """
        raise exception.VirtOperationNotSupported(operation="rescue", driver=type(self).__name__)

    def unrescue(self, context: Any, instance: Any) -> None:
        """Give a rescued guest its own definition back and start it; returns once it
        is RUNNING.

        The rescue disk is deleted; the guest's own disks keep whatever the rescue
        system wrote to them. A guest that is not rescued is only started (a running
        one is left alone), so an unrescue delivered twice does no harm. Raises
        InstanceNotFound for an unknown guest and the hypervisor's error when the
        guest cannot start. Needs ``supports_rescue`` (VirtOperationNotSupported
        otherwise).
        """
        raise exception.VirtOperationNotSupported(operation="unrescue", driver=type(self).__name__)
