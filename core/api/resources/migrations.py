"""``/os-migrations`` and ``/servers/{id}/migrations`` (administrators).

The per-server resource shows live migrations in progress with the progress the source
compute reports while the copy runs (``memory_processed_bytes`` ... as in Nova), and
aborts one (``DELETE``). ``/os-migrations`` lists every migration with filters.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception, objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import (
    PAGING,
    V21,
    get_server,
    isotime_micro,
    limit_of,
    next_link,
    page,
    target_of,
    utc_naive,
)
from nubis.core.api.routing import Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Reply, Request
from nubis.core.compute.states import LIVE_MIGRATION, MigrationStatus

TAG = "migrations"

LIST_QUERY = {
    **PAGING,
    "host": Query("string", "Migrations from or to this host."),
    "status": Query("string", "Migrations in this status."),
    "instance_uuid": Query("uuid", "Migrations of this server."),
    "migration_type": Query(
        "enum",
        "Kind of migration.",
        choices=("live-migration", "migration", "resize", "evacuation"),
    ),
    "source_compute": Query("string", "Migrations from this host."),
    "changes-since": Query("datetime", "Migrations changed at or after this time (2.59+)."),
}


def _progress(view: dict[str, Any], migration: Any) -> None:
    for kind in ("memory", "disk"):
        for part in ("total", "processed", "remaining"):
            view[f"{kind}_{part}_bytes"] = getattr(migration, f"{kind}_{part}")


class Migrations:
    """Handlers of the migration routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # --- /os-migrations ------------------------------------------------------------------

    def index(self, req: Request) -> dict[str, Any]:
        filters: dict[str, Any] = {}
        for name in ("status", "instance_uuid", "migration_type", "source_compute"):
            if req.arg(name):
                filters[name] = req.arg(name)
        migrations = list(self.deps.compute_api.get_migrations(req.context, filters=filters))
        host = req.arg("host")
        if host:
            migrations = [m for m in migrations if host in (m.source_compute, m.dest_compute)]
        paged = req.at_least("2.59")
        since = req.arg("changes-since") if paged else None
        if since is not None:
            migrations = [
                m
                for m in migrations
                if (changed := m.updated_at or m.created_at) and utc_naive(changed) >= since
            ]
        result: dict[str, Any] = {}
        if paged:
            limit = limit_of(req)
            migrations = page(migrations, req.arg("marker"), limit, lambda m: m.uuid)
            more = next_link(req, f"{V21}/os-migrations", migrations, limit, lambda m: m.uuid)
            if more:
                result["migrations_links"] = more
        result["migrations"] = [self.view(req, m) for m in migrations]
        return result

    def view(self, req: Request, migration: Any) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": migration.id,
            "source_node": migration.source_node,
            "dest_node": migration.dest_node,
            "source_compute": migration.source_compute,
            "dest_compute": migration.dest_compute,
            "dest_host": migration.dest_host,
            "status": migration.status,
            "instance_uuid": migration.instance_uuid,
            "old_instance_type_id": migration.old_flavor_id,
            "new_instance_type_id": migration.new_flavor_id,
            "created_at": isotime_micro(migration.created_at),
            "updated_at": isotime_micro(migration.updated_at),
        }
        if req.at_least("2.23"):
            view["migration_type"] = migration.migration_type
            if (
                migration.migration_type == LIVE_MIGRATION
                and migration.status in MigrationStatus.IN_PROGRESS
            ):
                path = f"/servers/{migration.instance_uuid}/migrations/{migration.id}"
                view["links"] = [
                    {"rel": "self", "href": req.url(V21 + path)},
                    {"rel": "bookmark", "href": req.url(path)},
                ]
        if req.at_least("2.59"):
            view["uuid"] = migration.uuid
        return view

    # --- /servers/{id}/migrations ----------------------------------------------------

    def _in_progress(self, req: Request, server_id: str, rule: str) -> list[Any]:
        instance = get_server(req, self.deps.compute_api, server_id)
        req.authorize(rule, target_of(instance))
        return [
            m
            for m in objects.MigrationList.get_by_instance(req.context, instance.uuid)
            if m.migration_type == LIVE_MIGRATION and m.status in MigrationStatus.IN_PROGRESS
        ]

    def server_view(self, req: Request, migration: Any) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": migration.id,
            "server_uuid": migration.instance_uuid,
            "source_node": migration.source_node,
            "dest_node": migration.dest_node,
            "source_compute": migration.source_compute,
            "dest_compute": migration.dest_compute,
            "dest_host": migration.dest_host,
            "status": migration.status,
            "created_at": isotime_micro(migration.created_at),
            "updated_at": isotime_micro(migration.updated_at),
        }
        _progress(view, migration)
        if req.at_least("2.59"):
            view["uuid"] = migration.uuid
        return view

    def server_index(self, req: Request, server_id: str) -> dict[str, Any]:
        migrations = self._in_progress(req, server_id, policies.SERVER_MIGRATIONS_INDEX)
        return {"migrations": [self.server_view(req, m) for m in migrations]}

    def _one(self, req: Request, server_id: str, migration_id: str, rule: str) -> Any:
        in_progress = self._in_progress(req, server_id, rule)
        if not migration_id.isascii() or not migration_id.isdigit() or len(migration_id) > 19:
            raise Fault(400, f"Invalid migration id {migration_id}: it must be an integer.")
        for migration in in_progress:
            if migration.id == int(migration_id):
                return migration
        raise Fault(
            404,
            f"In-progress live migration {migration_id} is not found for server {server_id}.",
        )

    def server_show(self, req: Request, server_id: str, migration_id: str) -> dict[str, Any]:
        migration = self._one(req, server_id, migration_id, policies.SERVER_MIGRATIONS_SHOW)
        return {"migration": self.server_view(req, migration)}

    def server_abort(self, req: Request, server_id: str, migration_id: str) -> Reply:
        migration = self._one(req, server_id, migration_id, policies.SERVER_MIGRATIONS_DELETE)
        abortable = (
            MigrationStatus.IN_PROGRESS
            if req.at_least("2.65")
            else frozenset({MigrationStatus.RUNNING})
        )
        if migration.status not in abortable:
            raise Fault(
                400,
                f"Migration {migration.id} is {migration.status}; only a running live "
                "migration can be aborted at this microversion.",
            )
        instance = self.deps.compute_api.get(req.context, server_id)
        try:
            self.deps.compute_api.live_migrate_abort(req.context, instance, migration.id)
        except exception.InvalidMigrationState as exc:
            raise Fault(400, exception.one_line(exc)) from None
        return Reply(202)


def routes(deps: Deps) -> list[Route]:
    migrations = Migrations(deps)
    server = f"{V21}/servers/{{server_id}}/migrations"
    return [
        Route(
            "GET",
            f"{V21}/os-migrations",
            migrations.index,
            "List migrations",
            policy=policies.MIGRATIONS_INDEX,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            server,
            migrations.server_index,
            "List a server's live migrations in progress, with their progress",
            policy=policies.SERVER_MIGRATIONS_INDEX,
            target="resource",
            min_version="2.23",
            tag=TAG,
        ),
        Route(
            "GET",
            f"{server}/{{migration_id}}",
            migrations.server_show,
            "Show a server's live migration in progress",
            policy=policies.SERVER_MIGRATIONS_SHOW,
            target="resource",
            min_version="2.23",
            tag=TAG,
        ),
        Route(
            "DELETE",
            f"{server}/{{migration_id}}",
            migrations.server_abort,
            "Abort a server's live migration",
            policy=policies.SERVER_MIGRATIONS_DELETE,
            target="resource",
            min_version="2.24",
            status=202,
            tag=TAG,
        ),
    ]
