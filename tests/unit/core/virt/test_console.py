"""Reading a console log (bounded, decoded) and cutting it to its last lines as Nova
does."""

from __future__ import annotations

from pathlib import Path

import pytest

from nubis.core.virt import console
from nubis.core.virt.driver import MAX_CONSOLE_BYTES


def test_a_log_that_does_not_exist_reads_empty(tmp_path: Path) -> None:
    assert console.read_log_tail(str(tmp_path / "console.log")) == ""


def test_only_the_newest_bytes_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"old\n" * 100 + b"x" * MAX_CONSOLE_BYTES)
    reads: list[int] = []
    real_open = open

    def counting_open(*args, **kwargs):  # type: ignore[no-untyped-def]
        handle = real_open(*args, **kwargs)
        real_read = handle.read
        handle.read = lambda size=-1: reads.append(size) or real_read(size)
        return handle

    monkeypatch.setattr("builtins.open", counting_open)
    assert console.read_log_tail(str(log)) == "x" * MAX_CONSOLE_BYTES
    assert reads == [MAX_CONSOLE_BYTES]
    monkeypatch.undo()
    assert console.read_log_tail(str(log), limit=6) == "xxxxxx"
    log.write_bytes("café\n".encode())
    assert console.read_log_tail(str(log)) == "café\n"
    assert console.read_log_tail(str(log), limit=2) == "\ufffd\n"  # half a character


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (None, "a\nb\nc\n"),
        (-1, "a\nb\nc\n"),
        (0, ""),
        (1, ""),
        (2, "c\n"),
        (3, "b\nc\n"),
        (10, "a\nb\nc\n"),
    ],
)
def test_tail_lines_cuts_as_nova_does(length: int | None, expected: str) -> None:
    # Lines are what "\n" separates: the final newline leaves an empty last line.
    assert console.tail_lines("a\nb\nc\n", length) == expected
