"""State directories and files: checked for real before, created private."""

from __future__ import annotations

import os
import stat

import pytest

from nubis.core import exception
from nubis.core.conf import paths


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_directory_that_can_be_made_or_written_has_no_problem(tmp_path):
    assert paths.directory_problem(str(tmp_path)) is None
    assert paths.directory_problem(str(tmp_path / "new" / "deeper")) is None
    assert not (tmp_path / "new").exists()  # the check leaves nothing behind
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way(tmp_path):
    (tmp_path / "file").write_text("x")
    assert paths.directory_problem(str(tmp_path / "file")) == (
        f"{tmp_path}/file exists and is not a directory"
    )
    assert paths.directory_problem(str(tmp_path / "file" / "sub" / "dir")) == (
        f"cannot create {tmp_path}/file/sub/dir: {tmp_path}/file is not a directory"
    )


def test_proc_refuses_directories_even_to_root():
    problem = paths.directory_problem("/proc/nubis-test")
    assert problem is not None and problem.startswith("cannot create /proc/nubis-test: ")


def test_private_directory_and_file_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        paths.make_private_dir(str(tmp_path / "state"), "[DEFAULT] state_path")
        paths.create_private_file(str(tmp_path / "state" / "db"), "[database] connection")
    finally:
        os.umask(old)
    assert mode(tmp_path / "state") == 0o700
    assert mode(tmp_path / "state" / "db") == 0o600


def test_an_existing_directory_keeps_its_mode_and_a_file_is_tightened(tmp_path):
    (tmp_path / "state").mkdir(mode=0o755)
    (tmp_path / "state").chmod(0o755)
    (tmp_path / "state" / "db").write_text("data")
    (tmp_path / "state" / "db").chmod(0o644)
    paths.make_private_dir(str(tmp_path / "state"), "[DEFAULT] state_path")
    paths.create_private_file(str(tmp_path / "state" / "db"), "[database] connection")
    assert mode(tmp_path / "state") == 0o755
    assert mode(tmp_path / "state" / "db") == 0o600
    assert (tmp_path / "state" / "db").read_text() == "data"


def test_failures_are_one_line_naming_the_option(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(exception.ConfigurationError) as err:
        paths.make_private_dir(str(tmp_path / "file" / "state"), "[DEFAULT] state_path")
    assert str(err.value) == (
        f"[DEFAULT] state_path: cannot create {tmp_path}/file/state: {tmp_path}/file is not a "
        "directory"
    )
