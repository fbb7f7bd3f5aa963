"""The image tables through the DB API, on every backend: queued images without data,
duplicate names, tags and properties, the guarded status update, visibility, sorting
and keyset paging, and deletion of an image with its children."""

import pytest

from nubis.core import exception
from nubis.core.db import api

pytestmark = pytest.mark.usefixtures("db_url")


def _image(ctx, **values):
    values.setdefault("name", "img")
    values.setdefault("status", "queued")
    values.setdefault("visibility", "shared")
    values.setdefault("owner", "p1")
    return api.image_create(ctx, values)


def test_a_queued_image_has_no_data_and_names_may_repeat(admin_context):
    first = _image(admin_context, tags=["b", "a", "a"], properties={"os_distro": "cirros"})
    second = _image(admin_context)
    assert first.size is None and first.disk_format is None and first.protected is False
    assert first.tags == ["a", "b"] and first.properties == {"os_distro": "cirros"}
    assert second.tags == [] and second.properties == {}
    named = api.image_get_all(admin_context, filters={"name": "img"})
    assert [i.uuid for i in named] == [first.uuid, second.uuid]
    with pytest.raises(exception.ImageExists):
        _image(admin_context, uuid=first.uuid)


def test_update_replaces_children_and_guards_the_status(admin_context):
    image = _image(admin_context, tags=["a"], properties={"k": "v"})
    saving = api.image_update(
        admin_context, image.uuid, {"status": "saving", "expected_status": "queued"}
    )
    assert saving.status == "saving" and saving.tags == ["a"] and saving.properties == {"k": "v"}
    with pytest.raises(exception.ImageStatusConflict, match="is saving; this needs it queued"):
        api.image_update(
            admin_context, image.uuid, {"status": "saving", "expected_status": "queued"}
        )
    changed = api.image_update(
        admin_context, image.uuid, {"tags": ["x", "y"], "properties": {"k2": "v2"}, "size": 5}
    )
    assert changed.tags == ["x", "y"] and changed.properties == {"k2": "v2"} and changed.size == 5
    fetched = api.image_get_by_uuid(admin_context, image.uuid)
    assert fetched.tags == ["x", "y"] and fetched.properties == {"k2": "v2"}
    with pytest.raises(exception.ImageNotFound):
        api.image_update(admin_context, "00000000-0000-0000-0000-000000000000", {"size": 1})


def test_visibility_and_tags(admin_context):
    mine = _image(admin_context, name="mine", tags=["t1", "t2"])
    _image(admin_context, name="other", owner="p2")
    public = _image(admin_context, name="public", owner="p2", visibility="public", tags=["t1"])
    community = _image(admin_context, name="community", owner="p2", visibility="community")

    def names(**kwargs):
        return sorted(i.name for i in api.image_get_all(admin_context, **kwargs))

    assert names(visible_to="p1") == ["community", "mine", "public"]
    assert names(visible_to="p1", filters={"community": False}) == ["mine", "public"]
    assert names(filters={"tag": ["t1"]}) == ["mine", "public"]
    assert names(filters={"tag": ["t1", "t2"]}) == ["mine"]
    assert names(filters={"community": False}) == ["mine", "other", "public"]
    assert mine.uuid and public.uuid and community.uuid


def test_sorting_and_paging(admin_context):
    made = [
        _image(admin_context, name=name, min_ram=ram)
        for name, ram in [("c", 1), ("a", 2), ("b", 2), (None, 3)]
    ]

    def page(sort, limit=None, marker=None):
        return [
            i.name for i in api.image_get_all(admin_context, sort=sort, limit=limit, marker=marker)
        ]

    assert page([("name", "asc")]) == [None, "a", "b", "c"]
    assert page([("name", "desc")]) == ["c", "b", "a", None]
    assert page([("min_ram", "desc"), ("name", "asc")]) == [None, "a", "b", "c"]
    first = api.image_get_all(admin_context, sort=[("min_ram", "asc")], limit=2)
    assert [i.name for i in first] == ["c", "a"]
    assert page([("min_ram", "asc")], marker=first[-1].uuid) == ["b", None]
    with pytest.raises(exception.InvalidSortKey):
        page([("colour", "asc")])
    with pytest.raises(exception.InvalidSortKey):
        page([("name", "up")])
    with pytest.raises(exception.MarkerNotFound):
        page(None, marker="00000000-0000-0000-0000-000000000000")
    assert len(made) == 4


def test_destroy_takes_the_children(admin_context):
    image = _image(admin_context, tags=["a"], properties={"k": "v"})
    api.image_destroy(admin_context, image.uuid)
    with pytest.raises(exception.ImageNotFound):
        api.image_get_by_uuid(admin_context, image.uuid)
    with pytest.raises(exception.ImageNotFound):
        api.image_destroy(admin_context, image.uuid)
    again = _image(admin_context, tags=["a"], properties={"k": "v"})
    assert again.tags == ["a"]


def test_property_filters_match_every_given_property(admin_context):
    backup = {"image_type": "backup", "backup_type": "daily", "instance_uuid": "i-1"}
    old = _image(admin_context, name="old", properties=backup)
    new = _image(admin_context, name="new", properties={**backup, "extra": "x"})
    _image(admin_context, name="weekly", properties={**backup, "backup_type": "weekly"})
    _image(admin_context, name="other-server", properties={**backup, "instance_uuid": "i-2"})
    _image(admin_context, name="plain")
    found = api.image_get_all(
        admin_context,
        filters={"properties": backup, "status": "queued"},
        sort=[("created_at", "desc")],
    )
    assert [i.uuid for i in found] == [new.uuid, old.uuid]
    assert api.image_get_all(admin_context, filters={"properties": {"image_type": "nope"}}) == []
