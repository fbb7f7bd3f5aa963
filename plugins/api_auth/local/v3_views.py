"""How Identity v3 shows domains, projects, users, roles and role assignments
(Keystone's response bodies), from the rows of :mod:`nubis.core.api.identity_admin`."""

from __future__ import annotations

from typing import Any

from nubis.core.api import identity_admin
from nubis.core.api.identity_admin import DOMAIN_ID, DOMAIN_NAME, Assignment, Role

V3 = "/identity/v3"


def collection(key: str, items: list[dict[str, Any]], self_url: str) -> dict[str, Any]:
    """A list answer: the items under *key* and the (single-page) links."""
    return {key: items, "links": {"self": self_url, "previous": None, "next": None}}


def domain(base: str) -> dict[str, Any]:
    return {
        "id": DOMAIN_ID,
        "name": DOMAIN_NAME,
        "description": "The default domain",
        "enabled": True,
        "tags": [],
        "options": {},
        "links": {"self": f"{base}{V3}/domains/{DOMAIN_ID}"},
    }


def project(row: Any, base: str) -> dict[str, Any]:
    extra = identity_admin.extra_of(row)
    return {
        **extra,
        "id": row.id,
        "name": row.name,
        "description": row.description or "",
        "enabled": bool(row.enabled),
        "domain_id": DOMAIN_ID,
        "parent_id": DOMAIN_ID,
        "is_domain": False,
        "tags": list(extra.get("tags", [])),
        "options": {},
        "links": {"self": f"{base}{V3}/projects/{row.id}"},
    }


def user(row: Any, base: str) -> dict[str, Any]:
    body = {
        **identity_admin.extra_of(row),
        "id": row.id,
        "name": row.name,
        "domain_id": DOMAIN_ID,
        "enabled": bool(row.enabled),
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"{base}{V3}/users/{row.id}"},
    }
    if row.default_project_id:
        body["default_project_id"] = row.default_project_id
    return body


def role(item: Role, base: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "domain_id": None,
        "description": item.description,
        "options": {},
        "links": {"self": f"{base}{V3}/roles/{item.id}"},
    }


def assignment(
    item: Assignment, base: str, names: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """One role assignment; with *names* ({"users": {id: name}, "projects": {id: name}}),
    Keystone's ``include_names`` form."""
    named_domain = {"id": DOMAIN_ID, "name": DOMAIN_NAME}
    body: dict[str, Any] = {
        "role": {"id": item.role},
        "user": {"id": item.user_id},
        "scope": {"project": {"id": item.project_id}},
        "links": {
            "assignment": f"{base}{V3}/projects/{item.project_id}/users/{item.user_id}"
            f"/roles/{item.prior_role or item.role}"
        },
    }
    if item.prior_role:
        body["links"]["prior_role"] = f"{base}{V3}/roles/{item.prior_role}"
    if names is not None:
        body["role"]["name"] = item.role
        body["user"].update(
            name=names["users"].get(item.user_id, item.user_id), domain=named_domain
        )
        body["scope"]["project"].update(
            name=names["projects"].get(item.project_id, item.project_id), domain=named_domain
        )
    return body
