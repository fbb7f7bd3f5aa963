"""The binaries' common entry: a process whose services stopped exits within a bound,
whatever threads are left behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A process whose services have stopped, with a thread left in a call that will not end
# soon: a concurrent.futures worker started by *creator* (a request handler thread is a
# daemon, so the workers it starts are daemons too). The interpreter's exit joins every
# such worker, daemon or not.
SCRIPT = textwrap.dedent(
    """
    import concurrent.futures, sys, threading, time
    from nubis.core.cmd import common

    common.EXIT_GRACE_SECONDS = 1.0
    executor = concurrent.futures.ThreadPoolExecutor(1)

    def submit():
        executor.submit(time.sleep, 120)

    creator = threading.Thread(target=submit, daemon={daemon})
    creator.start()
    creator.join()
    executor.shutdown(wait=False, cancel_futures=True)
    sys.exit(common.exit_promptly(3, abandoned=False))
    """
)


@pytest.mark.parametrize("daemon", [True, False], ids=["from-a-daemon", "from-main"])
def test_a_worker_stuck_in_a_call_does_not_hold_the_exit(daemon: bool) -> None:
    # The worker sleeps 120 s; the exit comes after the 1 s grace (and the imports).
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(daemon=daemon)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the process was still running 30 s after exit_promptly")
    assert done.returncode == 3, done.stderr
    assert "threads still running 1 s after the stop; exiting" in done.stderr, done.stderr


def test_a_process_with_no_thread_left_exits_without_the_backstop() -> None:
    script = (
        "import sys\nfrom nubis.core.cmd import common\n"
        "sys.exit(common.exit_promptly(0, abandoned=False))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "threads still running" not in done.stderr, done.stderr
