"""The project's own static checks, run as part of the suite: ruff, mypy, the
import-linter contracts (core never imports plugins; plugins never import each other)
and the staleness of the generated sample configuration."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_clean():
    result = run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean():
    result = run(str(BIN / "mypy"), "core", "plugins")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean_on_contrib_packages():
    sources = sorted(str(p) for p in (ROOT / "contrib").glob("*/src/*") if p.is_dir()
                     and not p.name.endswith(".egg-info"))
    assert sources, "no contrib packages found"
    result = run(str(BIN / "mypy"), *sources)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_kept():
    result = run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.timeout(120)
def test_sample_config_is_current(tmp_path):
    fresh = tmp_path / "nubis.conf.sample"
    result = run(
        str(BIN / "oslo-config-generator"),
        "--config-file",
        "etc/nubis/nubis-config-generator.conf",
        "--output-file",
        str(fresh),
    )
    assert result.returncode == 0, result.stderr
    committed = ROOT / "etc/nubis/nubis.conf.sample"
    assert committed.exists(), "run `make sample-config` and commit etc/nubis/nubis.conf.sample"
    assert fresh.read_text() == committed.read_text(), (
        "etc/nubis/nubis.conf.sample is stale: run `make sample-config` and commit it"
    )
