"""Measure nubis-api with Tempest's compute API tests.

Run from the checkout's root with nubis's own environment::

    .venv/bin/python -m tests.tempest.run_tempest [--regex R] [--concurrency 2]

It creates (or reuses) a Tempest virtualenv outside .venv (``--tempest-venv``, default
/var/tmp/nubis-tempest-venv, Tempest ``TEMPEST_VERSION``), starts a private
``nubis-all-in-one`` (or uses the one given with ``--url`` and ``--nubis-config``),
provisions accounts, images and flavors in it, writes a Tempest workspace under
``--workdir``, runs ``tempest run --regex '^tempest\\.api\\.compute'`` and prints
passed / failed / skipped, the failures by cause and the skips by reason.

Exit status: 0 when every failure and every skip is listed as such in expectations.txt,
1 when one is not (a regression, or a skip nobody reviewed), 2 when the run itself could
not be made. Listed tests that pass now are printed: delete their lines. ``--from-last``
re-reads the workspace's last run instead of running Tempest again; ``--write-draft
PATH`` writes every failure and skip as an expectations line (new ones marked
``REVIEW:``) for a human to sort by cause.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from tests.tempest import deployment, results, tempest_config

TEMPEST_VERSION = "47.0.0"
HERE = Path(__file__).resolve().parent
DEFAULT_REGEX = r"^tempest\.api\.compute"
LISTED = "listed.txt"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_tempest", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tempest-venv", type=Path, default=Path("/var/tmp/nubis-tempest-venv"))
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/var/tmp/nubis-tempest-work"),
        help="the Tempest workspace and the private all-in-one's state",
    )
    parser.add_argument("--url", help="a running nubis-api to measure instead of starting one")
    parser.add_argument(
        "--nubis-config", type=Path, help="with --url: that deployment's config (for nubis-manage)"
    )
    parser.add_argument("--region", default="RegionOne", help="with --url: [api] region_name")
    parser.add_argument("--regex", default=DEFAULT_REGEX)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--dynamic-credentials",
        action="store_true",
        help="let Tempest create its projects and users (needs the identity API to manage "
        "them); default: the pre-provisioned accounts",
    )
    parser.add_argument("--expected", type=Path, default=HERE / "expectations.txt")
    parser.add_argument(
        "--from-last",
        action="store_true",
        help="report the workspace's last run again; run nothing",
    )
    parser.add_argument(
        "--write-draft",
        type=Path,
        metavar="PATH",
        help="write every failure as an expectations line to PATH",
    )
    args = parser.parse_args(argv)
    if bool(args.url) != bool(args.nubis_config):
        parser.error(
            "--url and --nubis-config go together (nubis-manage needs the config "
            "of the deployment at --url)"
        )
    if args.concurrency < 1:
        parser.error(f"--concurrency must be at least 1, got {args.concurrency}")
    return args


def ensure_tempest(venv: Path) -> Path:
    """The Tempest package directory in *venv*, installing TEMPEST_VERSION when needed."""
    python = venv / "bin" / "python"

    def installed() -> str | None:
        if not python.exists():
            return None
        done = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('tempest'))"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else None

    if installed() != TEMPEST_VERSION:
        print(f"installing tempest {TEMPEST_VERSION} into {venv} ...", flush=True)
        if not python.exists():
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"tempest=={TEMPEST_VERSION}"],
            check=True,
        )
    where = subprocess.run(
        [str(python), "-c", "import os, tempest; print(os.path.dirname(tempest.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(where.stdout.strip())


def list_tests(venv: Path, workspace: Path, regex: str) -> list[str]:
    """The tests *regex* selects (creating the workspace's stestr repository); also
    written to listed.txt in the workspace for --from-last."""
    if not (workspace / ".stestr").exists():
        subprocess.run(
            [str(venv / "bin" / "stestr"), "init"], cwd=workspace, check=True, capture_output=True
        )
    done = subprocess.run(
        [str(venv / "bin" / "stestr"), "list", regex],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"stestr list failed: {done.stderr.strip()[-2000:]}")
    listed = [line for line in done.stdout.splitlines() if line.startswith("tempest.")]
    (workspace / LISTED).write_text("\n".join(listed) + "\n")
    return listed


def run_tempest(venv: Path, workspace: Path, regex: str, concurrency: int) -> float:
    """Run Tempest in *workspace*; its console output goes to tempest-run.log there."""
    log = workspace / "tempest-run.log"
    print(f"running tempest (concurrency {concurrency}); console output in {log}", flush=True)
    started = time.monotonic()
    with open(log, "w") as out:
        subprocess.run(
            [
                str(venv / "bin" / "tempest"),
                "run",
                "--regex",
                regex,
                "--concurrency",
                str(concurrency),
            ],
            cwd=workspace,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,  # failing tests are the measurement; the results say what ran
        )
    return time.monotonic() - started


def last_results(venv: Path, workspace: Path) -> list[results.Result]:
    stream = subprocess.run(
        [str(venv / "bin" / "stestr"), "last", "--subunit"],
        cwd=workspace,
        capture_output=True,
        check=False,
    )
    if not stream.stdout:
        raise SystemExit(f"no Tempest run in {workspace}: {stream.stderr.decode()[-2000:]}")
    summary = subprocess.run(
        [str(venv / "bin" / "python"), str(HERE / "subunit_summary.py")],
        input=stream.stdout,
        capture_output=True,
        check=True,
    )
    return results.load(summary.stdout.decode().splitlines())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        expected = results.read_expectations(args.expected)
    except (OSError, results.ExpectationsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    workspace = args.workdir.resolve() / "workspace"
    tempest_dir = ensure_tempest(args.tempest_venv)
    print(f"tempest {TEMPEST_VERSION} in {args.tempest_venv}")
    seconds = None
    if not args.from_last:
        bin_dir = Path(sys.executable).parent
        aio = None
        if args.url:
            url, config, region = args.url.rstrip("/"), args.nubis_config, args.region
        else:
            aio = deployment.start_all_in_one(bin_dir, args.workdir.resolve())
            url, config, region = aio.url, aio.config, "RegionOne"
            print(f"nubis-all-in-one on {url} (log {aio.log})", flush=True)
        try:
            provisioned = deployment.provision(
                bin_dir,
                config,
                url,
                args.workdir.resolve(),
                tempest_config.known_passwords(workspace),
            )
            print(
                f"compute microversions {provisioned.min_microversion} to "
                f"{provisioned.max_microversion}; {len(provisioned.accounts)} accounts"
            )
            tempest_config.write_workspace(
                workspace, url, provisioned, tempest_dir, region, args.dynamic_credentials
            )
            list_tests(args.tempest_venv, workspace, args.regex)
            seconds = run_tempest(args.tempest_venv, workspace, args.regex, args.concurrency)
        finally:
            if aio:
                aio.stop()
    found = last_results(args.tempest_venv, workspace)
    if not found:
        print("error: Tempest reported no result; see tempest-run.log", file=sys.stderr)
        return 2
    try:
        listed = (workspace / LISTED).read_text().split()
    except FileNotFoundError:
        print(f"error: no {LISTED} in {workspace}: run without --from-last", file=sys.stderr)
        return 2
    found = results.expand(found, listed)
    comparison = results.report(found, expected, seconds)
    if args.write_draft:
        args.write_draft.write_text(results.draft(found, expected))
        print(f"draft expectations written to {args.write_draft}")
    return 0 if comparison.ok else 1


if __name__ == "__main__":
    sys.exit(main())
