"""The object base's own versions of oslo's methods keep oslo's contract."""

import datetime
import uuid

import pytest

from nubis.core import objects
from nubis.core.context import get_admin_context


@pytest.fixture
def node():
    objects.register_all()
    node = objects.ComputeNode(get_admin_context())
    node.id = 7
    node.uuid = str(uuid.uuid4())
    node.host, node.hypervisor_hostname = "h", "n"
    node.vcpus, node.memory_mb, node.local_gb = 4, 1024, 10
    node.vcpus_used = node.memory_mb_used = node.local_gb_used = 0
    node.stats = {"a": "1"}
    node.supported_instances = [["x86_64", "qemu", "hvm"]]
    node.created_at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    node.obj_reset_changes()
    node.vcpus_used = 2
    return node


def test_clone_is_independent_and_keeps_changes(node):
    clone = node.obj_clone()
    assert clone.obj_to_primitive() == node.obj_to_primitive()
    assert clone.obj_what_changed() == {"vcpus_used"}
    clone.stats["a"] = "2"
    clone.supported_instances.append(["aarch64", "qemu", "hvm"])
    assert node.stats == {"a": "1"}
    assert node.supported_instances == [["x86_64", "qemu", "hvm"]]
    assert clone.stats == {"a": "2"} and len(clone.supported_instances) == 2
    assert node.obj_what_changed() == {"vcpus_used"}
    assert clone._context is node._context


def test_primitive_round_trip_matches_oslo(node):
    from oslo_versionedobjects import base as ovo_base

    ours = node.obj_to_primitive()
    theirs = ovo_base.VersionedObject.obj_to_primitive(node)
    assert ours["nubis_object.data"] == theirs["nubis_object.data"]
    assert sorted(ours["nubis_object.changes"]) == sorted(theirs["nubis_object.changes"])
    back = objects.ComputeNode.obj_from_primitive(ours, get_admin_context())
    assert back.obj_to_primitive() == ours
    assert back.obj_what_changed() == {"vcpus_used"}


def test_attr_is_set_rejects_unknown_names(node):
    assert node.obj_attr_is_set("vcpus") and not node.obj_attr_is_set("free_ram_mb")
    with pytest.raises(AttributeError, match="ComputeNode object has no attribute 'bogus'"):
        node.obj_attr_is_set("bogus")


def test_coercion_still_validates_incoming_values(node):
    primitive = node.obj_to_primitive()
    primitive["nubis_object.data"]["vcpus"] = "not a number"
    with pytest.raises(ValueError):
        objects.ComputeNode.obj_from_primitive(primitive, get_admin_context())


def _row_of(node, **changed):
    """A row as the database returns *node*: naive UTC times, the address as text,
    JSON columns as text, a whole-number float as an integer (SQLite's REAL)."""
    import json
    from types import SimpleNamespace

    values = {name: getattr(node, name) for name in node.fields if node.obj_attr_is_set(name)}
    values["created_at"] = values["created_at"].replace(tzinfo=None)
    values["host_ip"] = str(values["host_ip"])
    values["stats"] = json.dumps(dict(values["stats"]))
    values["supported_instances"] = json.dumps([list(x) for x in values["supported_instances"]])
    values["cpu_allocation_ratio"] = int(values["cpu_allocation_ratio"])
    values.update(changed)
    return SimpleNamespace(**values)


def test_reloading_an_equal_row_sets_no_field_and_a_different_value_is_coerced(node):
    """A field already holding what the row says is left as it is (the same value
    object: no coercion); each field whose value differs is set through the field, as
    oslo would."""
    node.host_ip = "192.0.2.10"
    node.cpu_allocation_ratio = 4.0
    node.obj_reset_changes()
    held = {key: value for key, value in vars(node).items() if key.startswith("_obj_")}
    node._from_db_object(node._context, node, _row_of(node))
    replaced = [key for key, value in held.items() if vars(node)[key] is not value]
    assert replaced == []

    later = datetime.datetime(2026, 1, 2, 3, 4, 5, 6)
    row = _row_of(
        node, created_at=later, host_ip="192.0.2.11", stats='{"a": "2"}', cpu_allocation_ratio=3
    )
    node._from_db_object(node._context, node, row)
    assert node.created_at == later.replace(tzinfo=datetime.UTC)
    assert node.created_at.utcoffset() == datetime.timedelta(0)
    assert str(node.host_ip) == "192.0.2.11" and node.host_ip.version == 4
    assert node.stats == {"a": "2"}
    assert node.cpu_allocation_ratio == 3.0 and type(node.cpu_allocation_ratio) is float
    assert node.obj_what_changed() == set()


def test_holds_compares_as_the_field_would_store():
    from nubis.core.objects.base import _holds

    utc = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    plus_one = utc.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert _holds(utc, utc.replace(tzinfo=None))
    assert not _holds(plus_one, utc.replace(tzinfo=None))  # the field would store UTC
    assert not _holds(utc.replace(tzinfo=None), utc)  # a naive field would drop the zone
    assert _holds(4.0, 4) and not _holds(4, 4.0) and not _holds(True, 1)
    assert not _holds("1", 1) and not _holds(None, 0) and _holds(None, None)
    assert _holds({"a": "1"}, {"a": "1"}) and not _holds({"a": "1"}, {"a": 1})


def test_reloading_reads_a_row_s_attributes_as_well_as_its_loaded_columns(node):
    """A row's loaded columns are read from its ``__dict__``; a value it only has as an
    attribute (a property, an unloaded column) is read through the attribute, and a
    field the row has no attribute for is left alone."""

    class Row:
        def __init__(self, values):
            self.__dict__.update(values)

        @property
        def vcpus_used(self):
            return 7

    node.host_ip = "192.0.2.10"
    node.cpu_allocation_ratio = 4.0
    node.running_vms = 3
    node.obj_reset_changes()
    values = vars(_row_of(node, memory_mb_used=64))
    del values["vcpus_used"], values["running_vms"]
    node._from_db_object(node._context, node, Row(values))
    assert (node.vcpus_used, node.running_vms, node.memory_mb_used) == (7, 3, 64)
    assert node.obj_what_changed() == set()
