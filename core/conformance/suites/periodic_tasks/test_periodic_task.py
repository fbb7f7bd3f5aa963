"""The periodic-task contract (nubis.core.periodic)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nubis.core import exception, periodic
from nubis.core.conformance import deployment
from nubis.core.conformance.suites.periodic_tasks.fixtures import Task

RUN_BOUND = 60.0  # a task run on an empty deployment that takes longer is stuck


def _bounded(func: Callable[[], Any], what: str) -> Any:
    """Run *func* in a thread; fail when it does not finish within RUN_BOUND seconds."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = func()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="nubis-cf-task", daemon=True)
    thread.start()
    thread.join(RUN_BOUND)
    if thread.is_alive():
        pytest.fail(f"{what} still running after {RUN_BOUND:.0f}s", pytrace=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def test_task_declares_its_schedule(nubis_task: Task) -> None:
    spec = periodic.spec_of(nubis_task.function)
    assert spec is not None, (
        "expected a task decorated with nubis.core.periodic.periodic_task, observed an "
        "undecorated function"
    )
    assert isinstance(spec.name, str) and spec.name, (
        f"expected a non-empty name, observed {spec.name!r}"
    )
    assert type(spec.run_immediately) is bool and type(spec.enabled) is bool, (
        f"expected bool run_immediately and enabled, observed {spec.run_immediately!r} "
        f"and {spec.enabled!r}"
    )
    assert isinstance(spec.spacing, float) and not math.isnan(spec.spacing), (
        f"expected a float spacing, observed {spec.spacing!r}"
    )
    if spec.enabled:
        assert 0 < spec.spacing < math.inf, (
            f"an enabled task: expected 0 < spacing < inf, observed {spec.spacing}"
        )


def test_task_given_a_manager_it_cannot_work_with_says_so(
    nubis_task: Task, nubis_conf: Any
) -> None:
    from nubis.core.context import get_admin_context
    from nubis.core.manager import Manager

    bare = Manager("cf-host", nubis_conf)  # no service, no drivers, nothing to work with
    try:
        _bounded(lambda: nubis_task.function(bare, get_admin_context()), "the task")
    except exception.NubisException as exc:
        assert str(exc).strip(), "the NubisException says nothing"
    except Exception as exc:  # noqa: BLE001 - the failure this test exists for
        pytest.fail(
            f"{nubis_task.run.label} given a manager it cannot work with raised "
            f"{type(exc).__name__}: {exc}; a task checks what it needs and raises a "
            "NubisException (e.g. ConfigurationError) that says what is wrong",
            pytrace=False,
        )


def test_task_runs_twice_on_its_service(
    nubis_task: Task, nubis_flags: Callable[..., None], tmp_path: Path
) -> None:
    run = nubis_task.run
    if nubis_task.service is None:
        run.missing(
            f"no service lists {run.subject.name} in its periodic_tasks, so the task was "
            "never run on one",
            extra="service",
        )
        return
    spec = periodic.spec_of(nubis_task.function)
    assert spec is not None
    nubis_flags(group=nubis_task.service, periodic_tasks=[run.subject.name])
    with deployment.embedded(nubis_flags, tmp_path) as cloud:
        if nubis_task.service != "conductor":
            cloud.start("conductor")
        service = cloud.start(nubis_task.service)
        names = [s.name for s, _call in service.manager.periodic_tasks()]
        mine = [call for s, call in service.manager.periodic_tasks() if s.name == spec.name]
        assert len(mine) == 1, (
            f"the {nubis_task.service} manager's periodic tasks: expected {spec.name} once, "
            f"observed {names}"
        )
        for which in ("first", "second"):
            try:
                _bounded(mine[0], f"{spec.name} ({which} run)")
            except Exception as exc:  # noqa: BLE001 - the failure this test exists for
                pytest.fail(
                    f"{run.label} on a real {nubis_task.service} service: expected the "
                    f"{which} run to end without an exception, observed "
                    f"{type(exc).__name__}: {exc}",
                    pytrace=False,
                )
