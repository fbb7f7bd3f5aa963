"""The views of a server in ``/servers`` answers: the summary (id, name, links) and the
detailed view, with Nova's ``status`` made from the vm and task states, ``hostId``, and
per microversion the attributes Nova adds (administrators see the host-related ones).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from nubis.core import binaries, objects
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.availability_zones import host_zones
from nubis.core.api.resources.common import isotime, isotime_micro, links
from nubis.core.api.wsgi import Request
from nubis.core.compute import availability_zones as zones_api
from nubis.core.compute import instance_lock
from nubis.core.db import api as db

_STATUS_BY_VM_STATE = {
    "active": "ACTIVE",
    "building": "BUILD",
    "stopped": "SHUTOFF",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "soft-delete": "SOFT_DELETED",
    "rescued": "RESCUE",
    "shelved": "SHELVED",
    "shelved_offloaded": "SHELVED_OFFLOADED",
    "deleted": "DELETED",
    "error": "ERROR",
}
_STATUS_BY_TASK = {
    ("active", "rebooting"): "REBOOT",
    ("active", "rebooting_hard"): "HARD_REBOOT",
    ("stopped", "rebooting_hard"): "HARD_REBOOT",
    ("error", "rebooting_hard"): "HARD_REBOOT",
    ("active", "migrating"): "MIGRATING",
    ("paused", "migrating"): "MIGRATING",
    **{
        (vm_state, task): "REBUILD"
        for vm_state in ("active", "stopped", "error")
        for task in ("rebuilding", "rebuild_spawning")
    },
}


def status_of(vm_state: str | None, task_state: str | None) -> str:
    """The API ``status`` of an instance in *vm_state* with *task_state*."""
    special = _STATUS_BY_TASK.get((vm_state or "", task_state or ""))
    return special or _STATUS_BY_VM_STATE.get(vm_state or "", "UNKNOWN")


def summary(req: Request, instance: Any) -> dict[str, Any]:
    return {
        "id": instance.uuid,
        "name": instance.display_name,
        "links": links(req, "servers", instance.uuid),
    }


def host_id(project_id: str | None, host: str | None) -> str:
    """Nova's opaque ``hostId``: a hash of project and host ('' without a host)."""
    if not host:
        return ""
    return hashlib.sha224(f"{project_id or ''}{host}".encode()).hexdigest()


class DetailView:
    """Builds detailed server views for one request, loading what they share once: the
    flavors, the faults of errored instances and (2.26+) every instance's tags, one
    query each."""

    def __init__(self, req: Request, deps: Deps, instances: Iterable[Any]) -> None:
        self.req = req
        self.deps = deps
        instances = list(instances)
        context = req.context
        self.admin_attrs = req.can(policies.SERVERS_EXTENDED_ATTRIBUTES)
        self.host_status = req.at_least("2.16") and req.can(policies.SERVERS_SHOW_HOST_STATUS)
        self.flavors = {f.id: f for f in objects.FlavorList.get_all(context)} if instances else {}
        errored = [i.uuid for i in instances if i.vm_state == "error"]
        self.faults: dict[str, Any] = {}
        if errored:
            for fault in objects.InstanceFaultList.get_by_instance_uuids(
                context, errored, latest=True
            ):
                self.faults.setdefault(fault.instance_uuid, fault)
        self.services: dict[str, Any] | None = None
        self.tags: dict[str, list[str]] = {}
        if instances and req.at_least("2.26"):
            self.tags = db.instance_tag_get_by_instance_uuids(context, [i.uuid for i in instances])

    def _host_status(self, host: str | None) -> str:
        if not host:
            return ""
        if self.services is None:
            self.services = {
                s.host: s
                for s in objects.ServiceList.get_by_binary(self.req.context, binaries.COMPUTE)
            }
        service = self.services.get(host)
        if service is None:
            return "UNKNOWN"
        if service.forced_down or not self.deps.servicegroup.is_up(service):
            return "DOWN"
        return "MAINTENANCE" if service.disabled else "UP"

    def _zone(self, instance: Any) -> str:
        """Nova's: the zone of the instance's host, else the zone it asked for."""
        if instance.host:
            return zones_api.zone_of_host(instance.host, host_zones(self.req))
        return instance.availability_zone or zones_api.DEFAULT_ZONE

    def _flavor(self, instance: Any) -> dict[str, Any]:
        flavor = self.flavors.get(instance.flavor_id)
        if self.req.at_least("2.47"):
            return {
                "vcpus": instance.vcpus,
                "ram": instance.memory_mb,
                "disk": instance.root_gb or 0,
                "ephemeral": instance.ephemeral_gb or 0,
                "swap": flavor.swap if flavor is not None else 0,
                "original_name": flavor.name if flavor is not None else "",
                "extra_specs": {},
            }
        flavorid = flavor.flavorid if flavor is not None else str(instance.flavor_id)
        return {
            "id": flavorid,
            "links": [{"rel": "bookmark", "href": self.req.url(f"/flavors/{flavorid}")}],
        }

    def _image(self, instance: Any) -> Any:
        if not instance.image_ref:
            return ""
        return {
            "id": instance.image_ref,
            "links": [{"rel": "bookmark", "href": self.req.url(f"/images/{instance.image_ref}")}],
        }

    def server(self, instance: Any) -> dict[str, Any]:
        req = self.req
        view: dict[str, Any] = {
            "id": instance.uuid,
            "name": instance.display_name,
            "status": status_of(instance.vm_state, instance.task_state),
            "tenant_id": instance.project_id,
            "user_id": instance.user_id,
            "metadata": dict(instance.user_metadata or {}),
            "hostId": host_id(instance.project_id, instance.host),
            "image": self._image(instance),
            "flavor": self._flavor(instance),
            "created": isotime(instance.created_at),
            "updated": isotime(instance.updated_at or instance.created_at),
            "addresses": {},
            "accessIPv4": instance.access_ip_v4 or "",
            "accessIPv6": instance.access_ip_v6 or "",
            "links": links(req, "servers", instance.uuid),
            "OS-DCF:diskConfig": "MANUAL",
            "progress": instance.progress or 0,
            "OS-EXT-AZ:availability_zone": self._zone(instance),
            "config_drive": "",
            "key_name": instance.key_name,
            "OS-SRV-USG:launched_at": isotime_micro(instance.launched_at),
            "OS-SRV-USG:terminated_at": isotime_micro(instance.terminated_at),
            "OS-EXT-STS:task_state": instance.task_state,
            "OS-EXT-STS:vm_state": instance.vm_state,
            "OS-EXT-STS:power_state": instance.power_state or 0,
            "os-extended-volumes:volumes_attached": [],
        }
        if self.admin_attrs:
            view["OS-EXT-SRV-ATTR:host"] = instance.host
            view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
            view["OS-EXT-SRV-ATTR:instance_name"] = instance.name
            if req.at_least("2.3"):
                view.update(
                    {
                        "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id or "",
                        "OS-EXT-SRV-ATTR:launch_index": 0,
                        "OS-EXT-SRV-ATTR:hostname": instance.hostname,
                        "OS-EXT-SRV-ATTR:kernel_id": "",
                        "OS-EXT-SRV-ATTR:ramdisk_id": "",
                        "OS-EXT-SRV-ATTR:root_device_name": None,
                        "OS-EXT-SRV-ATTR:user_data": None,
                    }
                )
        if req.at_least("2.9"):
            view["locked"] = bool(instance.locked)
        if req.at_least("2.73"):
            view["locked_reason"] = instance_lock.locked_reason(instance)
        if self.host_status:
            view["host_status"] = self._host_status(instance.host)
        if req.at_least("2.19"):
            view["description"] = instance.description
        if req.at_least("2.26"):
            view["tags"] = list(self.tags.get(instance.uuid, []))
        fault = self.faults.get(instance.uuid)
        if fault is not None:
            view["fault"] = {
                "code": fault.code,
                "created": isotime(fault.created_at),
                "message": fault.message,
            }
            if req.is_admin and fault.details:
                view["fault"]["details"] = fault.details
        return view


#: The attributes of Nova's update and rebuild responses before 2.75 (besides a
#: rebuild's adminPass), and from which microversion each is shown.
_BASIC_KEYS = {
    "accessIPv4": "2.1",
    "accessIPv6": "2.1",
    "addresses": "2.1",
    "created": "2.1",
    "fault": "2.1",
    "flavor": "2.1",
    "hostId": "2.1",
    "id": "2.1",
    "image": "2.1",
    "links": "2.1",
    "metadata": "2.1",
    "name": "2.1",
    "progress": "2.1",
    "status": "2.1",
    "tenant_id": "2.1",
    "updated": "2.1",
    "user_id": "2.1",
    "OS-DCF:diskConfig": "2.1",
    "locked": "2.9",
    "locked_reason": "2.73",
    "description": "2.19",
    "tags": "2.26",
    "key_name": "2.54",
}


def basic(req: Request, view: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a detailed *view* that Nova's update and rebuild responses show
    (before 2.75 they leave out the extended attributes: host, zone, states, usage)."""
    return {
        key: value
        for key, value in view.items()
        if key in _BASIC_KEYS and req.at_least(_BASIC_KEYS[key])
    }
