"""A server's tags through the DB API, on SQLite, PostgreSQL and MariaDB: list, set,
add, delete, delete all, many instances at once; the limits and the tag rules; the vm
states a change needs; concurrent adds never pass the limit; the list filters; tags go
with their instance when it is deleted and archived."""

from __future__ import annotations

import concurrent.futures
import re
import threading

import pytest
import sqlalchemy

from nubis.core import context as nubis_context
from nubis.core import exception
from nubis.core.db import api, engine, models

pytestmark = pytest.mark.usefixtures("db_url")


def _instance(ctx, **values) -> str:
    values.setdefault("vm_state", "active")
    values.setdefault("display_name", "vm")
    return str(api.instance_create(ctx, values).uuid)


def _tag_rows() -> list[tuple[str, str]]:
    table = models.Base.metadata.tables["instance_tags"]
    with engine.get_engine().connect() as connection:
        rows = connection.execute(sqlalchemy.select(table.c.instance_uuid, table.c.tag))
        return sorted((str(uuid), str(tag)) for uuid, tag in rows)


def test_tag_lifecycle(admin_context) -> None:
    ctx = admin_context
    uuid = _instance(ctx)
    other = _instance(ctx)
    assert api.instance_tag_get_by_instance_uuid(ctx, uuid) == []
    assert api.instance_tag_add(ctx, uuid, "web") is True
    assert api.instance_tag_add(ctx, uuid, "web") is False  # there already
    assert api.instance_tag_add(ctx, uuid, "db tier") is True
    assert api.instance_tag_get_by_instance_uuid(ctx, uuid) == ["db tier", "web"]
    assert api.instance_tag_exists(ctx, uuid, "web")
    assert not api.instance_tag_exists(ctx, uuid, "nope")
    assert not api.instance_tag_exists(ctx, other, "web")

    # replace: duplicates count once, kept tags stay, the answer is sorted
    assert api.instance_tag_set(ctx, uuid, ["z", "web", "a", "z"]) == ["a", "web", "z"]
    api.instance_tag_add(ctx, other, "web")
    assert api.instance_tag_get_by_instance_uuids(ctx, [uuid, other, "unknown"]) == {
        uuid: ["a", "web", "z"],
        other: ["web"],
        "unknown": [],
    }
    assert api.instance_tag_get_by_instance_uuids(ctx, []) == {}

    api.instance_tag_delete(ctx, uuid, "web")
    with pytest.raises(exception.NotFound, match=f"Instance {uuid} has no tag 'web'"):
        api.instance_tag_delete(ctx, uuid, "web")
    assert api.instance_tag_get_by_instance_uuid(ctx, uuid) == ["a", "z"]
    api.instance_tag_delete_all(ctx, uuid)
    assert api.instance_tag_get_by_instance_uuid(ctx, uuid) == []
    api.instance_tag_delete_all(ctx, uuid)  # nothing to delete is fine
    assert api.instance_tag_set(ctx, other, []) == []
    assert _tag_rows() == []


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        ("", "it is empty"),
        ("a/b", "it contains '/' or ','"),
        ("a,b", "it contains '/' or ','"),
        ("x" * 61, "it is 61 characters long, more than 60"),
        ("a\x00b", "it contains a NUL character"),
        (7, "a tag is a string, not int"),
    ],
)
def test_bad_tags_are_refused(admin_context, tag, why) -> None:
    ctx = admin_context
    uuid = _instance(ctx)
    shown = re.escape(api.instance_tag_shown(tag))
    message = f"Tag '{shown}' is invalid. .*Validation error message: {why}"
    with pytest.raises(exception.Invalid, match=message) as caught:
        api.instance_tag_add(ctx, uuid, tag)
    assert "\n" not in str(caught.value)
    with pytest.raises(exception.Invalid, match=message):
        api.instance_tag_set(ctx, uuid, ["fine", tag])
    assert api.instance_tag_problem(tag) == why
    assert api.instance_tag_get_by_instance_uuid(ctx, uuid) == []  # nothing half-done
    if tag == "a\x00b":
        assert "Tag 'a\\x00b' is invalid" in str(caught.value)  # shown, not sent raw
    if isinstance(tag, str):  # a tag that cannot be stored is not there
        assert not api.instance_tag_exists(ctx, uuid, tag)
        with pytest.raises(exception.NotFound, match="has no tag"):
            api.instance_tag_delete(ctx, uuid, tag)


def test_longest_and_odd_tags_are_kept(admin_context) -> None:
    ctx = admin_context
    uuid = _instance(ctx)
    tags = ["x" * 60, "spaced out", "ünïcødé", "a.b-c_d:e"]
    assert api.instance_tag_set(ctx, uuid, tags) == sorted(tags)
    assert api.instance_tag_problem("x" * 60) is None


def test_at_most_fifty_tags(admin_context) -> None:
    ctx = admin_context
    uuid = _instance(ctx)
    fifty = [f"t{i:02d}" for i in range(50)]
    limit = "The number of tags exceeded the per-server limit 50"
    with pytest.raises(exception.Invalid, match=limit):
        api.instance_tag_set(ctx, uuid, [*fifty, "one-more"])
    assert api.instance_tag_get_by_instance_uuid(ctx, uuid) == []
    assert api.instance_tag_set(ctx, uuid, [*fifty, *fifty]) == fifty  # duplicates once
    with pytest.raises(exception.Invalid, match=limit):
        api.instance_tag_add(ctx, uuid, "one-more")
    # as in Nova, a full server refuses even a tag it has
    with pytest.raises(exception.Invalid, match=limit):
        api.instance_tag_add(ctx, uuid, "t00")
    api.instance_tag_delete(ctx, uuid, "t00")
    assert api.instance_tag_add(ctx, uuid, "one-more") is True
    assert len(api.instance_tag_get_by_instance_uuid(ctx, uuid)) == 50


def test_changes_need_one_of_novas_vm_states(admin_context) -> None:
    ctx = admin_context
    for state in ("active", "paused", "suspended", "stopped"):
        uuid = _instance(ctx, vm_state=state, task_state="rebooting")  # a task does not matter
        assert api.instance_tag_add(ctx, uuid, "ok") is True
    building = _instance(ctx, vm_state="building")
    refused = "cannot add a tag to instance .* while it is in vm_state building"
    with pytest.raises(exception.InstanceInvalidState, match=refused) as caught:
        api.instance_tag_add(ctx, building, "x")
    assert caught.value.kwargs["vm_state"] == "building"
    errored = _instance(ctx, vm_state="error")
    for change in (
        lambda: api.instance_tag_set(ctx, errored, ["x"]),
        lambda: api.instance_tag_delete(ctx, errored, "x"),
        lambda: api.instance_tag_delete_all(ctx, errored),
        lambda: api.instance_tag_add(ctx, errored, "a/b"),  # the state is checked first
    ):
        with pytest.raises(exception.InstanceInvalidState, match="while it is in vm_state error"):
            change()
    # at create (vm_states=None) any state will do
    assert api.instance_tag_set(ctx, building, ["new"], vm_states=None) == ["new"]
    assert api.instance_tag_add(ctx, building, "more", vm_states=None) is True
    assert api.instance_tag_get_by_instance_uuid(ctx, building) == ["more", "new"]


def test_unknown_and_deleted_instances(admin_context) -> None:
    ctx = admin_context
    missing = "00000000-0000-0000-0000-000000000000"
    for call in (
        lambda c, u: api.instance_tag_get_by_instance_uuid(c, u),
        lambda c, u: api.instance_tag_exists(c, u, "x"),
        lambda c, u: api.instance_tag_add(c, u, "x"),
        lambda c, u: api.instance_tag_set(c, u, ["x"]),
        lambda c, u: api.instance_tag_delete(c, u, "x"),
        lambda c, u: api.instance_tag_delete_all(c, u),
    ):
        with pytest.raises(exception.InstanceNotFound):
            call(ctx, missing)
    uuid = _instance(ctx)
    api.instance_destroy(ctx, uuid)
    with pytest.raises(exception.InstanceNotFound):
        api.instance_tag_get_by_instance_uuid(ctx, uuid)
    # a context that reads deleted rows sees the instance, with no tags, but cannot tag it
    everything = nubis_context.get_admin_context(read_deleted="yes")
    assert api.instance_tag_get_by_instance_uuid(everything, uuid) == []
    with pytest.raises(exception.InstanceNotFound):
        api.instance_tag_add(everything, uuid, "late")
    with pytest.raises(exception.InstanceNotFound):
        api.instance_tag_set(everything, uuid, ["late"], vm_states=None)
    assert _tag_rows() == []


def test_deleting_and_archiving_an_instance_leaves_no_tags(admin_context) -> None:
    ctx = admin_context
    doomed = _instance(ctx)
    kept = _instance(ctx)
    api.instance_tag_set(ctx, doomed, ["a", "b"])
    api.instance_tag_set(ctx, kept, ["a"])
    api.instance_destroy(ctx, doomed)
    assert _tag_rows() == [(kept, "a")]

    # a tag row left behind by some other writer goes when its instance is archived
    straggler = _instance(ctx)
    api.instance_destroy(ctx, straggler)
    with engine.get_engine().begin() as connection:
        connection.execute(
            models.Base.metadata.tables["instance_tags"].insert(),
            [{"instance_uuid": straggler, "tag": "left"}],
        )
    moved = api.archive_deleted_rows(ctx)
    assert moved["instances"] == 2 and moved["instance_tags"] == 1
    assert _tag_rows() == [(kept, "a")]
    assert api.archive_deleted_rows(ctx) == {}


def test_concurrent_adds_never_pass_the_limit(admin_context) -> None:
    ctx = admin_context
    uuid = _instance(ctx)
    api.instance_tag_set(ctx, uuid, [f"t{i:02d}" for i in range(45)])
    start = threading.Barrier(10)

    def add(tag: str) -> str:
        start.wait(timeout=30)
        try:
            return "added" if api.instance_tag_add(ctx, uuid, tag) else "there"
        except exception.Invalid:
            return "full"

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(add, [f"new{i}" for i in range(10)]))
    assert sorted(outcomes) == ["added"] * 5 + ["full"] * 5
    assert len(api.instance_tag_get_by_instance_uuid(ctx, uuid)) == 50


def test_concurrent_sets_and_adds_keep_a_consistent_list(admin_context) -> None:
    ctx = admin_context
    uuid = _instance(ctx)
    start = threading.Barrier(8)

    def change(index: int) -> None:
        start.wait(timeout=30)
        if index % 2:
            api.instance_tag_add(ctx, uuid, f"add{index}")
        else:
            api.instance_tag_set(ctx, uuid, [f"set{index}", "common"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(change, range(8)))
    tags = api.instance_tag_get_by_instance_uuid(ctx, uuid)
    # the last set leaves its two tags, plus the adds that came after it
    sets = [tag for tag in tags if tag.startswith("set")]
    assert len(sets) == 1 and "common" in tags
    assert set(tags) - {"common", *sets} <= {f"add{i}" for i in range(1, 8, 2)}


def test_the_database_decides_which_spellings_are_one_tag(admin_context, db_backend) -> None:
    ctx = admin_context
    uuid = _instance(ctx)
    stored = api.instance_tag_set(ctx, uuid, ["Web", "web"])
    one = db_backend == "mysql"  # MariaDB's collation ignores case
    assert stored == (["Web"] if one else ["Web", "web"])
    assert api.instance_tag_add(ctx, uuid, "WEB") is not one
    assert api.instance_tag_set(ctx, uuid, ["web"]) == ["web"]  # another spelling replaces


def test_list_filters(admin_context) -> None:
    ctx = admin_context
    both = _instance(ctx, display_name="both")
    only_a = _instance(ctx, display_name="only-a")
    only_b = _instance(ctx, display_name="only-b")
    _instance(ctx, display_name="none")
    api.instance_tag_set(ctx, both, ["a", "b", "c"])
    api.instance_tag_set(ctx, only_a, ["a"])
    api.instance_tag_set(ctx, only_b, ["b", "c"])

    def names(**filters) -> list[str]:
        found = api.instance_get_all(ctx, filters=filters, sort_keys=["display_name"])
        return [instance.display_name for instance in found]

    assert names(tags=["a", "b"]) == ["both"]
    assert names(tags=["b"]) == ["both", "only-b"]
    assert names(tags=["a", "a"]) == ["both", "only-a"]
    assert names(tags="a") == ["both", "only-a"]  # a string is one tag
    assert names(tags=["a", "nope"]) == []
    assert names(**{"tags-any": ["a", "b"]}) == ["both", "only-a", "only-b"]
    assert names(**{"tags-any": ["nope"]}) == []
    assert names(**{"not-tags": ["a", "b"]}) == ["none", "only-a", "only-b"]
    assert names(**{"not-tags": ["c"]}) == ["none", "only-a"]
    assert names(**{"not-tags-any": ["a", "c"]}) == ["none"]
    assert names(**{"not-tags-any": ["nope"]}) == ["both", "none", "only-a", "only-b"]
    assert names(tags=["b"], **{"not-tags-any": ["a"]}) == ["only-b"]
    assert names(tags=["a"], display_name="both") == ["both"]
    # no tags given: every instance has all of none, none has any of none
    assert len(names(tags=[])) == 4 and names(**{"tags-any": []}) == []
    assert names(**{"not-tags": []}) == [] and len(names(**{"not-tags-any": []})) == 4
    # paging with a filter
    page = api.instance_get_all(ctx, filters={"tags": ["b"]}, sort_keys=["display_name"], limit=1)
    after = api.instance_get_all(
        ctx, filters={"tags": ["b"]}, sort_keys=["display_name"], marker=page[0].uuid
    )
    assert [i.display_name for i in page + after] == ["both", "only-b"]
    # a deleted instance has no tags left to match
    api.instance_destroy(ctx, both)
    assert names(tags=["a"], deleted=True) == []
    assert names(**{"not-tags-any": ["a"], "deleted": True}) == ["both"]
