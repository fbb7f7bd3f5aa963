"""Quota rows and usage counts through the DB API, on every backend: stored limits
by layer, upserts, the users' limit sums, deletes, and instances/cores/RAM counted from
live rows (deleted ones not counted), for a project and one user in it."""

import pytest
from sqlalchemy import Engine, event

from nubis.core.db import api

pytestmark = pytest.mark.usefixtures("db_url")


def test_limits_are_stored_by_layer_and_replaced(admin_context):
    ctx = admin_context
    assert api.quota_get_overrides(ctx, "p1", "u1") == {"class": {}, "project": {}, "user": {}}
    api.quota_class_set(ctx, "default", {"instances": 7})
    api.quota_class_set(ctx, "gold", {"instances": 70})
    api.quota_set(ctx, "p1", {"instances": 5, "cores": 9})
    api.quota_set(ctx, "p1", {"instances": 6})
    api.quota_set(ctx, "p1", {"instances": 2}, user_id="u1")
    api.quota_set(ctx, "p2", {"ram": 1})
    assert api.quota_get_overrides(ctx, "p1", "u1") == {
        "class": {"instances": 7},
        "project": {"instances": 6, "cores": 9},
        "user": {"instances": 2},
    }
    assert api.quota_get_overrides(ctx, class_name="gold")["class"] == {"instances": 70}
    assert api.quota_get_overrides(ctx, "p1")["user"] == {}


def test_user_limit_sums_and_deletes(admin_context):
    ctx = admin_context
    api.quota_set(ctx, "p1", {"instances": 2, "cores": -1}, user_id="u1")
    api.quota_set(ctx, "p1", {"instances": 3}, user_id="u2")
    api.quota_set(ctx, "p2", {"instances": 50}, user_id="u1")
    api.quota_set(ctx, "p1", {"instances": 10})
    assert api.quota_get_user_limit_sums(ctx, "p1") == {"instances": 5}
    assert api.quota_get_user_limit_sums(ctx, "p1", exclude_user="u2") == {"instances": 2}

    api.quota_destroy_all(ctx, "p1", user_id="u1")
    assert api.quota_get_overrides(ctx, "p1", "u1")["user"] == {}
    assert api.quota_get_overrides(ctx, "p1", "u2")["user"] == {"instances": 3}
    api.quota_destroy_all(ctx, "p1")
    assert api.quota_get_overrides(ctx, "p1", "u2") == {"class": {}, "project": {}, "user": {}}
    assert api.quota_get_overrides(ctx, "p2", "u1")["user"] == {"instances": 50}


def test_usage_counts_live_instances(admin_context):
    ctx = admin_context

    def instance(project, user, vcpus, ram):
        values = {"project_id": project, "user_id": user, "vcpus": vcpus, "memory_mb": ram}
        return api.instance_create(ctx, {**values, "vm_state": "active", "host": "h"})

    instance("p1", "u1", 1, 512)
    instance("p1", "u1", 2, 1024)
    instance("p1", "u2", 4, 2048)
    instance("p2", "u1", 8, 4096)
    gone = instance("p1", "u1", 16, 8192)
    api.instance_destroy(ctx, gone.uuid)
    assert api.quota_usage_instances(ctx, "p1", "u1") == {
        "project": {"instances": 3, "cores": 7, "ram": 3584},
        "user": {"instances": 2, "cores": 3, "ram": 1536},
    }
    assert api.quota_usage_instances(ctx, "p3") == {
        "project": {"instances": 0, "cores": 0, "ram": 0},
        "user": {"instances": 0, "cores": 0, "ram": 0},
    }


def test_a_create_reads_its_limits_and_usage_in_one_transaction(admin_context):
    ctx = admin_context
    api.quota_class_set(ctx, "default", {"instances": 7})
    api.quota_class_set(ctx, "gold", {"instances": 70})
    api.quota_set(ctx, "p1", {"cores": 9})
    api.quota_set(ctx, "p1", {"ram": 4096}, user_id="u1")
    api.quota_set(ctx, "p1", {"ram": 1}, user_id="u2")
    values = {"project_id": "p1", "vcpus": 2, "memory_mb": 512, "vm_state": "active"}
    api.instance_create(ctx, {**values, "user_id": "u1"})
    api.instance_create(ctx, {**values, "user_id": "u2"})
    began: list[object] = []

    def count(connection: object) -> None:
        began.append(connection)

    event.listen(Engine, "begin", count)  # every engine: readers may have their own
    try:
        both = api.quota_get_instance_limits_and_usage(ctx, "p1", "u1")
    finally:
        event.remove(Engine, "begin", count)
    assert len(began) == 1
    assert both == (
        {"class": {"instances": 7}, "project": {"cores": 9}, "user": {"ram": 4096}},
        {
            "project": {"instances": 2, "cores": 4, "ram": 1024},
            "user": {"instances": 1, "cores": 2, "ram": 512},
        },
    )
    assert api.quota_get_instance_limits_and_usage(ctx, "p1", "u1") == (
        api.quota_get_overrides(ctx, "p1", "u1"),
        api.quota_usage_instances(ctx, "p1", "u1"),
    )
