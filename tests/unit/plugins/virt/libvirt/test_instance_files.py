"""A guest's directory through a live migration: made and marked on the destination,
removed from the source unless the two hosts share it, removed again on a rollback
only when the destination made it."""

from __future__ import annotations

from pathlib import Path

from nubis.plugins.virt.libvirt import instance_files as files

UUID = "0e7d3a52-1111-4222-8333-444455556666"


def _entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_a_migration_between_two_directories(tmp_path: Path) -> None:
    source, dest = tmp_path / "a", tmp_path / "b"
    old = Path(files.make_dir(str(source), UUID))
    (old / files.CONSOLE_LOG).write_text("old boot\n")
    data = files.prepare_incoming(str(dest), UUID)
    new = dest / UUID
    assert data[files.DIR_MADE_KEY] is True and data[files.INSTANCES_PATH_KEY] == str(dest)
    assert _entries(new) == [data[files.MARKER_KEY]]
    files.forget_outgoing(str(source), UUID, data)
    assert not old.exists()
    files.settle_incoming(str(dest), UUID)
    assert new.is_dir() and _entries(new) == []


def test_a_migration_within_one_shared_directory_keeps_it(tmp_path: Path) -> None:
    shared = str(tmp_path)
    guest = Path(files.make_dir(shared, UUID))
    (guest / files.CONSOLE_LOG).write_text("boot\n")
    data = files.prepare_incoming(shared, UUID)
    assert data[files.DIR_MADE_KEY] is False
    files.forget_outgoing(shared, UUID, data)
    assert _entries(guest) == [files.CONSOLE_LOG]
    files.settle_incoming(shared, UUID)  # the marker is gone already: nothing to do
    assert _entries(guest) == [files.CONSOLE_LOG]


def test_a_rollback_removes_only_what_the_destination_made(tmp_path: Path) -> None:
    made = files.prepare_incoming(str(tmp_path / "b"), UUID)
    files.forget_incoming(str(tmp_path / "b"), UUID, made, keep=False)
    assert not (tmp_path / "b" / UUID).exists()

    shared = Path(files.make_dir(str(tmp_path / "s"), UUID))
    (shared / files.CONSOLE_LOG).write_text("the source guest's\n")
    existing = files.prepare_incoming(str(tmp_path / "s"), UUID)
    files.forget_incoming(str(tmp_path / "s"), UUID, existing, keep=False)
    assert _entries(shared) == [files.CONSOLE_LOG]

    kept = files.prepare_incoming(str(tmp_path / "k"), UUID)
    files.forget_incoming(str(tmp_path / "k"), UUID, kept, keep=True)
    assert _entries(tmp_path / "k" / UUID) == []
    # Without migrate_data (an older source): the directory goes, as before.
    files.forget_incoming(str(tmp_path / "k"), UUID, None, keep=False)
    assert not (tmp_path / "k" / UUID).exists()
