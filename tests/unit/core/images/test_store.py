"""The image store: streamed writes with size and hashes, content checks, and no
partial file left behind whatever fails."""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path

import pytest

from nubis.core import exception
from nubis.core.images import store as image_store
from nubis.core.images.store import Store


def qcow2(virtual_size: int) -> bytes:
    header = bytearray(512)
    struct.pack_into(">4sIQIIQ", header, 0, b"QFI\xfb", 3, 0, 0, 16, virtual_size)
    return bytes(header)


class Reads(io.RawIOBase):
    """A source that hands out *data* in reads of at most *most* bytes and counts the
    biggest read asked for; optionally fails after *fail_after* bytes."""

    def __init__(self, data: bytes, most: int = 1 << 30, fail_after: int | None = None):
        self.data = memoryview(data)
        self.most = most
        self.fail_after = fail_after
        self.given = 0
        self.biggest = 0

    def read(self, size: int = -1) -> bytes:
        self.biggest = max(self.biggest, size)
        if self.fail_after is not None and self.given >= self.fail_after:
            raise ConnectionResetError("client went away")
        n = min(size if size >= 0 else len(self.data), self.most)
        chunk = bytes(self.data[self.given : self.given + n])
        self.given += len(chunk)
        return chunk


def test_write_streams_in_chunks_and_hashes(tmp_path: Path) -> None:
    data = os.urandom(5 * image_store.CHUNK + 123)
    source = Reads(data)
    stored = Store(str(tmp_path)).write("img", source)
    assert stored.size == len(data) and stored.disk_format == "raw"
    assert stored.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert stored.os_hash_value == hashlib.sha512(data).hexdigest()
    assert source.biggest == image_store.CHUNK  # never asked for the whole body
    assert (tmp_path / "img").read_bytes() == data
    assert (tmp_path / "img").stat().st_mode & 0o777 == image_store.IMAGE_FILE_MODE
    assert sorted(os.listdir(tmp_path)) == ["img"]


def test_short_reads_are_fine(tmp_path: Path) -> None:
    data = qcow2(1 << 30) + b"\0" * 10_000
    stored = Store(str(tmp_path)).write("img", Reads(data, most=7), expected_format="qcow2")
    assert (stored.disk_format, stored.virtual_size, stored.size) == ("qcow2", 1 << 30, len(data))


@pytest.mark.parametrize(
    ("source", "kwargs", "error", "words"),
    [
        (Reads(b"x" * 1001), {"max_size": 1000}, exception.ImageTooLarge, "max_image_size"),
        (Reads(b"x" * 2048), {"expected_format": "qcow2"}, exception.InvalidImage, "is raw"),
        (Reads(qcow2(1 << 20)), {"expected_format": "raw"}, exception.InvalidImage, "is qcow2"),
        (Reads(b"QFI\xfb\0\0"), {}, exception.InvalidImage, "truncated"),
        (Reads(b"x" * 5000, most=1000, fail_after=3000), {}, ConnectionResetError, "went away"),
    ],
)
def test_failures_leave_no_file(
    tmp_path: Path, source: Reads, kwargs: dict, error: type, words: str
) -> None:
    with pytest.raises(error, match=words):
        Store(str(tmp_path)).write("img", source, **kwargs)
    assert os.listdir(tmp_path) == []


def test_an_existing_image_file_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "img").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        Store(str(tmp_path)).write("img", Reads(b"new"))
    assert (tmp_path / "img").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["img"]


def test_read_and_remove(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    data = os.urandom(image_store.CHUNK * 2 + 5)
    store.write("img", Reads(data))
    chunks = list(store.read("img"))
    assert [len(c) for c in chunks] == [image_store.CHUNK, image_store.CHUNK, 5]
    assert b"".join(chunks) == data
    store.remove("img")
    store.remove("img")  # absent is fine
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        store.read("img")


def test_write_produced_hashes_checks_and_renames(tmp_path: Path) -> None:
    data = qcow2(1 << 30) + os.urandom(3 * image_store.CHUNK)
    seen: list[str] = []

    def produce(path: str) -> None:
        seen.append(path)
        assert os.path.getsize(path) == 0  # reserved empty, mode 0640
        assert os.stat(path).st_mode & 0o777 == image_store.IMAGE_FILE_MODE
        with open(path, "wb") as f:  # a tool truncating and writing the file itself
            f.write(data)

    stored = Store(str(tmp_path)).write_produced("snap", produce, expected_format="qcow2")
    assert seen == [str(tmp_path / "snap.part")]
    assert (stored.size, stored.disk_format, stored.virtual_size) == (len(data), "qcow2", 1 << 30)
    assert stored.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert stored.os_hash_value == hashlib.sha512(data).hexdigest()
    assert sorted(os.listdir(tmp_path)) == ["snap"]
    assert (tmp_path / "snap").stat().st_mode & 0o777 == image_store.IMAGE_FILE_MODE


@pytest.mark.parametrize(
    ("content", "kwargs", "error"),
    [
        (b"raw bytes", {"expected_format": "qcow2"}, exception.InvalidImage),
        (b"QFI\xfb\0", {}, exception.InvalidImage),
        (None, {}, OSError),
    ],
)
def test_write_produced_failures_leave_no_file(
    tmp_path: Path, content: bytes | None, kwargs: dict, error: type
) -> None:
    def produce(path: str) -> None:
        if content is None:
            raise OSError("qemu-img failed")
        Path(path).write_bytes(content)

    with pytest.raises(error):
        Store(str(tmp_path)).write_produced("snap", produce, **kwargs)
    assert os.listdir(tmp_path) == []


def test_write_produced_refuses_a_write_under_way(tmp_path: Path) -> None:
    (tmp_path / "snap.part").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        Store(str(tmp_path)).write_produced("snap", lambda path: None)
    assert (tmp_path / "snap.part").read_bytes() == b"someone else's"


def test_mark_active_takes_what_was_stored(tmp_path: Path) -> None:
    class Record:
        status = "saving"

    stored = Store(str(tmp_path)).write("img", Reads(b"x" * 2048))
    record = Record()
    image_store.mark_active(record, stored)
    assert vars(record) == {
        "status": "active",
        "disk_format": "raw",
        "size": 2048,
        "virtual_size": 2048,
        "checksum": stored.checksum,
        "os_hash_algo": "sha512",
        "os_hash_value": stored.os_hash_value,
    }
