"""``/servers``: list (with filters, sorting and paging), show, create and delete; the
actions (``POST /servers/{id}/action``) are in :mod:`.server_actions`.

A member sees and acts on their own project's servers; another project's server is a
404, as if it did not exist. Administrators see every project's servers with
``all_tenants``, and the host-related attributes (``OS-EXT-SRV-ATTR:*``,
``host_status``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from nubis.core import binaries, exception, objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import (
    PAGING,
    V21,
    get_server,
    isotime,
    isotime_micro,
    limit_of,
    links,
    next_link,
    target_of,
)
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import (
    Query,
    metadata,
    name,
    positive_integer,
    to_int,
)
from nubis.core.api.wsgi import Reply, Request
from nubis.core.exception import ImageNotFound

TAG = "servers"

# --- status <-> states (Nova's mapping, for the states nubis has) ----------------------

_STATUS_BY_VM_STATE = {
    "active": "ACTIVE",
    "building": "BUILD",
    "stopped": "SHUTOFF",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "soft-delete": "SOFT_DELETED",
    "deleted": "DELETED",
    "error": "ERROR",
}
_STATUS_BY_TASK = {
    ("active", "rebooting"): "REBOOT",
    ("active", "rebooting_hard"): "HARD_REBOOT",
    ("stopped", "rebooting_hard"): "HARD_REBOOT",
    ("error", "rebooting_hard"): "HARD_REBOOT",
    ("active", "migrating"): "MIGRATING",
}
_STATES_BY_STATUS: dict[str, tuple[str, str | None]] = {
    "ACTIVE": ("active", None),
    "BUILD": ("building", None),
    "SHUTOFF": ("stopped", None),
    "PAUSED": ("paused", None),
    "SUSPENDED": ("suspended", None),
    "SOFT_DELETED": ("soft-delete", None),
    "DELETED": ("deleted", None),
    "ERROR": ("error", None),
    "REBOOT": ("active", "rebooting"),
    "HARD_REBOOT": ("active", "rebooting_hard"),
    "MIGRATING": ("active", "migrating"),
}
STATUSES = tuple(_STATES_BY_STATUS)


def status_of(vm_state: str | None, task_state: str | None) -> str:
    """The API ``status`` of an instance in *vm_state* with *task_state*."""
    special = _STATUS_BY_TASK.get((vm_state or "", task_state or ""))
    return special or _STATUS_BY_VM_STATE.get(vm_state or "", "UNKNOWN")


# --- request schemas ---------------------------------------------------------------------

_NETWORKS = {
    "oneOf": [
        {"type": "string", "enum": ["auto", "none"]},
        {"type": "array", "maxItems": 0},
    ],
    "description": "nubis has no networking: 'auto', 'none' or an empty list.",
}


_ROOT_DISK_FROM_IMAGE = {
    "type": "array",
    "maxItems": 1,
    "items": {
        "type": "object",
        "properties": {
            "uuid": {"type": "string", "minLength": 1, "maxLength": 255},
            "boot_index": {"type": ["integer", "string"], "enum": [0, "0"]},
            "source_type": {"type": "string", "enum": ["image"]},
            "destination_type": {"type": "string", "enum": ["local"]},
            "delete_on_termination": {"type": "boolean", "enum": [True]},
        },
        "required": ["uuid", "source_type"],
        "additionalProperties": False,
    },
    "description": "nubis has no volumes: at most one mapping, the image as the local root "
    "disk (what `openstack server create --image` sends); the same as imageRef.",
}


def _create_schema(networks_required: bool) -> dict[str, Any]:
    server: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": name,
            "imageRef": {"type": "string", "maxLength": 255},
            "flavorRef": {"type": ["string", "integer"], "minLength": 1, "maxLength": 255},
            "min_count": positive_integer,
            "max_count": positive_integer,
            "metadata": metadata,
            "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
            "networks": _NETWORKS,
            "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
            "block_device_mapping_v2": _ROOT_DISK_FROM_IMAGE,
        },
        "required": ["name", "flavorRef", *(["networks"] if networks_required else [])],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"server": server},
        "required": ["server"],
        "additionalProperties": False,
    }


CREATE_BODIES = (
    BodySchema(_create_schema(False), max_version="2.36"),
    BodySchema(_create_schema(True), min_version="2.37"),
)

SORT_KEYS = (
    "created_at",
    "updated_at",
    "launched_at",
    "display_name",
    "uuid",
    "vm_state",
    "task_state",
    "host",
    "node",
    "project_id",
)

LIST_QUERY = {
    **PAGING,
    "name": Query("string", "Servers whose name contains this text."),
    "status": Query("enum", "Servers in this status.", choices=STATUSES),
    "changes-since": Query("datetime", "Servers changed at or after this time."),
    "flavor": Query("string", "Servers of this flavor id."),
    "image": Query("string", "Servers of this image id."),
    "uuid": Query("uuid", "The server with this id."),
    "all_tenants": Query("boolean", "Administrators: servers of every project."),
    "project_id": Query("string", "Administrators with all_tenants: this project's servers."),
    "tenant_id": Query("string", "Same as project_id."),
    "user_id": Query("string", "Administrators: servers of this user."),
    "host": Query("string", "Administrators: servers on this compute host."),
    "node": Query("string", "Administrators: servers on this hypervisor node."),
    "deleted": Query("boolean", "Administrators: deleted servers."),
    "sort_key": Query("enum", "Sort by this attribute.", choices=SORT_KEYS, multi=True),
    "sort_dir": Query("enum", "asc or desc, per sort_key.", choices=("asc", "desc"), multi=True),
}


class Servers:
    """Handlers of the /servers routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # --- list / show ---------------------------------------------------------------

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=False)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=True)

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        context = req.context
        all_tenants_rule = (
            policies.SERVERS_DETAIL_ALL_TENANTS if detail else policies.SERVERS_INDEX_ALL_TENANTS
        )
        filters: dict[str, Any] = {}
        all_tenants = req.arg("all_tenants", False) and req.can(all_tenants_rule)
        project = req.arg("project_id") or req.arg("tenant_id")
        if all_tenants:
            if project:
                filters["project_id"] = project
        else:
            filters["project_id"] = context.project_id
        if req.arg("name"):
            filters["display_name_contains"] = req.arg("name")
        if req.arg("status"):
            vm_state, task_state = _STATES_BY_STATUS[req.arg("status")]
            filters["vm_state"] = vm_state
            if task_state:
                filters["task_state"] = task_state
        if req.arg("changes-since") is not None:
            filters["changes_since"] = req.arg("changes-since")
        if req.arg("uuid"):
            filters["uuid"] = req.arg("uuid")
        if req.arg("image"):
            filters["image_ref"] = _id_from_href(req.arg("image"))
        if req.arg("flavor"):
            try:
                flavor = objects.Flavor.get_by_flavor_id(context, _id_from_href(req.arg("flavor")))
            except exception.FlavorNotFound:
                return {"servers": []}
            filters["flavor_id"] = flavor.id
        if req.is_admin:
            for key in ("host", "node", "user_id"):
                if req.arg(key):
                    filters[key] = req.arg(key)
            if req.arg("deleted") is not None:
                filters["deleted"] = req.arg("deleted")
        sort_keys = req.arg("sort_key") or None
        sort_dirs = req.arg("sort_dir") or None
        if sort_dirs and not sort_keys:
            raise Fault(400, "sort_dir needs a sort_key to apply to")
        if sort_keys and sort_dirs and len(sort_dirs) > len(sort_keys):
            raise Fault(400, "more sort_dir than sort_key parameters were given")
        if sort_keys and sort_dirs:
            sort_dirs = sort_dirs + [sort_dirs[-1]] * (len(sort_keys) - len(sort_dirs))
        limit = limit_of(req)
        try:
            instances = list(
                self.deps.compute_api.get_all(
                    context,
                    filters=filters,
                    limit=limit,
                    marker=req.arg("marker"),
                    sort_keys=sort_keys,
                    sort_dirs=sort_dirs,
                )
            )
        except exception.MarkerNotFound as exc:
            raise Fault(400, exception.one_line(exc)) from None
        path = f"{V21}/servers" + ("/detail" if detail else "")
        if detail:
            view = DetailView(req, self.deps, instances)
            servers = [view.server(instance) for instance in instances]
        else:
            servers = [_summary(req, instance) for instance in instances]
        result: dict[str, Any] = {"servers": servers}
        more = next_link(req, path, instances, limit, lambda inst: inst.uuid)
        if more:
            result["servers_links"] = more
        return result

    def show(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = get_server(req, self.deps.compute_api, server_id)
        req.authorize(policies.SERVERS_SHOW, target_of(instance))
        return {"server": DetailView(req, self.deps, [instance]).server(instance)}

    # --- create / delete -----------------------------------------------------------

    def create(self, req: Request) -> Reply:
        body = req.body["server"]
        context = req.context
        flavor = self._flavor(context, body["flavorRef"])
        image_ref = self._image(req, self._image_ref(body))
        requested_host = self._requested_host(req, body.get("availability_zone"))
        min_count = to_int(body.get("min_count", 1))
        max_count = to_int(body.get("max_count", min_count))
        if max_count < min_count:
            raise Fault(
                400,
                f"Invalid input for field/attribute server.max_count. Value: {max_count}. "
                f"It must be at least min_count ({min_count}).",
            )
        cap = int(req.conf.api.max_instances_per_request)
        if max_count > cap:
            field = "min_count" if min_count > cap else "max_count"
            raise Fault(
                403,
                f"Requested {max_count if field == 'max_count' else min_count} servers "
                f"(server.{field}); one request may create at most {cap} "
                "([api] max_instances_per_request).",
            )
        instances = self.deps.compute_api.create(
            context,
            flavor=flavor,
            image_ref=image_ref,
            name=body["name"],
            min_count=min_count,
            max_count=max_count,
            requested_host=requested_host,
            metadata=body.get("metadata") or {},
        )
        first = instances[0]
        server = {
            "id": first.uuid,
            "links": links(req, "servers", first.uuid),
            "OS-DCF:diskConfig": body.get("OS-DCF:diskConfig", "MANUAL"),
        }
        return Reply(
            202,
            {"server": server},
            [("Location", req.url(f"{V21}/servers/{first.uuid}"))],
        )

    @staticmethod
    def _flavor(context: Any, ref: Any) -> Any:
        flavor_id = _id_from_href(str(ref))
        try:
            return objects.Flavor.get_by_flavor_id(context, flavor_id)
        except exception.FlavorNotFound:
            raise Fault(
                400,
                f"Invalid input for field/attribute server.flavorRef. Value: {flavor_id}. "
                "No flavor has this id (see GET /flavors).",
            ) from None

    @staticmethod
    def _image_ref(body: dict[str, Any]) -> str:
        """imageRef, or the image of a root-disk block device mapping (the two must agree)."""
        image_ref = body.get("imageRef") or ""
        mappings = body.get("block_device_mapping_v2") or []
        if mappings:
            mapped = mappings[0]["uuid"]
            if image_ref and _id_from_href(image_ref) != mapped:
                raise Fault(
                    400,
                    "Invalid input for field/attribute server.block_device_mapping_v2[0].uuid. "
                    f"Value: {mapped}. It must name the same image as imageRef ({image_ref}).",
                )
            image_ref = mapped
        return str(image_ref)

    def _image(self, req: Request, ref: str) -> str | None:
        if not ref:
            return None
        image_id = _id_from_href(ref)
        try:
            image = self.deps.images.get(req.context, image_id)
        except ImageNotFound:
            image = None
        if image is None or not self.deps.images.visible(req.context, image):
            raise Fault(
                400,
                f"Invalid input for field/attribute server.imageRef. Value: {image_id}. "
                "No image has this id (see GET /image/v2/images).",
            )
        if image.status != "active":
            raise Fault(400, f"Image {image.uuid} is not active (status {image.status}).")
        return str(image.uuid)

    @staticmethod
    def _requested_host(req: Request, zone: str | None) -> str | None:
        if not zone:
            return None
        name_, _, rest = zone.partition(":")
        if name_ not in ("", "nova"):
            raise Fault(
                400,
                f"Invalid input for field/attribute server.availability_zone. Value: {zone}. "
                "The only availability zone is 'nova' ('nova:HOST' picks a host).",
            )
        host = rest.partition(":")[0]
        if not host:
            return None
        req.authorize(policies.SERVERS_CREATE_FORCED_HOST)
        return host

    def delete(self, req: Request, server_id: str) -> Reply:
        instance = get_server(req, self.deps.compute_api, server_id)
        req.authorize(policies.SERVERS_DELETE, target_of(instance))
        self.deps.compute_api.delete(req.context, instance)
        return Reply(204)


# --- views ---------------------------------------------------------------------------------


def _id_from_href(ref: str) -> str:
    """The last path segment of *ref* (clients may pass a resource URL instead of an id)."""
    return ref.rstrip("/").rsplit("/", 1)[-1] if "/" in ref else ref


def _summary(req: Request, instance: Any) -> dict[str, Any]:
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
    """Builds detailed server views for one request, loading what they share once."""

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
            "metadata": dict(instance.system_metadata or {}),
            "hostId": host_id(instance.project_id, instance.host),
            "image": self._image(instance),
            "flavor": self._flavor(instance),
            "created": isotime(instance.created_at),
            "updated": isotime(instance.updated_at or instance.created_at),
            "addresses": {},
            "accessIPv4": "",
            "accessIPv6": "",
            "links": links(req, "servers", instance.uuid),
            "OS-DCF:diskConfig": "MANUAL",
            "progress": instance.progress or 0,
            "OS-EXT-AZ:availability_zone": instance.availability_zone or "nova",
            "config_drive": "",
            "key_name": None,
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
                        "OS-EXT-SRV-ATTR:reservation_id": "",
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
        if self.host_status:
            view["host_status"] = self._host_status(instance.host)
        if req.at_least("2.19"):
            view["description"] = None
        if req.at_least("2.26"):
            view["tags"] = []
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


# --- routes --------------------------------------------------------------------------------

SERVER = f"{V21}/servers/{{server_id}}"


def routes(deps: Deps) -> list[Route]:
    servers = Servers(deps)
    return [
        Route(
            "GET",
            f"{V21}/servers",
            servers.index,
            "List servers (id, name, links)",
            policy=policies.SERVERS_INDEX,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/servers/detail",
            servers.detail,
            "List servers with details",
            policy=policies.SERVERS_DETAIL,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            SERVER,
            servers.show,
            "Show a server",
            policy=policies.SERVERS_SHOW,
            target="resource",
            tag=TAG,
        ),
        Route(
            "POST",
            f"{V21}/servers",
            servers.create,
            "Create one or more servers",
            policy=policies.SERVERS_CREATE,
            bodies=CREATE_BODIES,
            status=202,
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "DELETE",
            SERVER,
            servers.delete,
            "Delete a server",
            policy=policies.SERVERS_DELETE,
            target="resource",
            status=204,
            tag=TAG,
            responses=(409,),
        ),
    ]
