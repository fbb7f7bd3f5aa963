"""The API's resources, one module each; :func:`all_routes` gathers their routes."""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from nubis.core.api.routing import Route


class Deps:
    """What the resources work with, created when first needed.

    *compute_api* is a :class:`nubis.core.compute.api.API` (or a stand-in with the same
    methods, in tests); by default one is made from *conf*.
    """

    def __init__(self, conf: cfg.ConfigOpts, compute_api: Any = None) -> None:
        self.conf = conf
        self._compute_api = compute_api
        self._owns_compute_api = compute_api is None
        self._servicegroup: Any = None
        self._images: Any = None

    def cleanup(self) -> None:
        """Release the connections of what this object made (not a given compute API)."""
        if self._servicegroup is not None:
            self._servicegroup.cleanup()
            self._servicegroup = None
        if self._owns_compute_api and self._compute_api is not None:
            self._compute_api.cleanup()
            self._compute_api = None

    @property
    def compute_api(self) -> Any:
        if self._compute_api is None:
            from nubis.core.compute import api as compute

            self._compute_api = compute.API(self.conf)
        return self._compute_api

    @property
    def servicegroup(self) -> Any:
        if self._servicegroup is None:
            from nubis.core.servicegroup import api as servicegroup

            self._servicegroup = servicegroup.acquire(self.conf)  # one session per process
        return self._servicegroup

    @property
    def images(self) -> Any:
        if self._images is None:
            from nubis.core.api import image_registry as image_api

            self._images = image_api.ImageAPI(self.conf)
        return self._images


def all_routes(deps: Deps) -> list[Route]:
    """Every route of the compute and image APIs (not the auth plugin's own)."""
    from nubis.core.api.resources import (
        aggregates,
        availability_zones,
        compute_images,
        console_output,
        extensions,
        flavor_access,
        flavor_extra_specs,
        flavors,
        hosts,
        hypervisors,
        images,
        instance_actions,
        instance_usage_audit_log,
        keypairs,
        limits,
        migrations,
        quota_sets,
        server_actions,
        server_addresses,
        server_deferred_delete,
        server_external_events,
        server_groups,
        server_images,
        server_lock,
        server_metadata,
        server_power,
        server_rebuild,
        server_rescue,
        server_shelve,
        server_tags,
        servers,
        services,
        tenant_usage,
        versions,
    )

    routes: list[Route] = []
    for module in (
        versions,
        servers,
        server_actions,
        server_lock,
        server_power,
        server_rebuild,
        server_rescue,
        server_deferred_delete,
        server_images,
        server_shelve,
        console_output,
        server_addresses,
        server_metadata,
        server_tags,
        server_groups,
        flavors,
        flavor_extra_specs,
        flavor_access,
        hosts,
        hypervisors,
        services,
        server_external_events,
        migrations,
        instance_actions,
        aggregates,
        availability_zones,
        instance_usage_audit_log,
        keypairs,
        limits,
        quota_sets,
        tenant_usage,
        compute_images,
        images,
    ):
        routes.extend(module.routes(deps))
    routes.extend(extensions.routes(deps, served=routes))
    return routes
