"""``/os-keypairs``: a user's SSH keys (and, from 2.2, X.509 certificates) by name, as
Nova keeps them (``openstack keypair create/list/show/delete``).

Key pairs belong to a user, not a project. A user manages their own; from 2.10 an
administrator may name another user with ``user_id`` (body on create, query elsewhere).
Without a ``public_key`` nubis makes the pair and returns the private key
once. The ``key_pairs`` quota (:mod:`nubis.core.quota`, the caller's project's, or
the user's own within it) caps how many one user keeps. Statuses follow Nova: create
200 (201 from 2.2), delete 202 (204 from 2.2); ``type`` appears from 2.2; paging with
``limit``/``marker`` from 2.35.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception, quota
from nubis.core.api import key_pairs, policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import PAGING, V21, isotime_micro, limit_of, next_link
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Reply, Request
from nubis.core.db import api as db

TAG = "os-keypairs"
COLLECTION = f"{V21}/os-keypairs"
ITEM = f"{COLLECTION}/{{keypair_name}}"


def _create_schema(*, typed: bool, for_user: bool) -> dict[str, Any]:
    """Nova's body of 2.1, 2.2 (*typed*) or 2.10 (*for_user*). (2.92, past nubis's
    microversions, makes public_key required and allows '@' and '.' in names.)"""
    properties: dict[str, Any] = {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": r"^[a-zA-Z0-9 _-]+$",
        },
        "public_key": {"type": "string"},
    }
    if typed:
        properties["type"] = {"type": "string", "enum": list(key_pairs.TYPES)}
    if for_user:
        properties["user_id"] = {"type": "string", "minLength": 1, "maxLength": 255}
    keypair = {
        "type": "object",
        "properties": properties,
        "required": ["name"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"keypair": keypair},
        "required": ["keypair"],
        "additionalProperties": False,
    }


CREATE_BODIES = (
    BodySchema(_create_schema(typed=False, for_user=False), max_version="2.1"),
    BodySchema(_create_schema(typed=True, for_user=False), min_version="2.2", max_version="2.9"),
    BodySchema(_create_schema(typed=True, for_user=True), min_version="2.10"),
)

USER_QUERY = {"user_id": Query("string", "Administrators (2.10+): this user's key pairs.")}
LIST_QUERY = {**USER_QUERY, **PAGING}


class KeyPairs:
    """Handlers of the /os-keypairs routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @staticmethod
    def _user(req: Request, rule: str, given: str | None) -> str:
        """The user whose key pairs the request is about, authorized by *rule*."""
        user_id = req.context.user_id
        if given is not None and req.at_least("2.10"):
            user_id = given
        req.authorize(rule, {"user_id": user_id})
        return str(user_id)

    def index(self, req: Request) -> dict[str, Any]:
        user_id = self._user(req, policies.KEYPAIRS_INDEX, req.arg("user_id"))
        paged = req.at_least("2.35")
        limit = limit_of(req) if paged else None
        marker = req.arg("marker") if paged else None
        try:
            rows = db.key_pair_get_all_by_user(req.context, user_id, limit=limit, marker=marker)
        except exception.MarkerNotFound as exc:
            raise Fault(400, exception.one_line(exc)) from None
        result: dict[str, Any] = {
            "keypairs": [{"keypair": self._summary(req, row)} for row in rows]
        }
        if limit is not None:
            more = next_link(req, COLLECTION, rows, limit, lambda row: row.name)
            if more:
                result["keypairs_links"] = more
        return result

    def show(self, req: Request, keypair_name: str) -> dict[str, Any]:
        user_id = self._user(req, policies.KEYPAIRS_SHOW, req.arg("user_id"))
        row = db.key_pair_get(req.context, user_id, keypair_name)
        view = self._summary(req, row)
        view.update(
            {
                "user_id": row.user_id,
                "id": row.id,
                "created_at": isotime_micro(row.created_at),
                "updated_at": isotime_micro(row.updated_at),
                "deleted": False,
                "deleted_at": None,
            }
        )
        return {"keypair": view}

    def create(self, req: Request) -> Reply:
        body = req.body["keypair"]
        user_id = self._user(req, policies.KEYPAIRS_CREATE, body.get("user_id"))
        key_type = body.get("type", "ssh")
        limit = quota.limits(req.context, req.conf, req.context.project_id, user_id)["key_pairs"]
        if limit >= 0 and db.key_pair_count_by_user(req.context, user_id) >= limit:
            raise Fault(403, "Quota exceeded, too many key pairs.")
        if "public_key" in body:
            public_key = body["public_key"]
            material = key_pairs.KeyMaterial(
                public_key, key_pairs.fingerprint(public_key, key_type)
            )
        else:
            material = key_pairs.generate(key_type, user_id)
        row = db.key_pair_create(
            req.context,
            {
                "name": body["name"],
                "user_id": user_id,
                "public_key": material.public_key,
                "fingerprint": material.fingerprint,
                "type": key_type,
            },
        )
        view = self._summary(req, row)
        view["user_id"] = row.user_id
        if material.private_key is not None:
            view["private_key"] = material.private_key
        return Reply(201 if req.at_least("2.2") else 200, {"keypair": view})

    def delete(self, req: Request, keypair_name: str) -> Reply:
        user_id = self._user(req, policies.KEYPAIRS_DELETE, req.arg("user_id"))
        db.key_pair_destroy(req.context, user_id, keypair_name)
        return Reply(204 if req.at_least("2.2") else 202)

    @staticmethod
    def _summary(req: Request, row: Any) -> dict[str, Any]:
        view = {"name": row.name, "public_key": row.public_key, "fingerprint": row.fingerprint}
        if req.at_least("2.2"):
            view["type"] = row.type
        return view


def routes(deps: Deps) -> list[Route]:
    keypairs = KeyPairs(deps)
    return [
        Route(
            "GET",
            COLLECTION,
            keypairs.index,
            "List a user's key pairs",
            policy=policies.KEYPAIRS_INDEX,
            target="resource",
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "POST",
            COLLECTION,
            keypairs.create,
            "Create or import a key pair",
            policy=policies.KEYPAIRS_CREATE,
            target="resource",
            bodies=CREATE_BODIES,
            status=201,
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "GET",
            ITEM,
            keypairs.show,
            "Show a key pair",
            policy=policies.KEYPAIRS_SHOW,
            target="resource",
            query=USER_QUERY,
            tag=TAG,
        ),
        Route(
            "DELETE",
            ITEM,
            keypairs.delete,
            "Delete a key pair",
            policy=policies.KEYPAIRS_DELETE,
            target="resource",
            query=USER_QUERY,
            status=204,
            tag=TAG,
        ),
    ]
