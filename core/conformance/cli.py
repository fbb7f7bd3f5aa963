"""``nubis-conformance``: run the conformance kit, or build the support matrix.

::

    nubis-conformance [--namespace NS] [--plugin NAME] [--config-file F] [--environment M]
                      [--json-report PATH] [--report-dir DIR] [--junit-xml PATH]
                      [--require-environment] [--allow-incomplete] [-- PYTEST-ARGS...]
    nubis-conformance matrix REPORT... [--header FILE] (-o OUT | --check OUT)

Running resolves each plugin through the entry point production loads and runs its
namespace's suite in pytest (in this process, in an empty directory, so nothing but
the kit is collected; conftest.py files of the current directory do not apply). Exit
status: 0 passed (skips for undeclared capabilities and waived failures included),
1 a failure -- or the verdict ``incomplete``: a declared capability or a required test
that nothing exercised (a target without the extra a test needs, a missing server, a
``-k`` that left tests out), unless ``--allow-incomplete`` accepts it; the summary
says which test, why, and the extra that would exercise it -- 2 bad arguments or
pytest missing (the kit's run-time requirement: ``pip install 'nubis[conformance]'``);
``matrix --check`` exits 1 when OUT differs from what the reports give.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nubis.core import plugins

#: What to install when pytest, which runs the suites, is missing.
INSTALL_HINT = "pip install 'nubis[conformance]'"


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nubis-conformance",
        description="Run the nubis conformance suites against installed plugins "
        "(every installed plugin of every namespace when none is named). "
        "'nubis-conformance matrix --help' for the support matrix.",
    )
    parser.add_argument(
        "--namespace",
        choices=[ns.name for ns in plugins.NAMESPACES],
        metavar="NS",
        help="the plugin namespace (e.g. nubis.virt); default: every namespace",
    )
    parser.add_argument("--plugin", metavar="NAME", help="the plugin's entry point name")
    parser.add_argument("--config-file", metavar="FILE", help="oslo.config file for the plugin")
    parser.add_argument(
        "--environment",
        action="append",
        default=[],
        metavar="MODULE",
        help="an environment module (importable from the current directory) that "
        "returns the plugins' targets, for one not registered under the entry point "
        "group nubis.conformance.environments (repeatable)",
    )
    parser.add_argument("--json-report", metavar="PATH", help="write the JSON report here")
    parser.add_argument("--report-dir", metavar="DIR", help="one JSON report per plugin here")
    parser.add_argument("--junit-xml", metavar="PATH", help="write JUnit XML here")
    parser.add_argument(
        "--require-environment",
        action="store_true",
        help="fail instead of skipping tests whose environment (server, peer) is missing",
    )
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 although a declared capability or a required test was not exercised "
        "(verdict 'incomplete'); a certification run never passes this",
    )
    parser.add_argument("pytest_args", nargs="*", help="after '--': more pytest arguments")
    return parser


def _matrix_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nubis-conformance matrix",
        description="Build the support matrix (Markdown) from conformance JSON reports.",
    )
    parser.add_argument("reports", nargs="+", metavar="REPORT", help="JSON report files")
    parser.add_argument(
        "--header",
        metavar="FILE",
        help="Markdown to put above the tables instead of the default header (which "
        "names the reports' distributions and how the page is regenerated)",
    )
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="OUT", help="write the matrix to OUT")
    out.add_argument("--check", metavar="OUT", help="exit 1 when OUT is not up to date")
    return parser


def selection(namespace: str | None, plugin: str | None) -> str:
    """The pytest plugin's selection for the command line's --namespace/--plugin."""
    if plugin and not namespace:
        raise ValueError("--plugin needs --namespace (a name is only unique within one)")
    if namespace and plugin:
        plugins.ensure_installed(namespace, plugin, "--plugin")
        return f"{namespace}:{plugin}"
    return namespace or "all"


def run(argv: Sequence[str]) -> int:
    args = _run_parser().parse_args(argv)
    try:
        import pytest
    except ImportError:
        print(
            f"nubis-conformance: the kit runs its suites in pytest, which is not installed; "
            f"install it with {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    try:
        sel = selection(args.namespace, args.plugin)
    except Exception as exc:  # PluginNotFound or ValueError: one line, exit 2
        print(f"nubis-conformance: {exc}", file=sys.stderr)
        return 2
    if args.config_file and not Path(args.config_file).is_file():
        print(f"nubis-conformance: --config-file {args.config_file}: no such file", file=sys.stderr)
        return 2
    if args.report_dir:
        from nubis.core.conf.paths import directory_problem

        problem = directory_problem(args.report_dir)
        if problem:
            print(f"nubis-conformance: --report-dir: {problem}", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="nubis-conformance-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        # Library deprecation noise would bury the conformance summary.
        ini.write_text("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
        pytest_args = [
            "-c",
            str(ini),
            "--rootdir",
            tmp,
            "-p",
            "no:cacheprovider",
            "--nubis-conformance",
            sel,
        ]
        if args.config_file:
            pytest_args += ["--nubis-config-file", str(Path(args.config_file).resolve())]
        if args.json_report:
            pytest_args += ["--nubis-report-json", str(Path(args.json_report).resolve())]
        if args.report_dir:
            pytest_args += ["--nubis-report-dir", str(Path(args.report_dir).resolve())]
        if args.junit_xml:
            pytest_args += ["--junitxml", str(Path(args.junit_xml).resolve())]
        if args.require_environment:
            pytest_args.append("--nubis-require-environment")
        if args.allow_incomplete:
            pytest_args.append("--nubis-allow-incomplete")
        if args.environment and "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        for module in args.environment:
            pytest_args += ["-p", module]
        pytest_args += [*args.pytest_args, tmp]
        # Node ids are shown relative to the current directory: make them short.
        here = os.getcwd()
        os.chdir(tmp)
        try:
            code = int(pytest.main(pytest_args))
        finally:
            os.chdir(here)
    if code in (0, 1):
        return code
    return 1 if code != 4 else 2  # 4: pytest usage error


def matrix(argv: Sequence[str]) -> int:
    from nubis.core.conformance import matrix as matrix_

    args = _matrix_parser().parse_args(argv)
    try:
        header = Path(args.header).read_text() if args.header else None
        text = matrix_.render_files((Path(p) for p in args.reports), header)
    except OSError as exc:
        print(f"nubis-conformance matrix: --header {args.header}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"nubis-conformance matrix: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text)
        return 0
    current = Path(args.check).read_text() if Path(args.check).is_file() else ""
    if current != text:
        print(
            f"nubis-conformance matrix: {args.check} is stale; regenerate it with "
            f"nubis-conformance matrix {' '.join(args.reports)}"
            f"{' --header ' + args.header if args.header else ''} -o {args.check}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["matrix"]:
        return matrix(argv[1:])
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
