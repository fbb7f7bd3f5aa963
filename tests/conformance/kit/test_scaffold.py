"""``nubis-manage plugins new``: a package for every namespace, run through the kit.

Each generated package is made importable the way an installed one is (its ``src``
on sys.path with a ``*.dist-info`` carrying the entry points of its pyproject.toml)
and its own ``tests/`` run in a pytester session -- exactly what ``pytest`` in the
package's folder does. The packages with an implementation pass; the skeletons fail,
naming what to write. One package is really pip-installed (editable, into a virtualenv
layered on this one) and run through the ``nubis-conformance`` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from nubis.core import plugins
from nubis.core.conformance import scaffold
from tests.fixtures.plugin_dist import make_distribution, on_path

#: The plugin name used for every namespace (a scheme-safe name, for transports).
NAME = "cfscaf"
MANAGE = str(Path(sys.executable).with_name("nubis-manage"))


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MANAGE, "--config-file", os.devnull, *args], capture_output=True, text=True, timeout=60
    )


def generate(namespace: str, directory: Path, name: str = NAME) -> scaffold.Package:
    package = scaffold.files(namespace, name)
    scaffold.write(package, directory)
    return package


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """install(directory) makes a generated package importable, as if pip-installed."""
    monkeypatch.delenv("NUBIS_REQUIRE_SERVERS", raising=False)
    stack: list[object] = []

    def install(directory: Path) -> None:
        project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
        make_distribution(directory / "src", project["name"], {}, project["entry-points"])
        manager = on_path(directory / "src")
        manager.__enter__()
        stack.append(manager)

    yield install
    while stack:
        stack.pop().__exit__(None, None, None)  # type: ignore[attr-defined]


def run_package_tests(pytester: pytest.Pytester, directory: Path) -> pytest.RunResult:
    return pytester.runpytest(str(directory / "tests"), "-p", "no:cacheprovider", "-rs")


HONEST = [
    "nubis.scheduler.filters",
    "nubis.scheduler.weighers",
    "nubis.periodic_tasks",
    "nubis.indirection",
    "nubis.api.auth",
    "nubis.servicegroup",
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("namespace", HONEST)
def test_a_generated_plugin_passes_the_kit(
    namespace: str, pytester: pytest.Pytester, installed: object, tmp_path: Path
) -> None:
    directory = tmp_path / "pkg"
    package = generate(namespace, directory)
    installed(directory)  # type: ignore[operator]
    assert (
        plugins.contract_problems(plugins.namespace(namespace), plugins.load_one(namespace, NAME))
        == []
    )
    result = run_package_tests(pytester, directory)
    out = result.stdout.str()
    assert result.ret == 0, out[-3000:]
    assert f"{namespace}:{NAME} ({package.dist} 0.1.0): passed" in out
    assert "verdict: passed" in out


SKELETONS = {
    "nubis.virt": [
        "cfscaf.spawn() raised NotImplementedError (spawn(): not written yet); the contract*",
        "*NOT IMPLEMENTED (raised NotImplementedError): *get_info()*spawn()*",
    ],
    "nubis.managers": [
        "*SchedulerAPI.select_destinations() at cap 1.0 sends select_destinations(); "
        "CfscafManager has no such method*",
    ],
    "oslo.messaging.drivers": [
        "*NOT IMPLEMENTED (raised NotImplementedError): *listen()*",
    ],
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("namespace", sorted(SKELETONS))
def test_a_generated_skeleton_loads_and_fails_naming_what_to_write(
    namespace: str, pytester: pytest.Pytester, installed: object, tmp_path: Path
) -> None:
    directory = tmp_path / "pkg"
    generate(namespace, directory)
    installed(directory)  # type: ignore[operator]
    # It keeps its contract (every method, the checked signatures): only the kit fails it.
    assert (
        plugins.contract_problems(plugins.namespace(namespace), plugins.load_one(namespace, NAME))
        == []
    )
    result = run_package_tests(pytester, directory)
    assert result.ret == 1
    result.stdout.fnmatch_lines([*SKELETONS[namespace], "verdict: failed"], consecutive=False)


def test_every_namespace_has_a_scaffold() -> None:
    assert set(scaffold.KINDS) == {ns.name for ns in plugins.NAMESPACES}


def test_generated_code_is_clean(tmp_path: Path) -> None:
    for ns in plugins.NAMESPACES:
        generate(ns.name, tmp_path / ns.name)
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("ruff")),
            "check",
            "--isolated",
            "--select",
            "E,F,W,B,UP",
            "--line-length",
            "100",
            "--target-version",
            "py311",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_command_writes_a_package_and_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    target = tmp_path / "filter"
    args = ["plugins", "new", "nubis.scheduler.filters", "roomy", "--dir", str(target)]
    done = manage(*args)
    assert done.returncode == 0, done.stderr
    assert (
        "nubis.scheduler.filters:roomy, a scheduler filter, distribution nubis-filter-roomy"
        in done.stdout
    )
    assert "nubis-conformance --namespace nubis.scheduler.filters --plugin roomy" in done.stdout
    assert (target / "src/nubis_filter_roomy/filter.py").is_file()
    # The same directory again, a name already installed, a bad name: one line each, exit 2.
    for argv, message in (
        (args, "exists and is not an empty directory"),
        (
            ["plugins", "new", "nubis.virt", "fake", "--dir", str(tmp_path / "x")],
            "a plugin 'fake' is already installed in nubis.virt (nubis 0.1.0)",
        ),
        (
            ["plugins", "new", "oslo.messaging.drivers", "my_bus", "--dir", str(tmp_path / "y")],
            "transport name 'my_bus' is the scheme of transport_url",
        ),
    ):
        done = manage(*argv)
        assert done.returncode == 2, done.stdout
        err = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert len(err) == 1 and message in err[0], done.stderr


@pytest.mark.timeout(300)
def test_a_generated_package_pip_installs_and_passes_nubis_conformance(tmp_path: Path) -> None:
    """The whole route a third party takes: generate, ``pip install -e``, the command.

    The virtualenv is a fresh one layered on this one (a .pth adds this virtualenv's
    site-packages), so the install touches nothing anyone else uses.
    """
    directory = tmp_path / "nubis-weigher-cfscaf"
    generate("nubis.scheduler.weighers", directory)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "_nubis_base.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUBIS_REQUIRE_SERVERS")}
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         "-e", str(directory)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    listed = subprocess.run(
        [str(python), "-m", "nubis.core.cmd.manage", "plugins", "list", "--namespace",
         "nubis.scheduler.weighers"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert "cfscaf" in listed.stdout and "nubis-weigher-cfscaf 0.1.0" in listed.stdout
    run = subprocess.run(
        [str(python), "-m", "nubis.core.conformance.cli", "--namespace",
         "nubis.scheduler.weighers", "--plugin", "cfscaf"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "nubis.scheduler.weighers:cfscaf (nubis-weigher-cfscaf 0.1.0): passed" in run.stdout
