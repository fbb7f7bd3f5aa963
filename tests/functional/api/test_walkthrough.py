"""README.md's walkthrough ("The first ten minutes"), run as written: the ``sh`` blocks
of that section, in order, in one bash, against
a ``nubis-all-in-one`` started the way ``make run`` starts it.

The all-in-one runs in a scratch directory holding a copy of etc/nubis/all-in-one.conf
(with a free port for the API added, so that a developer's own all-in-one on 8774 is
not disturbed) and a link to this checkout's .venv; its state goes to that
directory's .nubis/.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.functional.api.conftest import wait_for
from tests.functional.api.test_auth_plugins import free_port

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
WALKTHROUGH_HEADING = "## The first ten minutes"
VENV = Path(sys.prefix)


def walkthrough() -> str:
    """The walkthrough section of the README (up to the next ``## `` heading)."""
    text = README.read_text()
    start = text.index(WALKTHROUGH_HEADING)
    end = text.find("\n## ", start + len(WALKTHROUGH_HEADING))
    return text[start : end if end != -1 else None]


def shell_blocks(markdown: str) -> list[str]:
    """The bodies of the ```sh blocks of *markdown*, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", markdown, flags=re.S | re.M)


def test_the_walkthrough_has_runnable_blocks() -> None:
    blocks = shell_blocks(walkthrough())
    assert len(blocks) >= 8
    assert any("user bootstrap" in block for block in blocks)
    assert any("server migrate --live-migration" in block for block in blocks)


@pytest.fixture
def all_in_one(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    (tmp_path / "etc" / "nubis").mkdir(parents=True)
    port = free_port()
    config = (ROOT / "etc/nubis/all-in-one.conf").read_text()
    (tmp_path / "etc/nubis/all-in-one.conf").write_text(f"{config}\n[api]\nport = {port}\n")
    (tmp_path / ".venv").symlink_to(VENV)
    log = open(tmp_path / "all-in-one.log", "wb")
    process = subprocess.Popen(
        [
            str(tmp_path / ".venv/bin/nubis-all-in-one"),
            "--config-file",
            "etc/nubis/all-in-one.conf",
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"nubis-all-in-one exited {process.returncode}: "
                f"{(tmp_path / 'all-in-one.log').read_text()[-3000:]}"
            )
        try:
            return requests.get(url + "/v2.1", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=90, what="the all-in-one's API")
        yield tmp_path, url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=60) == 0, (tmp_path / "all-in-one.log").read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
            shutil.rmtree(tmp_path / ".nubis", ignore_errors=True)


@pytest.mark.timeout(900)
def test_walkthrough_runs_verbatim(all_in_one: tuple[Path, str]) -> None:
    workdir, _url = all_in_one
    script = "\n".join(shell_blocks(walkthrough()))
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"},
    )
    transcript = done.stdout + done.stderr
    assert done.returncode == 0, transcript[-5000:]
    assert "users admin and demo are ready" in transcript
    assert "aio-compute-1" in transcript and "aio-compute-2" in transcript
    assert "demo-1" in transcript and "demo-2" in transcript
    assert "live migration is not supported" in transcript, transcript[-5000:]
    assert "refused, as expected" in transcript
