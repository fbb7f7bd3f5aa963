"""The kit's own tests: pytester sessions against plugin distributions made here.

``plugin_dist(modules, entry_points)`` writes a throw-away distribution (as a third
party's would be installed: a ``*.dist-info`` with entry points) and puts it on
sys.path for the test; the kit then finds its plugins through the same entry points
production uses. Inner sessions run in this process (``pytester.runpytest``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core import objects
from tests.fixtures.plugin_dist import make_distribution, on_path

# pytester's in-process sessions drop every module they imported when they end. Were
# the object modules first imported inside one, the next session would re-import them
# as new modules while oslo's (process-wide) registry kept the old classes, and
# `objects.InstanceList` would exist or not by test order. Importing them here, outside
# any inner session, keeps one copy for the whole run.
objects.register_all()


@pytest.fixture
def plugin_dist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Path]]:
    # The inner sessions decide about environments themselves.
    monkeypatch.delenv("NUBIS_REQUIRE_SERVERS", raising=False)
    stack: list[Any] = []

    def install(
        modules: dict[str, str], entry_points: dict[str, dict[str, str]], name: str = "cf-test"
    ) -> Path:
        root = make_distribution(pytester.path / f"dist-{len(stack)}", name, modules, entry_points)
        manager = on_path(root)
        manager.__enter__()
        stack.append(manager)
        return root

    yield install
    while stack:
        stack.pop().__exit__(None, None, None)


def load_report(path: Path) -> dict[str, Any]:
    from nubis.core.conformance import report

    doc = json.loads(path.read_text())
    report.validate(doc)
    return doc


def target_of(doc: dict[str, Any], plugin: str, target: str | None = None) -> dict[str, Any]:
    (entry,) = [p for p in doc["plugins"] if p["plugin"] == plugin]
    return next(t for t in entry["targets"] if target is None or t["id"] == target)


def outcomes(doc: dict[str, Any], plugin: str) -> dict[str, str]:
    return {t["id"]: t["outcome"] for t in target_of(doc, plugin)["tests"]}
