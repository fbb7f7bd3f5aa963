"""Finding the deprecated options a configuration file sets, as oslo.config matches them.

The options are the real ones of the installed namespaces; the files are written by
each test and parsed into a ConfigOpts of its own, as a nubis binary parses them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oslo_config import cfg

from nubis.core.conf import deprecations

ROOT = Path(__file__).resolve().parents[4]


def parsed(*args: str) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf(list(args), project="nubis-deprecations-test", default_config_files=[])
    return conf


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_the_namespaces_include_the_sample_configurations() -> None:
    # The generator's file repeats "namespace =", which configparser would not keep.
    lines = (ROOT / "etc/nubis/nubis-config-generator.conf").read_text().splitlines()
    wanted = {line.split("=", 1)[1].strip() for line in lines if line.startswith("namespace")}
    assert "oslo.messaging" in wanted
    assert wanted <= set(deprecations.namespaces())


def test_renamed_and_removed_options_are_found_with_their_file(tmp_path: Path) -> None:
    conf_file = write(
        tmp_path / "nubis.conf",
        "[DEFAULT]\n"
        "rpc_thread_pool_size = 8\n"  # renamed to executor_thread_pool_size
        "executor_thread_pool_size = 8\n"  # the current name: fine
        "debug = true\n"
        "[OSLO_MESSAGING_RABBIT]\n"  # group names match case-insensitively
        "direct_mandatory_flag = true\n"  # deprecated for removal
        "kombu_reconnect_timeout = 30\n",  # renamed to kombu_missing_consumer_retry_timeout
    )
    report = deprecations.find(parsed("--config-file", conf_file))
    assert report.problems == ()
    assert report.files == (conf_file,)
    assert [str(f) for f in report.findings] == [
        f"[DEFAULT] rpc_thread_pool_size in {conf_file} is a deprecated name of "
        "[DEFAULT] executor_thread_pool_size",
        f"[oslo_messaging_rabbit] direct_mandatory_flag in {conf_file} is deprecated for "
        "removal (Mandatory flag no longer deactivable.)",
        f"[oslo_messaging_rabbit] kombu_reconnect_timeout in {conf_file} is a deprecated "
        "name of [oslo_messaging_rabbit] kombu_missing_consumer_retry_timeout",
    ]


def test_a_clean_file_has_no_findings(tmp_path: Path) -> None:
    conf_file = write(
        tmp_path / "nubis.conf",
        "[DEFAULT]\ndebug = true\n[upgrade_levels]\ncompute = auto\n[libvirt]\nuri = test:///\n",
    )
    report = deprecations.find(parsed("--config-file", conf_file))
    assert (report.findings, report.problems) == ((), ())


def test_every_config_file_and_the_config_dir_are_read(tmp_path: Path) -> None:
    first = write(tmp_path / "a.conf", "[DEFAULT]\nrpc_thread_pool_size = 8\n")
    second = write(tmp_path / "b.conf", "[DEFAULT]\n")
    directory = tmp_path / "nubis.conf.d"
    directory.mkdir()
    in_dir = write(
        directory / "50-rabbit.conf", "[oslo_messaging_rabbit]\ndirect_mandatory_flag = false\n"
    )
    write(directory / "ignored.txt", "[DEFAULT]\nrpc_thread_pool_size = 8\n")
    conf = parsed("--config-file", first, "--config-file", second, "--config-dir", str(directory))
    report = deprecations.find(conf)
    assert report.files == (first, second, in_dir)
    assert sorted(f.path for f in report.findings) == [first, in_dir]


def test_a_namespace_that_cannot_list_its_options_is_a_problem_not_a_crash() -> None:
    opts, problems = deprecations.documented_options(["oslo.messaging", "no.such.namespace"])
    assert problems == ["no oslo.config.opts entry point 'no.such.namespace' is installed"]
    assert ("oslo_messaging_rabbit", "direct_mandatory_flag") in {(g, o.dest) for g, o in opts}
    assert "DEFAULT" in {g for g, _ in opts}


def test_a_file_that_changed_since_it_was_parsed_is_a_problem(tmp_path: Path) -> None:
    conf_file = tmp_path / "nubis.conf"
    conf = parsed("--config-file", write(conf_file, "[DEFAULT]\n"))
    conf_file.write_text("key = value without a section\n")
    report = deprecations.find(conf, [])
    (problem,) = report.problems
    assert problem.startswith(f"cannot parse {conf_file}: ")
    assert "Section must be started before assignment" in problem


OLD_GROUP = cfg.StrOpt(
    "shiny",
    deprecated_opts=[
        cfg.DeprecatedOpt("rusty", group="Legacy"),  # renamed and moved
        cfg.DeprecatedOpt(None, group="older"),  # moved, same name
        cfg.DeprecatedOpt("dusty"),  # renamed, same group
    ],
)
DOOMED = cfg.BoolOpt(
    "doomed",
    deprecated_for_removal=True,
    deprecated_reason="nothing\n   reads it",
    deprecated_name="doomed_old",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[legacy]\nrusty = 1\n", ["[legacy] rusty in F is a deprecated name of [new] shiny"]),
        ("[LEGACY]\nrusty = 1\n", ["[legacy] rusty in F is a deprecated name of [new] shiny"]),
        ("[older]\nshiny = 1\n", ["[older] shiny in F is a deprecated name of [new] shiny"]),
        ("[new]\ndusty = 1\n", ["[new] dusty in F is a deprecated name of [new] shiny"]),
        ("[new]\nshiny = 1\n[legacy]\nshiny = 1\n", []),
        ("[new]\ndoomed = 1\n", ["[new] doomed in F is deprecated for removal (nothing reads it)"]),
        (
            "[new]\ndoomed_old = 1\n",
            [
                "[new] doomed_old in F is a deprecated name of [new] doomed",
                "[new] doomed_old in F is deprecated for removal (nothing reads it)",
            ],
        ),
    ],
)
def test_matching_follows_oslo_config(tmp_path: Path, text: str, expected: list[str]) -> None:
    conf_file = write(tmp_path / "nubis.conf", text)
    report = deprecations.find(
        parsed("--config-file", conf_file), [("new", OLD_GROUP), ("new", DOOMED)]
    )
    assert [str(f).replace(conf_file, "F") for f in report.findings] == expected
