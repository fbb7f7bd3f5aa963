"""``/servers``: list (with filters, sorting and paging), show, create and delete; the
actions (``POST /servers/{id}/action``) are in :mod:`.server_actions`.

A member sees and acts on their own project's servers; another project's server is a
404, as if it did not exist. Administrators see every project's servers with
``all_tenants``, and the host-related attributes (``OS-EXT-SRV-ATTR:*``,
``host_status``).

From 2.26 the list filters by tags (``tags``, ``tags-any``, ``not-tags``,
``not-tags-any``: comma-separated, as Nova reads them); from 2.52 a create may give the
servers' tags. The tags routes are in :mod:`.server_tags`. The scheduler hint
``group`` puts a create's servers in a server group (:mod:`.server_groups`): an
unknown group, or another project's, is a 400.

With ``[DEFAULT] reclaim_instance_interval`` > 0 a delete soft-deletes, as Nova's
(:mod:`.server_deferred_delete`); the list then leaves soft-deleted servers out unless
an administrator asks for ``deleted`` ones (or ``changes-since`` is given), as Nova's.
"""

from __future__ import annotations

import ipaddress
import secrets
import string
from typing import Any

from nubis.core import exception, quota
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps, server_views
from nubis.core.api.resources.common import (
    PAGING,
    V21,
    get_server,
    limit_of,
    links,
    next_link,
    target_of,
)
from nubis.core.api.resources.flavors import visible_flavor
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import (
    Query,
    boolean,
    description,
    metadata,
    name,
    positive_integer,
    to_bool,
    to_int,
)
from nubis.core.api.wsgi import Reply, Request
from nubis.core.db import api as db
from nubis.core.exception import ImageNotFound

TAG = "servers"

# --- status <-> states (Nova's mapping, for the states nubis has) ----------------------

_STATES_BY_STATUS: dict[str, tuple[Any, Any]] = {
    "ACTIVE": ("active", None),
    "BUILD": ("building", None),
    "SHUTOFF": ("stopped", None),
    "PAUSED": ("paused", None),
    "SUSPENDED": ("suspended", None),
    "SOFT_DELETED": ("soft-delete", None),
    "RESCUE": ("rescued", None),
    "DELETED": ("deleted", None),
    "ERROR": ("error", None),
    "REBOOT": ("active", "rebooting"),
    "HARD_REBOOT": ("active", "rebooting_hard"),
    "MIGRATING": ("active", "migrating"),
    "REBUILD": (("active", "stopped", "error"), ("rebuilding", "rebuild_spawning")),
}
STATUSES = tuple(_STATES_BY_STATUS)
NOVA_STATUSES = (
    *STATUSES,
    "PASSWORD",
    "RESIZE",
    "REVERT_RESIZE",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "UNKNOWN",
    "VERIFY_RESIZE",
)
"""Every status Nova's ``status`` filter knows; those nubis has no state for match nothing."""


_PASSWORD_SYMBOLS = string.ascii_letters + string.digits


def generate_password(length: int = 12) -> str:
    """A random password of *length* letters and digits (Nova's ``password_length``)."""
    return "".join(secrets.choice(_PASSWORD_SYMBOLS) for _ in range(length))


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


_UUID = {"type": "string", "format": "uuid"}
_UUIDS = {"oneOf": [_UUID, {"type": "array", "items": _UUID, "uniqueItems": True}]}
_SCHEDULER_HINTS = {
    "type": "object",
    "properties": {
        "group": _UUID,
        "different_host": _UUIDS,
        "same_host": _UUIDS,
        "query": {"type": ["string", "object"]},
        "target_cell": {"type": "string", "minLength": 1, "maxLength": 255},
        "different_cell": {"oneOf": [{"type": "string"}, {"type": "array"}]},
        "build_near_host_ip": {"type": "string", "maxLength": 45},
        "cidr": {"type": "string", "pattern": "^/[0-9a-f.:]+$"},
    },
    "additionalProperties": True,
    "description": "Accepted as Nova accepts them. 'group' (a server group's uuid) puts the "
    "servers in that group, placed by its policy; a hint no enabled filter reads (every "
    "other one) has no effect, as in Nova.",
}


SERVER_TAG = {
    "type": "string",
    "pattern": "^[^,/\\x00]*$",
    "minLength": 1,
    "maxLength": db.MAX_TAG_LENGTH,
}
"""A server tag (Nova's ``parameter_types.tag``): 1-60 characters, no '/' or ',' (nor
NUL, which PostgreSQL cannot store)."""

SERVER_TAGS = {"type": "array", "items": SERVER_TAG, "maxItems": db.MAX_INSTANCE_TAGS}
"""A server's tags: at most 50 (the create body from 2.52, ``PUT .../tags``)."""

_ACCESS_IPV4 = {"type": "string", "format": "ipv4"}
_ACCESS_IPV6 = {"type": "string", "format": "ipv6"}


def _create_schema(
    networks_required: bool, with_description: bool, with_tags: bool = False
) -> dict[str, Any]:
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
            "adminPass": {"type": "string", "maxLength": 255},
            "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
            "accessIPv4": _ACCESS_IPV4,
            "accessIPv6": _ACCESS_IPV6,
            "return_reservation_id": boolean,
        },
        "required": ["name", "flavorRef", *(["networks"] if networks_required else [])],
        "additionalProperties": False,
    }
    if with_description:
        server["properties"]["description"] = description
    if with_tags:
        server["properties"]["tags"] = SERVER_TAGS
    return {
        "type": "object",
        "properties": {
            "server": server,
            "os:scheduler_hints": _SCHEDULER_HINTS,
            "OS-SCH-HNT:scheduler_hints": _SCHEDULER_HINTS,
        },
        "required": ["server"],
        "additionalProperties": False,
    }


CREATE_BODIES = (
    BodySchema(_create_schema(False, False), max_version="2.18"),
    BodySchema(_create_schema(False, True), min_version="2.19", max_version="2.36"),
    BodySchema(_create_schema(True, True), min_version="2.37", max_version="2.51"),
    BodySchema(_create_schema(True, True, with_tags=True), min_version="2.52"),
)


def _update_schema(with_description: bool) -> dict[str, Any]:
    server: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": name,
            "accessIPv4": _ACCESS_IPV4,
            "accessIPv6": _ACCESS_IPV6,
            "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        },
        "additionalProperties": False,
    }
    if with_description:
        server["properties"]["description"] = description
    return {
        "type": "object",
        "properties": {"server": server},
        "required": ["server"],
        "additionalProperties": False,
    }


UPDATE_BODIES = (
    BodySchema(_update_schema(False), max_version="2.18"),
    BodySchema(_update_schema(True), min_version="2.19"),
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
    "name": Query("string", "Servers whose name this regular expression (RE2) matches."),
    "status": Query(
        "string",
        "Servers in this status (any case). An unknown status: an empty list before 2.38, "
        "400 from 2.38.",
    ),
    "changes-since": Query("datetime", "Servers changed at or after this time."),
    "flavor": Query("string", "Servers of this flavor id."),
    "image": Query("string", "Servers of this image id."),
    "uuid": Query("uuid", "The server with this id."),
    "reservation_id": Query("string", "Servers of the create request with this id."),
    "all_tenants": Query(
        "boolean", "Administrators: servers of every project (no value: true).", empty_is_true=True
    ),
    "project_id": Query("string", "Administrators with all_tenants: this project's servers."),
    "tenant_id": Query("string", "Same as project_id."),
    "user_id": Query("string", "Administrators: servers of this user."),
    "host": Query("string", "Administrators: servers on this compute host."),
    "node": Query("string", "Administrators: servers on this hypervisor node."),
    "deleted": Query("boolean", "Administrators: deleted servers."),
    "sort_key": Query("enum", "Sort by this attribute.", choices=SORT_KEYS, multi=True),
    "sort_dir": Query("enum", "asc or desc, per sort_key.", choices=("asc", "desc"), multi=True),
    "tags": Query(
        "string", "2.26+: servers with every one of these comma-separated tags.", max_length=4096
    ),
    "tags-any": Query(
        "string", "2.26+: servers with any of these comma-separated tags.", max_length=4096
    ),
    "not-tags": Query(
        "string",
        "2.26+: servers without at least one of these comma-separated tags.",
        max_length=4096,
    ),
    "not-tags-any": Query(
        "string", "2.26+: servers with none of these comma-separated tags.", max_length=4096
    ),
}


GiB = 1024**3


def _check_fits(flavor: Any, image: Any) -> None:
    """Nova's checks of an image against a flavor: its ``min_ram``, and, unless the
    flavor's root disk is 0 (sized by the image), its ``min_disk`` and size."""
    if (image.min_ram or 0) > flavor.memory_mb:
        raise Fault(
            400,
            f"Flavor's memory is too small for requested image: the flavor has "
            f"{flavor.memory_mb} MiB, image {image.uuid} needs {image.min_ram} MiB (min_ram).",
        )
    root_bytes = (flavor.root_gb or 0) * GiB
    if not root_bytes:
        return
    if (image.min_disk or 0) * GiB > root_bytes:
        raise Fault(
            400,
            "Flavor's disk is smaller than the minimum size specified in image metadata. "
            f"Flavor disk is {root_bytes} bytes, minimum size is {image.min_disk * GiB} bytes.",
        )
    if (image.size or 0) > root_bytes:
        raise Fault(
            400,
            "Flavor's disk is too small for requested image. Flavor disk is "
            f"{root_bytes} bytes, image is {image.size} bytes.",
        )


def _address(value: str | None) -> str | None:
    """An access address in its canonical form (IPv6 compressed), as Nova stores it."""
    return None if value is None else ipaddress.ip_address(value).compressed


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
            filters["display_name_regexp"] = req.arg("name")
        if req.arg("status"):
            status = req.arg("status").upper()
            if status not in NOVA_STATUSES:
                if req.at_least("2.38"):
                    raise Fault(
                        400,
                        "Invalid input for query parameter status. Value: "
                        f"{req.arg('status')!r}. Invalid status value; it must be one of "
                        f"{', '.join(NOVA_STATUSES)} (any case).",
                    )
                return {"servers": []}
            if status not in _STATES_BY_STATUS:
                return {"servers": []}
            vm_state, task_state = _STATES_BY_STATUS[status]
            filters["vm_state"] = list(vm_state) if isinstance(vm_state, tuple) else vm_state
            if task_state:
                filters["task_state"] = (
                    list(task_state) if isinstance(task_state, tuple) else task_state
                )
        if req.arg("changes-since") is not None:
            filters["changes_since"] = req.arg("changes-since")
        if req.arg("uuid"):
            filters["uuid"] = req.arg("uuid")
        if req.arg("reservation_id"):
            filters["reservation_id"] = req.arg("reservation_id")
        if req.arg("image"):
            filters["image_ref"] = _id_from_href(req.arg("image"))
        if req.arg("flavor"):
            try:
                flavor = visible_flavor(req, _id_from_href(req.arg("flavor")))
            except exception.FlavorNotFound:
                return {"servers": []}
            filters["flavor_id"] = flavor.id
        if req.at_least("2.26"):
            for key in db.TAG_FILTERS:
                if req.arg(key) is not None:
                    filters[key] = req.arg(key).split(",")
        if req.is_admin:
            for key in ("host", "node", "user_id"):
                if req.arg(key):
                    filters[key] = req.arg(key)
            if req.arg("deleted") is not None:
                filters["deleted"] = req.arg("deleted")
        # As Nova's: soft-deleted servers come with deleted ones, or with changes-since.
        if filters.get("deleted") is not None:
            filters["soft_deleted"] = bool(filters["deleted"])
        elif req.arg("changes-since") is None:
            filters["soft_deleted"] = False
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
        except (exception.MarkerNotFound, exception.InvalidRegexp) as exc:
            raise Fault(400, exception.one_line(exc)) from None
        path = f"{V21}/servers" + ("/detail" if detail else "")
        if detail:
            view = server_views.DetailView(req, self.deps, instances)
            servers = [view.server(instance) for instance in instances]
        else:
            servers = [server_views.summary(req, instance) for instance in instances]
        result: dict[str, Any] = {"servers": servers}
        more = next_link(req, path, instances, limit, lambda inst: inst.uuid)
        if more:
            result["servers_links"] = more
        return result

    def show(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = get_server(req, self.deps.compute_api, server_id)
        req.authorize(policies.SERVERS_SHOW, target_of(instance))
        return {"server": server_views.DetailView(req, self.deps, [instance]).server(instance)}

    # --- create / delete -----------------------------------------------------------

    def create(self, req: Request) -> Reply:
        body = req.body["server"]
        context = req.context
        flavor = self._flavor(req, body["flavorRef"])
        image_ref = self._image(req, self._image_ref(body), flavor)
        zone, requested_host = self._requested_host(req, body.get("availability_zone"))
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
        metadata = body.get("metadata") or {}
        if metadata:  # no metadata fits under any limit: skip reading the limits
            allowed = quota.limits(req.context, req.conf, context.project_id)["metadata_items"]
            if 0 <= allowed < len(metadata):
                raise exception.MetadataLimitExceeded(allowed=allowed)
        # Nova reads os:scheduler_hints when given, else the old OS-SCH-HNT: name.
        hints = req.body.get("os:scheduler_hints", req.body.get("OS-SCH-HNT:scheduler_hints"))
        try:
            instances = self.deps.compute_api.create(
                context,
                flavor=flavor,
                image_ref=image_ref,
                name=body["name"],
                min_count=min_count,
                max_count=max_count,
                requested_host=requested_host,
                availability_zone=zone,
                metadata=metadata,
                description=body.get("description"),
                key_pair=self._key_pair(req, body.get("key_name")),
                access_ip_v4=_address(body.get("accessIPv4")),
                access_ip_v6=_address(body.get("accessIPv6")),
                tags=body.get("tags") or (),
                instance_group=(hints or {}).get("group"),
            )
        except exception.InstanceGroupNotFound as exc:  # a bad hint: Nova's 400
            raise Fault(400, exception.one_line(exc)) from None
        first = instances[0]
        if to_bool(body.get("return_reservation_id", False)):
            return Reply(202, {"reservation_id": first.reservation_id})
        server = {
            "id": first.uuid,
            "links": links(req, "servers", first.uuid),
            "OS-DCF:diskConfig": body.get("OS-DCF:diskConfig", "MANUAL"),
            # Nova's default ([api] enable_instance_password): the password given, or one
            # made up; like Nova's libvirt driver without injection, no guest receives it.
            "adminPass": body.get("adminPass") or generate_password(),
        }
        return Reply(
            202,
            {"server": server},
            [("Location", req.url(f"{V21}/servers/{first.uuid}"))],
        )

    @staticmethod
    def _key_pair(req: Request, key_name: str | None) -> Any:
        if key_name is None:
            return None
        try:
            return db.key_pair_get(req.context, req.context.user_id, key_name)
        except exception.KeyPairNotFound:
            raise Fault(
                400,
                f"Invalid key_name provided. Value: {key_name}. The user has no key pair of "
                "this name (see GET /os-keypairs).",
            ) from None

    def update(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = get_server(req, self.deps.compute_api, server_id)
        req.authorize(policies.SERVERS_UPDATE, target_of(instance))
        changes = req.body["server"]
        if "name" in changes:
            instance.display_name = changes["name"]
        if "description" in changes:
            instance.description = changes["description"]
        if "accessIPv4" in changes:
            instance.access_ip_v4 = _address(changes["accessIPv4"])
        if "accessIPv6" in changes:
            instance.access_ip_v6 = _address(changes["accessIPv6"])
        instance.save()
        full = server_views.DetailView(req, self.deps, [instance]).server(instance)
        return {"server": server_views.basic(req, full)}

    @staticmethod
    def _flavor(req: Request, ref: Any) -> Any:
        flavor_id = _id_from_href(str(ref))
        try:
            return visible_flavor(req, flavor_id)
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

    def _image(self, req: Request, ref: str, flavor: Any) -> str | None:
        """The id of the image *ref* names, after Nova's checks of it against *flavor*
        (400: not visible, not active, needing more RAM or disk than the flavor has)."""
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
        _check_fits(flavor, image)
        return str(image.uuid)

    @staticmethod
    def _requested_host(req: Request, zone: str | None) -> tuple[str | None, str | None]:
        """The zone and host ``availability_zone`` names (``ZONE``, ``ZONE:HOST``; a
        host for administrators only). The compute API refuses a zone not available."""
        name_, _, rest = (zone or "").partition(":")
        host = rest.partition(":")[0]
        if host:
            req.authorize(policies.SERVERS_CREATE_FORCED_HOST)
        return name_ or None, host or None

    def delete(self, req: Request, server_id: str) -> Reply:
        instance = get_server(req, self.deps.compute_api, server_id)
        req.authorize(policies.SERVERS_DELETE, target_of(instance))
        if int(req.conf.reclaim_instance_interval) > 0:  # Nova's deferred delete
            self.deps.compute_api.soft_delete(req.context, instance)
        else:
            self.deps.compute_api.delete(req.context, instance)
        return Reply(204)


# --- views ---------------------------------------------------------------------------------


def _id_from_href(ref: str) -> str:
    """The last path segment of *ref* (clients may pass a resource URL instead of an id)."""
    return ref.rstrip("/").rsplit("/", 1)[-1] if "/" in ref else ref


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
            "PUT",
            SERVER,
            servers.update,
            "Rename a server, or change its description (2.19+) or access addresses",
            policy=policies.SERVERS_UPDATE,
            target="resource",
            bodies=UPDATE_BODIES,
            tag=TAG,
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
