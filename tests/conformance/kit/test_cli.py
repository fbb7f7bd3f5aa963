"""nubis-conformance without pytest: one line naming the extra to install, exit 2.

pytest is the kit's run-time requirement (the ``conformance`` extra); it is installed
wherever these tests run, so the child process below hides it (``sys.modules['pytest']
= None`` makes ``import pytest`` fail as it would in an install without it).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import sys

    sys.modules["pytest"] = None
    from nubis.core.conformance import cli

    sys.exit(cli.main(sys.argv[1:]))
    """
)


def run_without_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=60
    )


def test_a_run_without_pytest_names_the_extra_in_one_line() -> None:
    done = run_without_pytest("--namespace", "nubis.virt", "--plugin", "fake")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("nubis-conformance: ")
    assert "pytest" in line and "pip install 'nubis[conformance]'" in line


def test_the_matrix_needs_no_pytest(tmp_path) -> None:
    # Bad arguments still say what is wrong with them; the matrix never imports pytest.
    done = run_without_pytest("matrix", str(tmp_path / "missing.json"), "-o", "x.md")
    assert done.returncode == 2, done.stderr
    assert "not a readable JSON report" in done.stderr and "nubis[conformance]" not in done.stderr
