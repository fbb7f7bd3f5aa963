"""The generated parts of docs/plugin-author-guide.md, and how to regenerate them.

The guide's worked examples are the scaffold's output and its sample output comes
from real kit runs on scaffold packages. Each such block follows a marker line::

    <!-- generated: KIND ARGS... -->
    ```lang
    ...
    ```

KINDS: ``scaffold NAMESPACE NAME FILE`` (a file of ``nubis-manage plugins new``'s
package), ``new NAMESPACE NAME`` (what the command prints), ``run SAMPLE`` (the output
of a kit run, see :data:`SAMPLES`). tests/conformance/kit/test_guide.py checks that the
guide holds exactly this; after a change, regenerate the guide with::

    .venv/bin/python -m tests.conformance.kit.guide
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

from nubis.core.conformance import scaffold
from tests.fixtures.plugin_dist import make_distribution

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "plugin-author-guide.md"
MARKER = re.compile(r"^<!-- generated: (.+?) -->\n```([a-z]*)\n(.*?)^```\n", re.M | re.S)
TIMING = re.compile(r" in \d+\.\d+s\b")
CONFORMANCE = str(Path(sys.executable).with_name("nubis-conformance"))


@contextlib.contextmanager
def installed(
    namespace: str, name: str, edit: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """A scaffold package of plugin *name*, importable as if pip-installed (by the
    processes :func:`_kit` starts: its ``src`` folder holds the dist-info)."""
    with tempfile.TemporaryDirectory(prefix="nubis-guide-") as tmp:
        directory = Path(tmp) / "pkg"
        scaffold.write(scaffold.files(namespace, name), directory)
        if edit is not None:
            edit(directory)
        project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
        make_distribution(directory / "src", project["name"], {}, project["entry-points"])
        yield directory


def _kit(directory: Path, namespace: str, name: str, *args: str) -> str:
    """The output of ``nubis-conformance --namespace NS --plugin NAME ARGS`` run as its
    own process with the package in *directory* installed: the sample must not depend
    on what the calling process imported or cached before (it is a test too)."""
    # pytest's report depends on these (CI: untruncated summary lines; COLUMNS: width).
    dropped = {"NUBIS_REQUIRE_SERVERS", "CI", "BUILD_NUMBER", "COLUMNS", "PYTEST_ADDOPTS"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["COLUMNS"] = "80"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(directory / "src"), env.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        [CONFORMANCE, "--namespace", namespace, "--plugin", name, *args],
        capture_output=True,
        text=True,
        cwd=directory,
        env=env,
        timeout=600,
    )
    return done.stdout


def _from(text: str, start: str) -> str:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    return "\n".join(lines[first:]) + "\n"


def _run_filter() -> str:
    with installed("nubis.scheduler.filters", "roomy") as directory:
        return _from(_kit(directory, "nubis.scheduler.filters", "roomy"), "nubis-conformance/")


def _drop_service(directory: Path) -> None:
    path = next(directory.glob("src/*/conformance.py"))
    text = path.read_text()
    path.write_text(text.replace('extras={"service": "compute"}', "extras={}"))


def _run_periodic_without_service() -> str:
    with installed("nubis.periodic_tasks", "guest_count", _drop_service) as directory:
        out = _kit(directory, "nubis.periodic_tasks", "guest_count")
    return _from(out, "nubis-conformance/")


def _break_filter(directory: Path) -> None:
    path = next(directory.glob("src/*/filter.py"))
    text = path.read_text().replace(
        "def host_passes(self, host_state: HostState, spec: Any, /) -> bool:",
        "def host_passes(self, host_state: HostState) -> bool:",
    )
    text = text.replace(
        '    spec_fields = ("memory_mb",)',
        '    spec_fields = ("memory_mb",)\n    capabilities = {"fast": True}',
    )
    path.write_text(text)


def _run_broken_filter() -> str:
    with installed("nubis.scheduler.filters", "roomy", _break_filter) as directory:
        out = _kit(directory, "nubis.scheduler.filters", "roomy")
    lines = [line for line in out.splitlines() if "CONTRACT" in line]
    return "\n".join(lines) + "\n...\n" + _from(out, "nubis.scheduler.filters:roomy (")


def _run_virt_skeleton() -> str:
    with installed("nubis.virt", "myhv") as directory:
        out = _kit(directory, "nubis.virt", "myhv")
    return _from(out, "nubis.virt:myhv (")


#: Sample runs by name: what the guide shows of each.
SAMPLES: dict[str, Callable[[], str]] = {
    "filter": _run_filter,
    "periodic-without-service": _run_periodic_without_service,
    "broken-filter": _run_broken_filter,
    "virt-skeleton": _run_virt_skeleton,
}


def _new(namespace: str, name: str) -> str:
    with tempfile.TemporaryDirectory(prefix="nubis-guide-") as tmp:
        manage = str(Path(sys.executable).with_name("nubis-manage"))
        done = subprocess.run(
            [manage, "--config-file", os.devnull, "plugins", "new", namespace, name],
            capture_output=True,
            text=True,
            cwd=tmp,
            timeout=60,
            check=True,
        )
    return f"$ nubis-manage plugins new {namespace} {name}\n{done.stdout}"


def block(spec: str) -> str:
    """The text of the generated block *spec* (the marker's arguments)."""
    kind, *args = spec.split()
    if kind == "scaffold":
        namespace, name, file = args
        return scaffold.files(namespace, name).files[file]
    if kind == "new":
        return _new(*args)
    if kind == "run":
        return SAMPLES[args[0]]()
    raise ValueError(f"unknown generated block {spec!r}")


def normalized(text: str) -> str:
    """*text* with what changes from run to run (durations) left out."""
    return TIMING.sub(" in N.NNs", text)


def render(guide: str) -> str:
    """*guide* with every generated block regenerated."""

    def replace(match: re.Match[str]) -> str:
        spec, lang = match.group(1), match.group(2)
        return f"<!-- generated: {spec} -->\n```{lang}\n{block(spec)}```\n"

    return MARKER.sub(replace, guide)


def specs(guide: str) -> list[tuple[str, str]]:
    """``(spec, block text)`` of every generated block of *guide*."""
    return [(m.group(1), m.group(3)) for m in MARKER.finditer(guide)]


if __name__ == "__main__":
    GUIDE.write_text(render(GUIDE.read_text()))
    print(f"regenerated {len(specs(GUIDE.read_text()))} blocks of {GUIDE}")
