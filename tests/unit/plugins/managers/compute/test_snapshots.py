"""The compute manager's snapshots (:mod:`nubis.plugins.managers.compute.snapshots`) in
the branches a whole cloud does not take on demand: an image deleted before or while
its file is written, an instance taken by another task during the snapshot, and backup
rotation keeping a backup an instance boots from. A fake host with its image store in
a temporary directory, its records on SQLite through the ``local`` indirection."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from nubis.core import objects
from nubis.core.compute import api_snapshot
from nubis.core.compute.states import TaskState, VMState
from nubis.plugins.managers.compute.snapshots import Snapshots
from tests.unit.plugins.managers.compute.conftest import new_instance


def _setup(ctx: Any, compute_manager: Any, store: Path, task: Any) -> tuple[Any, Any, Any]:
    manager = compute_manager(images_path=str(store))
    node = manager.driver.get_available_nodes()[0]
    instance = new_instance(ctx, manager.host, node, task_state=task)
    instance.image_ref = "base-image"
    instance.save()
    manager.driver.spawn(ctx, instance)
    image = api_snapshot.create_image(ctx, instance, "snap", "snapshot", {})
    return manager, instance, image


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The fake host's image store (the database lives in tmp_path too)."""
    path = tmp_path / "images"
    path.mkdir()
    return path


def _faults(ctx: Any, instance: Any) -> list[Any]:
    return list(objects.InstanceFaultList.get_by_instance_uuids(ctx, [instance.uuid]))


def test_a_snapshot_writes_the_file_and_records_the_image(
    ctx: Any, compute_manager: Any, store: Path
) -> None:
    manager, instance, image = _setup(ctx, compute_manager, store, "image_snapshot_pending")
    manager.snapshot_instance(ctx, instance, image.uuid)
    stored = objects.Image.get_by_uuid(ctx, image.uuid)
    assert stored.status == "active" and stored.disk_format == "raw"
    assert stored.size == os.path.getsize(store / image.uuid)
    after = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert after.task_state is None and after.vm_state == VMState.ACTIVE


def test_an_image_deleted_before_the_snapshot_ends_it_quietly(
    ctx: Any, compute_manager: Any, store: Path
) -> None:
    manager, instance, image = _setup(ctx, compute_manager, store, "image_snapshot_pending")
    image.destroy()
    manager.snapshot_instance(ctx, instance, image.uuid)
    after = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert after.task_state is None and after.vm_state == VMState.ACTIVE
    assert _faults(ctx, instance) == [] and os.listdir(store) == []


def test_an_image_deleted_while_written_loses_its_file(
    ctx: Any, compute_manager: Any, store: Path, monkeypatch: Any
) -> None:
    manager, instance, image = _setup(ctx, compute_manager, store, "image_backup")
    write = manager.driver.snapshot

    def deleted_meanwhile(*args: Any, **kwargs: Any) -> Any:
        stored = write(*args, **kwargs)
        objects.Image(ctx, uuid=image.uuid).destroy()  # the owner deleted it (the API)
        return stored

    monkeypatch.setattr(manager.driver, "snapshot", deleted_meanwhile)
    manager.backup_instance(ctx, instance, image.uuid, "daily", 1)
    after = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert after.task_state is None and _faults(ctx, instance) == []
    assert os.listdir(store) == []


def test_an_instance_taken_meanwhile_has_its_image_deleted(
    ctx: Any, compute_manager: Any, store: Path, monkeypatch: Any
) -> None:
    manager, instance, image = _setup(ctx, compute_manager, store, "image_snapshot_pending")
    write = manager.driver.snapshot

    def deleted_meanwhile(context: Any, inst: Any, image_id: str, update: Any) -> Any:
        record = objects.Instance.get_by_uuid(ctx, instance.uuid)
        record.task_state = TaskState.DELETING  # a delete took the instance
        record.save()
        return write(context, inst, image_id, update)

    monkeypatch.setattr(manager.driver, "snapshot", deleted_meanwhile)
    manager.snapshot_instance(ctx, instance, image.uuid)
    assert len(objects.ImageList.get_all(ctx, filters={"uuid": image.uuid})) == 0
    assert os.listdir(store) == []
    assert objects.Instance.get_by_uuid(ctx, instance.uuid).task_state == TaskState.DELETING


def test_rotation_keeps_a_backup_an_instance_boots_from(
    ctx: Any, compute_manager: Any, store: Path
) -> None:
    manager, instance, _ = _setup(ctx, compute_manager, store, None)
    backups = []
    for name in ("b1", "b2", "b3"):
        image = api_snapshot.create_image(ctx, instance, name, "backup", {"backup_type": "weekly"})
        (store / image.uuid).write_bytes(b"x")
        backups.append(image.uuid)
    booted = new_instance(ctx, manager.host, None)
    booted.image_ref = backups[0]
    booted.save()
    deleted = Snapshots(manager, manager._snapshots._ops).rotate_backups(ctx, instance, "weekly", 1)
    assert deleted == [backups[1]]
    left = {i.uuid for i in objects.ImageList.get_all(ctx)} & set(backups)
    assert left == {backups[0], backups[2]}
    assert sorted(os.listdir(store)) == sorted([backups[0], backups[2]])
