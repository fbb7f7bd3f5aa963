"""Flavor extra specs and access through the DB API, on every backend: merge and
delete of specs, the access list with its duplicate and missing errors, visibility of
private flavors to a project, and a flavor's delete taking both along."""

import pytest

from nubis.core import exception
from nubis.core.db import api

pytestmark = pytest.mark.usefixtures("db_url")


def _flavor(ctx, flavorid, public=True):
    values = {"flavorid": flavorid, "name": f"n-{flavorid}", "memory_mb": 64, "vcpus": 1}
    return api.flavor_create(ctx, {**values, "is_public": public})


def test_extra_specs_merge_update_and_delete(admin_context):
    ctx = admin_context
    _flavor(ctx, "f1")
    _flavor(ctx, "f2")
    assert api.flavor_extra_specs_get(ctx, "f1") == {}
    merged = api.flavor_extra_specs_update_or_create(ctx, "f1", {"a": "1", "b": "2"})
    assert merged == {"a": "1", "b": "2"}
    assert api.flavor_extra_specs_update_or_create(ctx, "f1", {"b": "3", "c": "4"}) == {
        "a": "1",
        "b": "3",
        "c": "4",
    }
    api.flavor_extra_specs_update_or_create(ctx, "f2", {"a": "other"})
    api.flavor_extra_specs_delete(ctx, "f1", "a")
    assert api.flavor_extra_specs_get(ctx, "f1") == {"b": "3", "c": "4"}
    assert api.flavor_extra_specs_get(ctx, "f2") == {"a": "other"}
    with pytest.raises(exception.FlavorExtraSpecsNotFound, match="no extra specs with key a"):
        api.flavor_extra_specs_delete(ctx, "f1", "a")
    for call in (
        lambda: api.flavor_extra_specs_get(ctx, "nope"),
        lambda: api.flavor_extra_specs_update_or_create(ctx, "nope", {"a": "1"}),
        lambda: api.flavor_extra_specs_delete(ctx, "nope", "a"),
    ):
        with pytest.raises(exception.FlavorNotFound):
            call()


def test_access_list_and_visibility(admin_context):
    ctx = admin_context
    _flavor(ctx, "pub")
    _flavor(ctx, "priv", public=False)
    _flavor(ctx, "other", public=False)
    api.flavor_access_add(ctx, "priv", "project-a")
    api.flavor_access_add(ctx, "priv", "project-b")
    api.flavor_access_add(ctx, "other", "project-b")
    assert api.flavor_access_get(ctx, "priv") == ["project-a", "project-b"]
    with pytest.raises(exception.FlavorAccessExists):
        api.flavor_access_add(ctx, "priv", "project-a")

    def visible(project):
        return [f.flavorid for f in api.flavor_get_all(ctx, accessible_to=project)]

    assert visible("project-a") == ["pub", "priv"]
    assert visible("project-b") == ["pub", "priv", "other"]
    assert visible("project-c") == ["pub"]
    assert api.flavor_get_by_flavor_id(ctx, "priv", accessible_to="project-a").name == "n-priv"
    with pytest.raises(exception.FlavorNotFound):
        api.flavor_get_by_flavor_id(ctx, "priv", accessible_to="project-c")

    api.flavor_access_remove(ctx, "priv", "project-a")
    assert visible("project-a") == ["pub"]
    with pytest.raises(exception.FlavorAccessNotFound):
        api.flavor_access_remove(ctx, "priv", "project-a")
    with pytest.raises(exception.FlavorNotFound):
        api.flavor_access_add(ctx, "nope", "project-a")


def test_destroy_takes_specs_and_access_along(admin_context):
    ctx = admin_context
    _flavor(ctx, "gone", public=False)
    api.flavor_extra_specs_update_or_create(ctx, "gone", {"k": "v"})
    api.flavor_access_add(ctx, "gone", "project-a")
    api.flavor_destroy(ctx, "gone")
    _flavor(ctx, "gone", public=False)
    assert api.flavor_extra_specs_get(ctx, "gone") == {}
    assert api.flavor_access_get(ctx, "gone") == []


def test_update_changes_only_the_given_columns(admin_context):
    ctx = admin_context
    _flavor(ctx, "upd")
    updated = api.flavor_update(ctx, "upd", {"description": "now described"})
    assert (updated.description, updated.memory_mb, updated.name) == ("now described", 64, "n-upd")
    with pytest.raises(exception.FlavorNotFound):
        api.flavor_update(ctx, "nope", {"description": "x"})
