"""RequestSpec 1.1 carries the server group (InstanceGroup 1.0) and backports to 1.0
without it; the group survives a round trip and a clone."""

from __future__ import annotations

from nubis.core import objects

objects.register_all()


def _spec() -> objects.RequestSpec:
    spec = objects.RequestSpec(memory_mb=512, vcpus=1)
    spec.instance_group = objects.InstanceGroup(
        uuid="7b3c1c86-0c6b-4a9e-8d7e-1f3f2a5b6c70",
        policy="anti-affinity",
        rules={"max_server_per_host": 2},
        members=["a", "b"],
        hosts=["cmp1", "cmp1"],
    )
    spec.obj_set_defaults()
    return spec


def test_the_group_travels_with_the_spec() -> None:
    spec = _spec()
    primitive = spec.obj_to_primitive()
    assert primitive["nubis_object.version"] == "1.1"
    back = objects.RequestSpec.obj_from_primitive(primitive)
    group = back.instance_group
    assert (group.policy, group.rules, group.members, group.hosts) == (
        "anti-affinity",
        {"max_server_per_host": 2},
        ["a", "b"],
        ["cmp1", "cmp1"],
    )
    clone = spec.obj_clone()
    clone.instance_group.hosts.append("cmp2")
    assert spec.instance_group.hosts == ["cmp1", "cmp1"]  # nothing shared


def test_a_1_0_peer_gets_the_spec_without_the_group() -> None:
    data = _spec().obj_to_primitive(target_version="1.0")["nubis_object.data"]
    assert "instance_group" not in data and data["memory_mb"] == 512
    old = objects.RequestSpec.obj_from_primitive(_spec().obj_to_primitive(target_version="1.0"))
    assert not old.obj_attr_is_set("instance_group")


def test_a_spec_without_a_group_has_none() -> None:
    spec = objects.RequestSpec(memory_mb=1)
    spec.obj_set_defaults()
    assert spec.instance_group is None
