"""``/os-services`` (administrators): the service records, whether each is up (as the
configured servicegroup driver says), and disabling, enabling or forcing one down.

Before microversion 2.53 a service is named by host and binary (``PUT
/os-services/disable`` ...) and ids are integers; from 2.53 on ids are uuids and
``PUT /os-services/{id}`` changes one.

Wherever a caller names a binary (the ``binary`` filter of ``GET /os-services``, the
``binary`` of the by-host updates), Nova's names ``nova-compute``, ``nova-conductor``
and ``nova-scheduler`` stand for nubis's ``nubis-compute``, ``nubis-conductor`` and
``nubis-scheduler`` (:data:`NOVA_BINARIES`), so that tools written for Nova find
nubis's services. The answer names the binary as the caller did: the services a
``binary=nova-compute`` filter lists say ``nova-compute`` (Tempest checks that), and a
by-host update echoes the request's ``host`` and ``binary`` as Nova does. Everywhere
else the services carry nubis's own names.
"""

from __future__ import annotations

import uuid
from typing import Any

from nubis.core import binaries, exception, objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps, availability_zones
from nubis.core.api.resources.common import V21, isotime_micro
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import Query, boolean, hostname, to_bool
from nubis.core.api.wsgi import Request

TAG = "os-services"

_REASON = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\x00-\x1f]*$"}


def _by_host(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"host": hostname, "binary": hostname, **extra},
        "required": ["host", "binary", *required],
        "additionalProperties": False,
    }


ENABLE_BODY = _by_host({}, [])
DISABLE_LOG_REASON_BODY = _by_host({"disabled_reason": _REASON}, ["disabled_reason"])
FORCE_DOWN_BODY = _by_host({"forced_down": boolean}, ["forced_down"])
UPDATE_BODY = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "disabled_reason": _REASON,
        "forced_down": boolean,
    },
    "minProperties": 1,
    "additionalProperties": False,
}

LIST_QUERY = {
    "host": Query("string", "Services on this host."),
    "binary": Query(
        "string", "Services of this binary, e.g. nubis-compute (or Nova's name, nova-compute)."
    ),
}

#: Nova's binary names and the nubis binaries they stand for.
NOVA_BINARIES = {
    "nova-compute": binaries.COMPUTE,
    "nova-conductor": binaries.CONDUCTOR,
    "nova-scheduler": binaries.SCHEDULER,
}


def real_binary(name: str) -> str:
    """The nubis binary *name* (a nubis name, or Nova's for the same service) means."""
    return NOVA_BINARIES.get(name, name)


class Services:
    """Handlers of the /os-services routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request) -> dict[str, Any]:
        records = list(objects.ServiceList.get_all(req.context))
        if req.arg("host"):
            records = [r for r in records if r.host == req.arg("host")]
        asked = req.arg("binary")
        if asked:
            records = [r for r in records if r.binary == real_binary(asked)]
        views = [self.view(req, r, asked) for r in sorted(records, key=lambda r: r.id)]
        return {"services": views}

    def view(self, req: Request, record: Any, binary: str | None = None) -> dict[str, Any]:
        """The service *record*, its binary named *binary* when given (the caller's name
        for it)."""
        up = not record.forced_down and bool(self.deps.servicegroup.is_up(record))
        updated = self.deps.servicegroup.get_updated_time(record) or record.updated_at
        view = {
            "id": record.uuid if req.at_least("2.53") else record.id,
            "binary": binary or record.binary,
            "host": record.host,
            "zone": availability_zones.zone_of(record, availability_zones.host_zones(req)),
            "status": "disabled" if record.disabled else "enabled",
            "state": "up" if up else "down",
            "updated_at": isotime_micro(updated),
            "disabled_reason": record.disabled_reason,
        }
        if req.at_least("2.11"):
            view["forced_down"] = bool(record.forced_down)
        return view

    # --- before 2.53: by host and binary ---------------------------------------------

    def _record(self, req: Request) -> Any:
        host, binary = req.body["host"], req.body["binary"]
        record = objects.Service.get_by_host_and_binary(req.context, host, real_binary(binary))
        if record is None:
            raise exception.HostBinaryNotFound(host=host, binary=binary)
        return record

    def enable(self, req: Request) -> dict[str, Any]:
        record = self._record(req)
        record.disabled = False
        record.disabled_reason = None
        record.save()
        answer = {"host": record.host, "binary": req.body["binary"], "status": "enabled"}
        return {"service": answer}

    def disable(self, req: Request) -> dict[str, Any]:
        record = self._record(req)
        record.disabled = True
        record.disabled_reason = None
        record.save()
        answer = {"host": record.host, "binary": req.body["binary"], "status": "disabled"}
        return {"service": answer}

    def disable_log_reason(self, req: Request) -> dict[str, Any]:
        record = self._record(req)
        record.disabled = True
        record.disabled_reason = req.body["disabled_reason"]
        record.save()
        return {
            "service": {
                "host": record.host,
                "binary": req.body["binary"],
                "status": "disabled",
                "disabled_reason": record.disabled_reason,
            }
        }

    def force_down(self, req: Request) -> dict[str, Any]:
        record = self._record(req)
        record.forced_down = to_bool(req.body["forced_down"])
        record.save()
        return {
            "service": {
                "host": record.host,
                "binary": req.body["binary"],
                "forced_down": record.forced_down,
            }
        }

    # --- 2.53 and later: by uuid ------------------------------------------------------

    def update(self, req: Request, service_id: str) -> dict[str, Any]:
        try:
            wanted = str(uuid.UUID(service_id))
        except ValueError:
            raise Fault(400, f"Invalid uuid {service_id}") from None
        matching = [s for s in objects.ServiceList.get_all(req.context) if s.uuid == wanted]
        if not matching:
            raise exception.ServiceNotFound(service_id=service_id)
        record = matching[0]
        body = req.body
        status = body.get("status")
        if "disabled_reason" in body and status != "disabled":
            raise Fault(
                400,
                "Invalid input for field/attribute disabled_reason: it is only accepted "
                "with status 'disabled'.",
            )
        if status is not None:
            record.disabled = status == "disabled"
            record.disabled_reason = body.get("disabled_reason") if record.disabled else None
        if "forced_down" in body:
            if record.binary != binaries.COMPUTE:
                raise Fault(400, "Only nubis-compute services can be forced down.")
            record.forced_down = to_bool(body["forced_down"])
        record.save()
        return {"service": self.view(req, record)}


def routes(deps: Deps) -> list[Route]:
    services = Services(deps)
    base = f"{V21}/os-services"
    rule = policies.SERVICES_UPDATE

    def by_host(path: str, handler: Any, summary: str, schema: dict[str, Any], **kw: Any) -> Route:
        return Route(
            "PUT",
            f"{base}/{path}",
            handler,
            summary,
            policy=rule,
            bodies=(BodySchema(schema),),
            max_version="2.52",
            tag=TAG,
            **kw,
        )

    return [
        Route(
            "GET",
            base,
            services.index,
            "List services and their state",
            policy=policies.SERVICES_LIST,
            query=LIST_QUERY,
            tag=TAG,
        ),
        by_host("enable", services.enable, "Enable a service", ENABLE_BODY),
        by_host("disable", services.disable, "Disable a service", ENABLE_BODY),
        by_host(
            "disable-log-reason",
            services.disable_log_reason,
            "Disable a service, with a reason",
            DISABLE_LOG_REASON_BODY,
        ),
        by_host(
            "force-down",
            services.force_down,
            "Force a compute service down, or lift it",
            FORCE_DOWN_BODY,
            min_version="2.11",
        ),
        Route(
            "PUT",
            f"{base}/{{service_id}}",
            services.update,
            "Enable, disable or force down a service",
            policy=rule,
            bodies=(BodySchema(UPDATE_BODY),),
            min_version="2.53",
            tag=TAG,
        ),
    ]
