"""The one reader of disk image facts: qcow2 headers and raw files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from nubis.core.virt import disk_image
from nubis.plugins.virt.libvirt import qcow2


def _qcow2_header(size: int, backing_offset: int = 0, crypt: int = 0) -> bytes:
    return struct.pack(">4sIQIIQI", b"QFI\xfb", 3, backing_offset, 0, 16, size, crypt)


def test_raw_file_is_its_own_size(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.write_bytes(b"\0" * 4096)
    assert disk_image.inspect(str(raw)) == disk_image.DiskImageInfo("raw", 4096)
    assert disk_image.image_format(str(raw)) == "raw"
    assert disk_image.virtual_size(str(raw)) == 4096


def test_qcow2_overlay_reports_header_size_and_backing_file(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.write_bytes(b"\0" * 1024)
    overlay = tmp_path / "overlay"
    qcow2.create(str(overlay), 3 * 1024**3, str(base), "raw")
    info = disk_image.inspect(str(overlay))
    assert info == disk_image.DiskImageInfo("qcow2", 3 * 1024**3, has_backing_file=True)
    assert disk_image.image_format(str(overlay)) == "qcow2"


def test_encrypted_qcow2_is_flagged(tmp_path: Path) -> None:
    image = tmp_path / "enc"
    image.write_bytes(_qcow2_header(1024**2, crypt=2) + b"\0" * 64)
    assert disk_image.inspect(str(image)).encrypted


def test_truncated_qcow2_header_is_refused_by_inspect_and_raw_for_size(tmp_path: Path) -> None:
    image = tmp_path / "short"
    image.write_bytes(_qcow2_header(1024**2)[:20])
    with pytest.raises(disk_image.TruncatedImage, match="truncated"):
        disk_image.inspect(str(image))
    assert disk_image.virtual_size(str(image)) == 20
