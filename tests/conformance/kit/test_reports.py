"""The JSON report's schema, the support matrix and the command line."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import cli, matrix, report
from tests.conformance.kit import plugins as cf


@pytest.fixture
def installed(plugin_dist: Callable[..., Path], pytester: pytest.Pytester) -> None:
    plugin_dist(cf.MODULES, cf.ENTRY_POINTS)
    pytester.makeconftest(cf.CONFTEST)


@pytest.fixture
def reports(installed: None, pytester: pytest.Pytester) -> Path:
    """Per-plugin reports of a full run: a waived plugin and one declaring less."""
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cfwaiving",
        "--nubis-conformance=nubis.virt:cfnoevents",
        "--nubis-report-dir=reports",
    )
    assert result.ret == 0, result.stdout.str()
    return pytester.path / "reports"


def test_reports_validate_and_a_bad_one_is_refused(reports: Path) -> None:
    paths = sorted(reports.glob("*.json"))
    assert [p.name for p in paths] == ["nubis.virt--cfnoevents.json", "nubis.virt--cfwaiving.json"]
    doc: dict[str, Any] = report.load(paths[0])
    (entry,) = doc["plugins"]
    assert doc["kit_version"] == report.kit_version() and doc["format"] == report.FORMAT
    assert (entry["distribution"], entry["version"]) == ("cf-test", "0.1.0")
    assert entry["entry_point"] == "cf_virt:NoEventsDriver"
    assert entry["capabilities"]["declared"]["supports_lifecycle_events"] is False
    broken = copy.deepcopy(doc)
    broken["plugins"][0]["targets"][0]["verdicts"]["core"] = "fine"
    with pytest.raises(ValueError, match=r"at plugins/0/targets/0/verdicts/core: 'fine' is not"):
        report.validate(broken)
    bad = reports / "bad.json"
    bad.write_text(json.dumps({**doc, "kit_version": ""}))
    with pytest.raises(ValueError, match=r"bad.json: .* at kit_version"):
        report.load(bad)


def test_support_matrix_from_reports_and_its_staleness_check(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(p) for p in sorted(reports.glob("*.json"))]
    out = tmp_path / "matrix.md"
    assert cli.main(["matrix", *paths, "-o", str(out)]) == 0
    text = out.read_text()
    assert text == matrix.render_files(Path(p) for p in paths)
    assert "## `nubis.virt`" in text
    noevents = next(line for line in text.splitlines() if line.startswith("| `cfnoevents`"))
    cells = [c.strip() for c in noevents.strip("|").split("|")]
    head = next(line for line in text.splitlines() if line.startswith("| plugin |"))
    columns = [c.strip() for c in head.strip("|").split("|")]
    row = dict(zip(columns, cells, strict=True))
    assert row["supports_lifecycle_events"] == "— not declared"
    assert row["core"] == "✅ passed" and row["contract"] == "✅"
    assert (
        "* `cfwaiving` waives `nubis.virt::test_host_ip_is_an_address`: reports its host name"
        in text
    )
    assert cli.main(["matrix", *paths, "--check", str(out)]) == 0
    out.write_text(text.replace("passed", "failed", 1))
    assert cli.main(["matrix", *paths, "--check", str(out)]) == 1
    assert "is stale; regenerate it with" in capsys.readouterr().err
    assert cli.main(["matrix", paths[0], paths[0], "-o", str(out)]) == 2
    assert "appears in more than one report" in capsys.readouterr().err


def test_command_line_runs_one_plugin_and_exits_by_the_verdict(
    installed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    json_path, xml_path = tmp_path / "r.json", tmp_path / "r.xml"
    code = cli.main(
        [
            "--namespace",
            "nubis.virt",
            "--plugin",
            "cfnoevents",
            "--json-report",
            str(json_path),
            "--junit-xml",
            str(xml_path),
            "--",
            "-k",
            "contract or host_ip",
        ]
    )
    # -k ran part of the suite: verdict incomplete, which fails the run...
    assert code == 1
    doc = report.load(json_path)
    assert [p["plugin"] for p in doc["plugins"]] == ["cfnoevents"]
    assert doc["verdict"] == "incomplete"
    assert "nubis_test_id" in xml_path.read_text()
    out = capsys.readouterr().out
    assert "INCOMPLETE core: " in out and "did not run in this session" in out
    # ... unless a partial run is what was asked for.
    args = ["--namespace", "nubis.virt", "--plugin", "cfnoevents", "--allow-incomplete"]
    assert cli.main([*args, "--", "-k", "contract or host_ip"]) == 0
    assert "verdict: incomplete (accepted: --allow-incomplete)" in capsys.readouterr().out
    lazy = ["--namespace", "nubis.virt", "--plugin", "cflazy", "--allow-incomplete"]
    assert cli.main([*lazy, "--", "-k", "guest_lifecycle"]) == 1  # a failure stays one
    capsys.readouterr()


def test_command_line_refuses_bad_arguments_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--namespace", "nubis.virt", "--plugin", "xen"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nubis-conformance: no plugin 'xen' in nubis.virt (chosen by --plugin)")
    assert "available:" in err and "fake" in err and len(err.splitlines()) == 1
    assert cli.main(["--plugin", "fake"]) == 2
    assert "--plugin needs --namespace" in capsys.readouterr().err
    assert (
        cli.main(
            ["--namespace", "nubis.virt", "--plugin", "fake", "--config-file", "/nonexistent.conf"]
        )
        == 2
    )
    assert "--config-file /nonexistent.conf: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["--namespace", "nubis.xen"])
    assert info.value.code == 2


def test_config_file_values_reach_the_plugin_and_bad_ones_are_named(
    installed: None, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    from oslo_config import cfg

    from nubis.core.conformance import targets

    good = tmp_path / "good.conf"
    good.write_text("[fake_driver]\nnodes = n1,n2\n[libvirt]\nvirt_type = kvm\n")
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[])
    conf.register_opts([cfg.ListOpt("nodes", default=[])], group="fake_driver")
    targets.apply(conf, targets.read_config_file(str(good)), skip_unknown_groups=True)
    assert conf.fake_driver.nodes == ["n1", "n2"]  # converted to the option's type
    with pytest.raises(ValueError, match=r"option \[libvirt\] virt_type is not registered"):
        targets.apply(conf, targets.read_config_file(str(good)))
    with pytest.raises(ValueError, match=r"cannot read config file .*missing.conf"):
        targets.read_config_file(str(tmp_path / "missing.conf"))

    bad = pytester.path / "bad.conf"
    bad.write_text("[DEFAULT]\nno_such_option = 1\n")
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cfnoevents",
        f"--nubis-config-file={bad}",
        "-k",
        "host_ip",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "cfnoevents: option [[]DEFAULT] no_such_option is not registered; publish it under the "
            "oslo.config.opts entry point nubis.virt.cfnoevents*"
        ]
    )
