"""The indirection contract: remotable methods behave as if run right here."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from nubis.core import exception
from nubis.core.conformance.suites.indirection.fixtures import Indirection


def _context() -> Any:
    from nubis.core.context import get_admin_context

    return get_admin_context()


def _new_instance(host: str = "cf-host", node: str = "cf-node") -> Any:
    from nubis.core import objects

    instance = objects.Instance(_context())
    instance.uuid = str(uuid.uuid4())
    instance.display_name = "cf"
    instance.host = host
    instance.node = node
    instance.memory_mb = 64
    instance.vcpus = 1
    instance.vm_state = "building"
    instance.task_state = "scheduling"
    instance.system_metadata = {"image": "none"}
    instance.create()
    return instance


def _scenario() -> dict[str, Any]:
    """Create, change two fields, save, read back; report what the caller saw."""
    from nubis.core import objects

    instance = _new_instance(host=f"cf-{uuid.uuid4().hex[:6]}")
    created_changes = sorted(instance.obj_what_changed())
    instance.vm_state = "active"
    instance.task_state = None
    instance.save(expected_task_state=["scheduling"])
    again = objects.Instance.get_by_uuid(_context(), instance.uuid)
    return {
        "type": type(instance).__name__,
        "created_changes": created_changes,
        "id_set": instance.obj_attr_is_set("id"),
        "after_save_changes": sorted(instance.obj_what_changed()),
        "vm_state": instance.vm_state,
        "task_state": instance.task_state,
        "system_metadata": dict(instance.system_metadata),
        "updated_at_set": instance.updated_at is not None,
        "read_back": (
            type(again).__name__,
            again.vm_state,
            again.task_state,
            again.host == instance.host,
        ),
    }


def test_remotable_methods_behave_as_without_indirection(nubis_indirection: Any) -> None:
    through = _scenario()
    assert nubis_indirection.calls["object_action"] >= 2, (
        f"create() and save() did not go through object_action: {dict(nubis_indirection.calls)}"
    )
    assert nubis_indirection.calls["object_class_action_versions"] >= 1, (
        "get_by_uuid() did not go through object_class_action_versions: "
        f"{dict(nubis_indirection.calls)}"
    )
    nubis_indirection.uninstall()
    direct = _scenario()
    nubis_indirection.install()
    assert through == direct
    assert through["after_save_changes"] == []


def test_class_methods_return_lists_of_objects(nubis_indirection: Indirection) -> None:
    from nubis.core import objects

    host = f"cf-{uuid.uuid4().hex[:6]}"
    made = sorted(_new_instance(host=host, node="n1").uuid for _ in range(3))
    listed = objects.InstanceList.get_by_host_and_node(_context(), host, "n1")
    assert type(listed).__name__ == "InstanceList"
    assert sorted(i.uuid for i in listed) == made
    assert all(type(i).__name__ == "Instance" for i in listed)
    assert objects.InstanceList.get_by_host_and_node(_context(), host, "elsewhere").objects == []


def test_exceptions_keep_their_class(nubis_indirection: Indirection) -> None:
    from nubis.core import objects

    with pytest.raises(exception.InstanceNotFound):
        objects.Instance.get_by_uuid(_context(), str(uuid.uuid4()))
    instance = _new_instance()
    instance.task_state = "spawning"
    with pytest.raises(exception.UnexpectedTaskStateError):
        instance.save(expected_task_state=["deleting"])


def test_a_failed_method_leaves_the_callers_object_as_it_was(
    nubis_indirection: Indirection,
) -> None:
    from nubis.core import objects

    instance = _new_instance()
    instance.vm_state = "active"
    instance.display_name = "changed here"
    before = (instance.vm_state, instance.display_name, sorted(instance.obj_what_changed()))
    with pytest.raises(exception.UnexpectedTaskStateError):
        instance.save(expected_task_state=["deleting"])
    assert (instance.vm_state, instance.display_name, sorted(instance.obj_what_changed())) == (
        before
    )
    stored = objects.Instance.get_by_uuid(_context(), instance.uuid)
    assert (stored.vm_state, stored.display_name) == ("building", "cf")


def test_many_threads_at_once(nubis_indirection: Indirection) -> None:
    failures: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for _ in range(5):
                result = _scenario()
                assert result["vm_state"] == "active" and result["after_save_changes"] == []
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            with lock:
                failures.append(f"thread {n}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a caller is still waiting after 60 s"
    assert not failures, f"expected every thread's scenario to pass, observed: {failures[:3]}"
